"""Rating tablets (kiosks) enrolled at an office's counter; their responses have channel kiosk."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, utcnow


class KioskStatus(enum.StrEnum):
    """Where a kiosk is in its life (derived from its timestamps, never stored)::

    pending --(the tablet pairs: code or signed URL)--> active
    active --(a new pairing code is used: the tablet is replaced)--> active
    pending | active --(revoke)--> revoked
    """

    PENDING = "pending"
    ACTIVE = "active"
    REVOKED = "revoked"


class Kiosk(db.Model):
    """A tablet at a counter (or at the office's door when ``counter_id`` is empty).

    The tablet holds a long-lived credential (a cookie) of which only the SHA-256 is kept; an
    official gives it a short pairing code (or the signed URL carrying it), valid until
    ``pairing_expires_at`` and used once, of which only a keyed hash is kept.
    """

    __tablename__ = "kiosks"

    id: Mapped[int] = mapped_column(primary_key=True)
    # the public name of a kiosk in URLs and on the command line (random, never the id)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    counter_id: Mapped[int | None] = mapped_column(ForeignKey("counters.id"))
    credential_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    pairing_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    pairing_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(255))  # an audit actor: user:<id>, cli:<name>
    paired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    office = relationship("Office")
    counter = relationship("Counter")

    @property
    def status(self) -> KioskStatus:
        """Pending until a tablet pairs, then active, until revoked."""
        if self.revoked_at is not None:
            return KioskStatus.REVOKED
        return KioskStatus.ACTIVE if self.credential_hash else KioskStatus.PENDING

    def __repr__(self) -> str:
        return f"<Kiosk {self.code} of office {self.office_id}>"
