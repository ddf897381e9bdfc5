"""Personal data kept no longer than needed: the retention purge and subject requests (Law on
Personal Data Protection No. 91/2025/QH15, Decree 356/2025/ND-CP; docs/operations.md).

What is personal here is the citizen's phone number, held as a Fernet ciphertext (to send) and
a keyed hash (to look up, to honour opt-outs, to stop a second invitation), and what links to
it: invitations, SMS conversations and message records, and the keyed hash of the phone or
device kept on a response for duplicate checks. Both operations empty those columns (or delete
the SMS message records) with set-based statements in the caller's transaction and keep every
answer: the statistics of past periods do not change. Opt-outs stay (a keyed hash, no number):
they are what keeps an objection honoured.

Functions flush only; the CLI commits once (or rolls back for a dry run).
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field
from datetime import datetime

from sqlalchemy import and_, delete, func, or_, select, update

from ..extensions import db
from ..models import (
    Answer,
    Conversation,
    Dossier,
    Invitation,
    InvitationStatus,
    Office,
    OptOut,
    Question,
    Response,
    Service,
    SmsMessage,
)
from ..protection import decrypt_phone

#: Invitations still in flight when their contact data go: they can no longer be sent.
UNSENT = (InvitationStatus.QUEUED, InvitationStatus.SENDING)


@dataclass
class Removed:
    """What an operation removed, by kind (counts of rows changed)."""

    dossier_phones: int = 0
    invitation_contacts: int = 0
    invitations_stopped: int = 0
    conversation_phones: int = 0
    sms_messages: int = 0
    response_client_hashes: int = 0
    dossier_codes: int = 0
    kept: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """Plain counts, for the audit trail and the command's output."""
        return asdict(self)


def _count(statement) -> int:
    return db.session.execute(statement).rowcount or 0


def _scrub(dossier_ids, invitation_ids, removed: Removed, phone_hash: str | None = None):
    """Empty the contact columns of these dossiers' invitations and conversations."""
    removed.invitations_stopped += _count(
        update(Invitation)
        .where(Invitation.id.in_(invitation_ids), Invitation.status.in_(UNSENT))
        .values(status=InvitationStatus.FAILED, error_code="purged")
    )
    contact = or_(
        Invitation.phone_hash.is_not(None),
        Invitation.error_message.is_not(None),
        Invitation.provider_message_id.is_not(None),
    )
    removed.invitation_contacts += _count(
        update(Invitation)
        .where(Invitation.id.in_(invitation_ids), contact)
        .values(phone_hash=None, error_message=None, provider_message_id=None)
    )
    conversations = Conversation.invitation_id.in_(invitation_ids)
    if phone_hash is not None:
        conversations = or_(conversations, Conversation.phone_hash == phone_hash)
    removed.conversation_phones += _count(
        update(Conversation)
        .where(conversations, Conversation.phone_hash.is_not(None))
        .values(phone_hash=None)
    )
    removed.dossier_phones += _count(
        update(Dossier)
        .where(
            Dossier.id.in_(dossier_ids),
            or_(
                Dossier.phone_encrypted.is_not(None),
                Dossier.phone_hash.is_not(None),
                Dossier.contact_consent.is_(True),
            ),
        )
        # the consent was to be contacted at that number: it goes with it
        .values(phone_encrypted=None, phone_hash=None, contact_consent=False)
    )


def purge(cutoff: datetime) -> Removed:
    """Remove the contact data of dossiers last dated before ``cutoff`` (returned, else
    received, else created), SMS message records and responses' client hashes older than it;
    idempotent (a second run removes nothing)."""
    removed = Removed()
    dated = func.coalesce(Dossier.returned_at, Dossier.received_at, Dossier.created_at)
    dossiers = select(Dossier.id).where(dated < cutoff).scalar_subquery()
    invitations = select(Invitation.id).where(Invitation.dossier_id.in_(dossiers))
    _scrub(dossiers, invitations.scalar_subquery(), removed)
    removed.sms_messages = _count(delete(SmsMessage).where(SmsMessage.received_at < cutoff))
    removed.response_client_hashes = _count(
        update(Response)
        .where(
            or_(Response.submitted_at < cutoff, Response.dossier_id.in_(dossiers)),
            Response.client_hash.is_not(None),
        )
        .values(client_hash=None)
    )
    removed.kept = {"opt_outs": db.session.scalar(select(func.count(OptOut.id))) or 0}
    db.session.flush()
    return removed


def _held(phone_hash: str):
    """Ids of the dossiers, invitations and responses held for one phone's keyed hash."""
    dossier_ids = list(
        db.session.scalars(select(Dossier.id).where(Dossier.phone_hash == phone_hash))
    )
    invitation_ids = list(
        db.session.scalars(
            select(Invitation.id).where(
                or_(Invitation.phone_hash == phone_hash, Invitation.dossier_id.in_(dossier_ids))
            )
        )
    )
    response_ids = list(
        db.session.scalars(
            select(Response.id).where(
                or_(Response.client_hash == phone_hash, Response.dossier_id.in_(dossier_ids))
            )
        )
    )
    return dossier_ids, invitation_ids, response_ids


