"""Which rollup days are stale: changes to past responses, answers, dossiers and invitations
delete the completeness marks (`rollup_days`) of their local days, and of those days' months and
years, in the same transaction, so the next report or `flask mscore update-rollup` rolls them
again (survey_app/reporting/rollup.py)."""

from __future__ import annotations

from datetime import date, datetime

from flask import current_app, has_app_context
from sqlalchemy import delete, event, or_, select
from sqlalchemy.orm import Session

from ..extensions import db
from ..models import Answer, Dossier, Invitation, Response
from ..models.rollups import DAY, MONTH, YEAR, RollupDay
from .once import forget
from .periods import local_today, zone


def _stale(session, days) -> None:
    """Delete the completeness marks of these days and of their months and years."""
    days = sorted({d for d in days if d is not None})
    if not days:
        return
    months = sorted({date(d.year, d.month, 1) for d in days})
    years = sorted({date(d.year, 1, 1) for d in days})
    forget()  # buckets a page found built (once.py) are not any more
    session.execute(
        delete(RollupDay).where(
            or_(
                (RollupDay.grain == DAY) & RollupDay.day.in_(days),
                (RollupDay.grain == MONTH) & RollupDay.day.in_(months),
                (RollupDay.grain == YEAR) & RollupDay.day.in_(years),
            )
        )
    )


def mark_stale(days) -> None:
    """Mark past days stale in the current transaction (their rollup is redone when next read)."""
    today = local_today()
    _stale(db.session, [d for d in days if d is not None and d < today])


def _day_of(moment: datetime | None) -> date | None:
    return moment.astimezone(zone()).date() if moment is not None else None


def _touched_days(session: Session) -> set[date]:
    """Local days whose counts the pending ORM changes may alter."""
    days, response_ids = set(), set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Response):
            days.add(_day_of(obj.submitted_at))
            days.update(_day_of(v) for v in db.inspect(obj).attrs.submitted_at.history.deleted)
        elif isinstance(obj, Dossier):
            days.add(_day_of(obj.returned_at))
            days.update(_day_of(v) for v in db.inspect(obj).attrs.returned_at.history.deleted)
        elif isinstance(obj, Invitation) and db.inspect(obj).attrs.status.history.has_changes():
            days.add(_day_of(obj.sent_at))  # answered or not: its sent day's rates per mode
        elif isinstance(obj, Answer):
            loaded = obj.__dict__.get("response")
            if loaded is not None:
                days.add(_day_of(loaded.submitted_at))
            elif obj.response_id is not None:
                response_ids.add(obj.response_id)
    if response_ids:  # an SMS conversation adds answers to yesterday's response
        days.update(
            _day_of(t)
            for t in session.scalars(
                select(Response.submitted_at).where(Response.id.in_(response_ids))
            )
        )
    return {d for d in days if d is not None}


def _after_flush(session: Session, _context) -> None:
    if not has_app_context() or "sqlalchemy" not in current_app.extensions:
        return
    _stale(session, [d for d in _touched_days(session) if d < local_today()])


def mark_stale_on_flush() -> None:
    """Listen to ORM flushes so changes to past days invalidate their rollup (idempotent)."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
