"""Dossier events from the one-stop software (API or CSV import) and the SMS invitation decision.

Both entry points call `upsert_dossier` once per dossier; it is idempotent on (office, code): a
repeat changes nothing, and the invitation decision is taken once, when the returned time first
arrives. The invitation row is the outbox: it is written in the caller's transaction and only the
SMS worker talks to the provider.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import exists, select, text
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import (
    Dossier,
    Invitation,
    InvitationStatus,
    Office,
    OptOut,
    PhoneStatus,
    Response,
    Service,
    utcnow,
)
from ..protection import protect_phone

DATE_FIELDS = ("received_at", "due_at", "returned_at")

#: The sampling draw; a test may replace it with a deterministic one.
draw = random.random


@dataclass
class DossierOutcome:
    """What one dossier event did: created, updated or unchanged, and the invitation decision."""

    status: str
    dossier: Dossier
    invitation: str | None = None  # "queued" or why not, when the decision was taken now
    warnings: list[str] = field(default_factory=list)


#: Decisions that follow from the dossier alone. The others (opted_out, recently_invited,
#: not_sampled, queued) depend on the number's other dossiers, its opt-out or the draw: an answer
#: says "eligible" for all of them, so no caller learns whether a number opted out or was invited.
OWN_REASONS = frozenset(
    {
        "already_invited",
        "no_mobile_phone",
        "no_contact_consent",
        "returned_too_long_ago",
        "already_rated",
    }
)


def public_decision(decision: str | None) -> str | None:
    """What the API may say of an invitation decision: a reason about this dossier, or eligible."""
    if decision is None or decision in OWN_REASONS:
        return decision
    return "eligible"


def find_office(code: str) -> Office | None:
    """The active office with this code, or None."""
    return db.session.scalar(select(Office).where(Office.code == code, Office.is_active))


def _locked_dossier(office: Office, code: str) -> Dossier | None:
    # FOR UPDATE on PostgreSQL: two events for one dossier are applied one after the other.
    return db.session.scalar(
        select(Dossier)
        .where(Dossier.office_id == office.id, Dossier.code == code)
        .with_for_update()
    )


def _apply(dossier: Dossier, data: dict, warnings: list[str]) -> bool:
    """Copy the fields present (not None) in data onto the dossier; whether anything changed."""
    changed = False
    service_code = data.get("service_code")
    if service_code is not None and service_code != dossier.service_code:
        service = db.session.scalar(select(Service).where(Service.code == service_code))
        dossier.service_code, dossier.service = service_code, service
        changed = True
    if dossier.service_code and dossier.service_id is None and dossier.service is None:
        warnings.append(f"unknown service_code {dossier.service_code!r}: kept, not linked")
    if data.get("phone") is not None:
        protected = protect_phone(data["phone"])
        if (protected["phone_hash"], protected["phone_status"]) != (
            dossier.phone_hash,
            dossier.phone_status,
        ):
            for name, value in protected.items():
                setattr(dossier, name, value)
            changed = True
    if dossier.phone_status != PhoneStatus.MOBILE:
        warnings.append(f"phone is {dossier.phone_status}: never invited")
    consent = data.get("contact_consent")
    if consent is not None and consent != dossier.contact_consent:
        dossier.contact_consent = consent
        changed = True
    for name in DATE_FIELDS:
        value = data.get(name)
        if value is not None and value != getattr(dossier, name):
            setattr(dossier, name, value)
            changed = True
    return changed


DOSSIER_WRITES_LOCK = 0x6D73636F7265  # "mscore": the advisory lock of dossier transactions


def _serialize_dossier_writes() -> None:
    """On PostgreSQL, one transaction at a time applies dossier events (lock held to its end).

    Two dossiers of one phone number returned at the same instant could otherwise both pass
    the re-invite check and text the citizen twice. One lock, taken before any row lock, can
    neither deadlock nor fill the lock table the way a lock per phone would in a large import;
    dossier events are machine-to-machine, so waiting for a running batch is acceptable.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": DOSSIER_WRITES_LOCK})


