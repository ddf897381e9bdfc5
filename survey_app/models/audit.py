"""The audit trail: who did what to which record, when, with the record before and after."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, utcnow


class AuditEvent(db.Model):
    """One administrative action (purge, subject request, moderation, exclusion, …).

    ``actor`` names who acted (``cli:<os user>``, ``user:<id>``, ``token:<id>``); ``before`` and
    ``after`` hold the changed values or, for bulk actions, counts. Never a phone number, nor
    its keyed hash: the trail must not keep what an erasure removed.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str] = mapped_column(String(64))
    target_id: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)

    def __repr__(self) -> str:
        return f"<AuditEvent {self.action} {self.target_type} {self.target_id} by {self.actor}>"


def record(actor: str, action: str, target_type: str, target_id=None, before=None, after=None):
    """Add an audit event to the session (flushed with the change it records)."""
    event = AuditEvent(
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        before=before,
        after=after,
    )
    db.session.add(event)
    return event
