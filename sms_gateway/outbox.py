"""The invitations table as an outbox: claim due rows, record what the provider said, reconcile
sends whose outcome is unknown. Each function is one short transaction and commits itself, because
the worker must hold no transaction while it talks to the provider."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, case, func, select, update

from survey_app.extensions import db
from survey_app.models import (
    Dossier,
    Invitation,
    InvitationStatus,
    Office,
    OptOut,
    SmsMode,
    UTCDateTime,
    utcnow,
)
from survey_app.protection import decrypt_phone
from survey_app.services.dossiers import quiet_hours_end
from survey_app.services.opt_outs import set_opt_out
from survey_app.services.rating_links import SMS, rating_url

from .providers import Outcome, OutgoingSms, SendResult, without_phone_numbers
from .texts import invitation_text

log = logging.getLogger(__name__)
S = InvitationStatus


@dataclass(frozen=True)
class Claimed:
    """A claimed invitation with everything needed to send it, copied out of the session."""

    sms: OutgoingSms
    attempts: int
    claimed_at: datetime


def backoff_seconds(attempts: int, rng=random.random) -> float:
    """Exponential backoff with jitter: between half and all of base * 2^(attempts-1), capped."""
    config = current_app.config
    delay = min(
        config["SMS_RETRY_MAX_SECONDS"],
        config["SMS_RETRY_BASE_SECONDS"] * 2 ** max(0, attempts - 1),
    )
    return delay / 2 + rng() * delay / 2


def _details(ids: list[int]):
    return db.session.execute(
        select(
            Invitation.id,
            Invitation.attempts,
            Invitation.language,
            Invitation.phone_hash,
            Invitation.claimed_at,
            Invitation.mode,
            Invitation.dossier_id,
            Dossier.code,
            Dossier.phone_encrypted,
            Office.name,
        )
        .join(Dossier, Dossier.id == Invitation.dossier_id)
        .join(Office, Office.id == Invitation.office_id)
        .where(Invitation.id.in_(ids))
    ).all()


def _outgoing(row, key: str, base_url: str) -> OutgoingSms:
    """The text of a claimed invitation, in the mode recorded on it: a reconciliation rebuilds
    exactly the body that was sent, even if SMS_MODE changed since."""
    link = rating_url(row.dossier_id, SMS) if row.mode == SmsMode.LINK else None
    return OutgoingSms(
        invitation_id=row.id,
        to=decrypt_phone(row.phone_encrypted, key),
        body=invitation_text(row.name, row.code, row.language, link),
        status_callback=f"{base_url}/sms/status?i={row.id}",
    )


def claim_batch(limit: int, now: datetime | None = None, tally=None) -> list[Claimed]:
    """Move up to `limit` due invitations from queued to sending and commit (SKIP LOCKED on
    PostgreSQL; on SQLite the guarded UPDATE is atomic because writes are serialised).
    `tally` (a Counter) counts those skipped because the number opted out meanwhile."""
    now = now or utcnow()
    due = (
        select(Invitation.id)
        .where(Invitation.status == S.QUEUED, Invitation.next_attempt_at <= now)
        .order_by(Invitation.next_attempt_at)
        .limit(limit)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    # Materialized: the rows are picked once. As a plain IN (subquery) PostgreSQL may run the
    # subquery again for each row it updates, and SKIP LOCKED then passes over the rows this
    # statement has just claimed and returns the next ones: a batch took more than its limit.
    due = due.cte("due").prefix_with("MATERIALIZED", dialect="postgresql")
    ids = db.session.scalars(
        update(Invitation)
        .where(Invitation.id.in_(select(due.c.id)), Invitation.status == S.QUEUED)
        .values(
            status=S.SENDING,
            claimed_at=now,
            attempts=Invitation.attempts + 1,
            mode=SmsMode(current_app.config["SMS_MODE"]),
        )
        .returning(Invitation.id),
        execution_options={"synchronize_session": False},
    ).all()
    if not ids:
        db.session.commit()
        return []
    rows = _details(ids)
    stopped = set(
        db.session.scalars(
            select(OptOut.phone_hash).where(
                OptOut.phone_hash.in_({r.phone_hash for r in rows}), OptOut.revoked_at.is_(None)
            )
        )
    )
    key, base = current_app.config["PHONE_ENCRYPTION_KEY"], current_app.config["PUBLIC_BASE_URL"]
    claimed, skipped = [], []
    for row in rows:
        if row.phone_hash in stopped:  # opted out after it was queued
            skipped.append(row.id)
            continue
        claimed.append(Claimed(_outgoing(row, key, base), row.attempts, row.claimed_at))
    if skipped:
        if tally is not None:
            tally["opted_out"] += len(skipped)
        db.session.execute(
            update(Invitation)
            .where(Invitation.id.in_(skipped))
            .values(status=S.OPTED_OUT, error_code="opted_out")
        )
    db.session.commit()
    return claimed


def _record_sent(items: list[tuple[int, str]], now: datetime) -> None:
    if not items:
        return
    table = Invitation.__table__
    # One statement executed for the whole batch (executemany); a receipt that came first
    # (delivered) keeps its status.
    statement = (
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(
            status=case((table.c.status == S.SENDING.value, S.SENT.value), else_=table.c.status),
            provider_message_id=bindparam("b_sid"),
            error_code=None,
            error_message=None,
            sent_at=func.coalesce(table.c.sent_at, bindparam("b_now", type_=UTCDateTime())),
        )
    )
    db.session.execute(
        statement,
        [
            {"b_id": invitation_id, "b_sid": message_id, "b_now": now}
            for invitation_id, message_id in items
        ],
    )


def record_results(results: list[tuple[Claimed, SendResult]], now: datetime | None = None):
    """Store what the provider said about each claimed send, in one transaction; commit."""
    now = now or utcnow()
    max_attempts = current_app.config["SMS_MAX_ATTEMPTS"]
    sent = [(c.sms.invitation_id, r.message_id) for c, r in results if r.outcome == Outcome.SENT]
    _record_sent(sent, now)
    for claimed, result in results:
        if result.outcome == Outcome.SENT:
            continue
        guard = (
            Invitation.id == claimed.sms.invitation_id,
            Invitation.status == S.SENDING,
            Invitation.claimed_at == claimed.claimed_at,
        )
        # Provider texts quote the number ("The 'To' number +84… is not valid"): never stored.
        message = without_phone_numbers(result.error_message)
        values = {"error_code": (result.error_code or "")[:32] or None, "error_message": message}
        if result.outcome == Outcome.UNKNOWN:
            pass  # stays `sending`: reconciled against the provider when the lease expires
        elif result.outcome == Outcome.RETRY and claimed.attempts < max_attempts:
            retry_at = now + timedelta(seconds=backoff_seconds(claimed.attempts))
            values.update(status=S.QUEUED, next_attempt_at=quiet_hours_end(retry_at))
        elif result.is_opt_out:
            values.update(status=S.OPTED_OUT)
            phone_hash = db.session.scalar(select(Invitation.phone_hash).where(guard[0]))
            set_opt_out(phone_hash, True, f"provider_{result.error_code}", now)
        else:
            values.update(status=S.FAILED)
            if result.outcome == Outcome.RETRY:
                values["error_message"] = f"gave up after {claimed.attempts} attempts: " + (
                    message or ""
                )
        db.session.execute(
            update(Invitation).where(*guard).values(**values),
            execution_options={"synchronize_session": False},
        )
        log.warning(
            "invitation %s: %s %s", claimed.sms.invitation_id, result.outcome, result.error_code
        )
    db.session.commit()


def stale_sends(now: datetime | None = None, limit: int = 50) -> list[Claimed]:
    """Invitations left in `sending` past the lease (a worker died, or the outcome was unknown),
    copied out for reconciliation; commits (ends the read transaction)."""
    now = now or utcnow()
    lease = timedelta(seconds=current_app.config["SMS_SEND_LEASE_SECONDS"])
    ids = db.session.scalars(
        select(Invitation.id)
        .where(Invitation.status == S.SENDING, Invitation.claimed_at < now - lease)
        .order_by(Invitation.claimed_at)
        .limit(limit)
    ).all()
    key, base = current_app.config["PHONE_ENCRYPTION_KEY"], current_app.config["PUBLIC_BASE_URL"]
    stale = (
        [
            Claimed(_outgoing(row, key, base), row.attempts, row.claimed_at)
            for row in _details(list(ids))
        ]
        if ids
        else []
    )
    db.session.commit()
    return stale


def reconcile(provider, stale: list[Claimed], now: datetime | None = None) -> dict[str, int]:
    """Ask the provider whether each stale send went out: record it as sent, or requeue it."""
    from .providers import ProviderUnavailable

    found = {"sent": 0, "requeued": 0, "unreachable": 0}
    results = []
    for claimed in stale:  # no transaction is open here: stale_sends committed
        try:
            message_id = provider.find_sent(claimed.sms.to, claimed.sms.body, claimed.claimed_at)
        except ProviderUnavailable:
            found["unreachable"] += 1
            continue
        if message_id:
            results.append((claimed, SendResult(Outcome.SENT, message_id=message_id)))
            found["sent"] += 1
        else:
            results.append(
                (
                    claimed,
                    SendResult(
                        Outcome.RETRY,
                        error_code="not_sent",
                        error_message="not found at the provider",
                    ),
                )
            )
            found["requeued"] += 1
    if results:
        record_results(results, now)
    return found