def upsert_dossier(office: Office, data: dict, now: datetime | None = None) -> DossierOutcome:
    """Create or update the office's dossier data['code']; flush, the caller commits."""
    now = now or utcnow()
    warnings: list[str] = []
    _serialize_dossier_writes()
    dossier = _locked_dossier(office, data["code"])
    created = dossier is None
    if created:
        dossier = Dossier(office=office, code=data["code"], phone_status=PhoneStatus.MISSING)
        _apply(dossier, data, warnings)
        try:
            with db.session.begin_nested():
                db.session.add(dossier)
        except IntegrityError:  # created by a concurrent request since we looked
            dossier, created, warnings = _locked_dossier(office, data["code"]), False, []
    was_returned = False if created else dossier.returned_at is not None
    changed = created or _apply(dossier, data, warnings)
    outcome = DossierOutcome(
        "created" if created else "updated" if changed else "unchanged", dossier, warnings=warnings
    )
    db.session.flush()
    if dossier.returned_at is not None and not was_returned:
        outcome.invitation = decide_invitation(dossier, data.get("language"), now)
    elif data.get("contact_consent") is False:
        withdraw_invitation(dossier)
    return outcome


def withdraw_invitation(dossier: Dossier) -> None:
    """Consent withdrawn before the text left: the queued invitation is stopped (never sent)."""
    invitation = dossier.invitation
    if invitation is not None and invitation.status == InvitationStatus.QUEUED:
        invitation.move_to(InvitationStatus.FAILED)
        invitation.error_code = "no_contact_consent"
        db.session.flush()


def quiet_hours_end(moment: datetime) -> datetime:
    """The moment itself, or the end of the quiet hours (local time) it falls in, in UTC."""
    config = current_app.config
    start, end = config["SMS_QUIET_START"], config["SMS_QUIET_END"]
    local = moment.astimezone(ZoneInfo(config["TIMEZONE"]))
    if start == end:
        return moment
    wraps = start > end  # 21:00-07:00 crosses midnight
    quiet = (local.hour >= start or local.hour < end) if wraps else start <= local.hour < end
    if not quiet:
        return moment
    morning = local.replace(hour=end, minute=0, second=0, microsecond=0)
    if wraps and local.hour >= start:
        morning = (local + timedelta(days=1)).replace(hour=end, minute=0, second=0, microsecond=0)
    return morning.astimezone(moment.tzinfo)


def is_opted_out(phone_hash: str) -> bool:
    """Whether the number asked not to be texted (and has not opted back in)."""
    return bool(
        db.session.scalar(
            select(exists().where(OptOut.phone_hash == phone_hash, OptOut.revoked_at.is_(None)))
        )
    )


def decide_invitation(dossier: Dossier, language: str | None, now: datetime) -> str:
    """Queue an invitation for a returned dossier, or say why not; flush, the caller commits."""
    config = current_app.config
    if dossier.invitation is not None:
        return "already_invited"
    if dossier.phone_status != PhoneStatus.MOBILE or not dossier.phone_hash:
        return "no_mobile_phone"
    if not dossier.contact_consent:
        return "no_contact_consent"
    if dossier.returned_at < now - timedelta(days=config["SMS_INVITE_MAX_AGE_DAYS"]):
        return "returned_too_long_ago"
    if db.session.scalar(select(exists().where(Response.dossier_id == dossier.id))):
        return "already_rated"
    if is_opted_out(dossier.phone_hash):
        return "opted_out"
    since = now - timedelta(days=config["SMS_REINVITE_DAYS"])
    if db.session.scalar(
        select(
            exists().where(
                Invitation.phone_hash == dossier.phone_hash, Invitation.created_at >= since
            )
        )
    ):
        return "recently_invited"
    probability = dossier.office.sms_sampling_rate or 1.0
    if draw() >= probability:
        return "not_sampled"
    invitation = Invitation(
        dossier=dossier,
        office_id=dossier.office_id,
        phone_hash=dossier.phone_hash,
        sampling_probability=probability,
        status=InvitationStatus.QUEUED,
        language=language or config["SMS_LANGUAGE"],
        attempts=0,
        next_attempt_at=quiet_hours_end(now),
        created_at=now,
    )
    db.session.add(invitation)
    db.session.flush()
    return "queued"