def erase(phone_hash: str) -> Removed:
    """Erase what is held for one phone (by its keyed hash), keeping the anonymous answers: the
    number and its hash everywhere, the SMS message records, and the dossier codes that would
    let the answers be traced to the citizen (replaced by random ones)."""
    removed = Removed()
    dossier_ids, invitation_ids, _ = _held(phone_hash)
    _scrub(dossier_ids, invitation_ids, removed, phone_hash)
    removed.sms_messages = _count(delete(SmsMessage).where(SmsMessage.phone_hash == phone_hash))
    removed.response_client_hashes = _count(
        update(Response).where(Response.client_hash == phone_hash).values(client_hash=None)
    )
    for dossier in db.session.scalars(select(Dossier).where(Dossier.id.in_(dossier_ids))):
        dossier.code = "erased-" + secrets.token_hex(8)
        removed.dossier_codes += 1
    removed.kept = {
        "opt_outs": db.session.scalar(
            select(func.count(OptOut.id)).where(OptOut.phone_hash == phone_hash)
        )
        or 0
    }
    db.session.flush()
    return removed


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def export(phone_hash: str) -> dict:
    """Everything held for one phone (by its keyed hash), as a JSON-ready document; the
    stored numbers decrypted (for the person who asked, only in the file the operator asked for)."""
    dossier_ids, invitation_ids, response_ids = _held(phone_hash)
    dossiers = db.session.execute(
        select(Dossier, Office.code)
        .join(Office, Office.id == Dossier.office_id)
        .where(Dossier.id.in_(dossier_ids))
        .order_by(Dossier.id)
    ).all()
    invitations = db.session.scalars(
        select(Invitation).where(Invitation.id.in_(invitation_ids)).order_by(Invitation.id)
    ).all()
    conversations = db.session.scalars(
        select(Conversation)
        .where(
            or_(
                Conversation.phone_hash == phone_hash,
                Conversation.invitation_id.in_(invitation_ids),
            )
        )
        .order_by(Conversation.id)
    ).all()
    messages = db.session.scalars(
        select(SmsMessage).where(SmsMessage.phone_hash == phone_hash).order_by(SmsMessage.id)
    ).all()
    opt_outs = db.session.scalars(select(OptOut).where(OptOut.phone_hash == phone_hash)).all()
    return {
        "dossiers": [
            {
                "office_code": office,
                "code": d.code,
                "service_code": d.service_code,
                "phone": decrypt_phone(d.phone_encrypted) if d.phone_encrypted else None,
                "phone_status": str(d.phone_status),
                "contact_consent": d.contact_consent,
                "received_at": _iso(d.received_at),
                "due_at": _iso(d.due_at),
                "returned_at": _iso(d.returned_at),
                "created_at": _iso(d.created_at),
            }
            for d, office in dossiers
        ],
        "sms_invitations": [
            {
                "dossier_code": i.dossier.code,
                "status": str(i.status),
                "language": i.language,
                "attempts": i.attempts,
                "created_at": _iso(i.created_at),
                "sent_at": _iso(i.sent_at),
                "delivered_at": _iso(i.delivered_at),
                "error_code": i.error_code,
            }
            for i in invitations
        ],
        "sms_conversations": [
            {
                "status": str(c.status),
                "step": c.step,
                "language": c.language,
                "created_at": _iso(c.created_at),
                "expires_at": _iso(c.expires_at),
            }
            for c in conversations
        ],
        "sms_messages": [
            {"direction": m.direction, "received_at": _iso(m.received_at)} for m in messages
        ],
        "opt_outs": [
            {"source": o.source, "created_at": _iso(o.created_at), "revoked_at": _iso(o.revoked_at)}
            for o in opt_outs
        ],
        "responses": _responses(response_ids),
    }


def _responses(response_ids: list[int]) -> list[dict]:
    """The responses linked to the phone, with their answers by question code."""
    rows = db.session.execute(
        select(Response, Office.code, Service.code)
        .join(Office, Office.id == Response.office_id)
        .outerjoin(Service, Service.id == Response.service_id)
        .where(Response.id.in_(response_ids))
        .order_by(Response.id)
    ).all()
    answers: dict[int, dict] = {}
    for rid, code, value, text in db.session.execute(
        select(Answer.response_id, Question.code, Answer.value, Answer.text)
        .join(Question, Question.id == Answer.question_id)
        .where(and_(Answer.response_id.in_(response_ids)))
    ):
        answers.setdefault(rid, {})[code] = text if text is not None else value
    return [
        {
            "office_code": office,
            "service_code": service,
            "channel": str(r.channel),
            "submitted_at": _iso(r.submitted_at),
            "language": r.language,
            "answers": answers.get(r.id, {}),
        }
        for r, office, service in rows
    ]
