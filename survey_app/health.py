"""Health for the load balancer and monitoring: /healthz (the process answers) and /readyz (it
can do its work: the database takes writes and its schema is at the migrations' head; Redis and
the SMS outbox are reported, but do not take the app out of service)."""

from __future__ import annotations

import os
from functools import cache

from flask import Blueprint, current_app, jsonify
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from .extensions import db, limiter

bp = Blueprint("health", __name__)
MIGRATIONS = os.path.join(os.path.dirname(__file__), "migrations")
#: One write the readiness check makes and rolls back: a database that refuses it (read-only,
#: a standby after fail-over, a full disk) cannot record a response either.
_PROBE_WRITE = text("UPDATE alembic_version SET version_num = version_num RETURNING version_num")


@cache
def migration_heads() -> frozenset[str]:
    """The head revisions of the migrations shipped with this code."""
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory(MIGRATIONS).get_heads())


@bp.get("/healthz")
def healthz():
    """Alive: the process answers (no dependency is asked)."""
    return {"status": "ok"}


def _database() -> tuple[dict, dict]:
    """Whether the database takes a write, and whether its schema is at the head."""
    try:
        with db.engine.connect() as conn:
            with conn.begin() as transaction:
                if conn.dialect.name == "postgresql":  # a migration holding the table: not ready
                    conn.exec_driver_sql("SET LOCAL lock_timeout = '2s'")
                    conn.exec_driver_sql("SET LOCAL statement_timeout = '5s'")
                versions = set(conn.execute(_PROBE_WRITE).scalars())
                transaction.rollback()
    except (DBAPIError, PoolTimeout) as error:
        sqlstate = getattr(getattr(error, "orig", None), "sqlstate", None) or ""
        reason = "read_only" if sqlstate == "25006" else "unavailable"
        return {"status": reason, "error": type(getattr(error, "orig", error)).__name__}, {
            "status": "unknown"
        }
    heads = migration_heads()
    migrations = {"status": "ok" if versions == heads else "behind", "database": sorted(versions)}
    if versions != heads:
        migrations["code"] = sorted(heads)
    return {"status": "ok"}, migrations


def _redis() -> dict:
    """The rate limit's storage: ok, or degraded (limits counted per process meanwhile)."""
    uri = current_app.config.get("RATELIMIT_STORAGE_URI", "memory://")
    if uri.startswith("memory://"):
        return {"status": "not_used"}
    try:
        reachable = limiter.storage.check()
    except Exception:  # noqa: BLE001  (any client error: it is not reachable)
        reachable = False
    return {"status": "ok" if reachable else "degraded"}


def _outbox() -> dict:
    """Invitations due and how late the oldest is: the SMS worker's backlog."""
    from .models import Invitation, InvitationStatus, utcnow

    now = utcnow()
    try:
        with db.engine.connect() as conn:
            due, oldest = conn.execute(
                select(func.count(), func.min(Invitation.next_attempt_at)).where(
                    Invitation.status == InvitationStatus.QUEUED,
                    Invitation.next_attempt_at <= now,
                )
            ).one()
    except (DBAPIError, PoolTimeout):
        return {"status": "unknown"}
    age = (now - oldest).total_seconds() if oldest is not None else 0.0
    late = age > current_app.config.get("READYZ_OUTBOX_LATE_SECONDS", 600)
    return {"status": "late" if late else "ok", "due": due, "oldest_due_seconds": round(age, 1)}


@bp.get("/readyz")
def readyz():
    """Ready (200) while the database takes writes at the current schema; 503 otherwise."""
    database, migrations = _database()
    checks = {"database": database, "migrations": migrations, "redis": _redis()}
    if database["status"] == "ok":
        checks["outbox"] = _outbox()
    ready = database["status"] == "ok" and migrations["status"] == "ok"
    body = jsonify(status="ready" if ready else "not_ready", checks=checks)
    return body, 200 if ready else 503
