"""Opt-outs: a phone number (as its keyed hash) that asked not to be texted, and the way back.

A citizen opts out by replying STOP (or HUY, reply mode), through the provider's own unsubscribe
(error 21610), or from the page of a rating link (`/r/<token>/stop`, the only way in link mode,
where replies cannot reach us); START (or DK / BAT DAU) revokes it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from ..extensions import db
from ..models import OptOut


def set_opt_out(phone_hash: str, is_out: bool, source: str, now: datetime) -> None:
    """Record an opt-out (``source``: the keyword, provider error or page that caused it), or
    revoke it; flush, the caller commits."""
    optout = db.session.scalar(select(OptOut).where(OptOut.phone_hash == phone_hash))
    if is_out and optout is None:
        db.session.add(OptOut(phone_hash=phone_hash, source=source, created_at=now))
    elif is_out and optout.revoked_at is not None:
        optout.revoked_at, optout.source, optout.created_at = None, source, now
    elif not is_out and optout is not None and optout.revoked_at is None:
        optout.revoked_at = now
    db.session.flush()
