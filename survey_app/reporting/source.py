"""Where a report reads from: the read replica (``DATABASE_REPLICA_URL``) when the app has one.

The replica is Flask-SQLAlchemy's bind ``replica`` (``SQLALCHEMY_BINDS``, set by config.py); a
report reads through a plain SQLAlchemy session on its engine, one per app context, closed at
teardown. Writes never go there: ``db.session`` stays on the primary.

A replica cannot be written, so it cannot fill rollup days a report needs. A report reads the
replica when the replica holds every rollup bucket of the report's past days (a ``rollup_days``
row each); otherwise the primary fills the missing ones (:func:`ensure_rolled`) and that report
reads the primary. Keeping the rollup up to date on the primary with ``flask mscore
update-rollup`` (after midnight) is what keeps reports on the replica. A replica lags its primary
by its replication delay: a day marked stale on the primary is read from the replica's older
rows until the replica has replayed the rebuild.
"""

from __future__ import annotations

from flask import Flask, g
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..extensions import db
from ..models.rollups import RollupDay
from .periods import Period
from .rollup import buckets, ensure_rolled

REPLICA = "replica"  # the bind key (SQLALCHEMY_BINDS) of the read replica
_SESSION = "mscore_replica_session"  # flask.g attribute


def has_replica() -> bool:
    """Whether the app was configured with a read replica."""
    return REPLICA in db.engines


def replica_session() -> Session:
    """This app context's session on the replica, opened on first use."""
    session = g.get(_SESSION)
    if session is None:
        session = Session(bind=db.engines[REPLICA])
        setattr(g, _SESSION, session)
    return session


def close_replica_session(_exc=None) -> None:
    """Close this app context's replica session, if one was opened."""
    session = g.pop(_SESSION, None)
    if session is not None:
        session.close()


def init_app(app: Flask) -> None:
    """Close the replica session at the end of each app context."""
    app.teardown_appcontext(close_replica_session)


def _has_buckets(session: Session, wanted: list[tuple[int, object]]) -> bool:
    """Whether every (grain, first day) bucket is complete in this database."""
    days = [day for _, day in wanted]
    found = set(
        session.execute(
            select(RollupDay.grain, RollupDay.day).where(
                RollupDay.day >= min(days), RollupDay.day <= max(days)
            )
        ).all()
    )
    return all(tuple(bucket) in found for bucket in wanted)


def report_session(pasts: list[Period | None]) -> Session:
    """The session a report over these past parts of its periods reads from: the replica when
    it has all their rollup buckets, else the primary once it has filled what was missing."""
    wanted = sorted({b for past in pasts if past is not None for b in buckets(past)})
    if has_replica():
        session = replica_session()
        if not wanted or _has_buckets(session, wanted):
            return session
        session.rollback()  # end the replica's read transaction: it is not used further
    for past in pasts:
        ensure_rolled(past)
    return db.session
