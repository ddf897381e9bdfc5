"""/healthz answers while the process lives; /readyz says whether the app can record a response
(database writable, schema at the head), and reports Redis and the SMS outbox."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text, update

from survey_app.models import Invitation, utcnow
from tests.ops.conftest import read_only


def test_healthz_answers_without_asking_anything(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_readyz_is_ready_on_a_migrated_database(client):
    answer = client.get("/readyz")
    assert answer.status_code == 200, answer.get_json()
    checks = answer.get_json()["checks"]
    assert checks["database"]["status"] == "ok"
    assert checks["migrations"]["status"] == "ok"
    assert checks["redis"]["status"] == "not_used"  # memory:// in tests
    assert checks["outbox"] == {"status": "ok", "due": 0, "oldest_due_seconds": 0.0}


def test_readyz_says_when_the_schema_is_behind_the_code(client, db):
    with db.engine.begin() as conn:
        head = conn.scalar(text("SELECT version_num FROM alembic_version"))
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    try:
        answer = client.get("/readyz")
    finally:
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
    assert answer.status_code == 503
    migrations = answer.get_json()["checks"]["migrations"]
    assert migrations["status"] == "behind" and migrations["database"] == ["0001"]
    assert migrations["code"] == [head]


def test_readyz_is_not_ready_while_the_database_is_read_only(client, db, pg_url):
    with read_only(pg_url, db):
        answer = client.get("/readyz")
        healthz = client.get("/healthz")
    assert answer.status_code == 503
    assert answer.get_json()["checks"]["database"]["status"] == "read_only"
    assert healthz.status_code == 200  # alive all the same: no restart needed
    assert client.get("/readyz").status_code == 200  # and ready again after


def test_readyz_reports_redis_degraded_without_leaving_service(app_config, database_url):
    from survey_app import create_app

    app = create_app({**app_config, "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:1/0"})
    answer = app.test_client().get("/readyz")  # nothing listens on port 1
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["checks"]["redis"]["status"] == "degraded"


def test_readyz_reports_how_late_the_oldest_due_invitation_is(client, db, app, queue_invitations):
    queue_invitations(3)
    db.session.execute(update(Invitation).values(next_attempt_at=utcnow() - timedelta(hours=1)))
    db.session.commit()
    outbox = client.get("/readyz").get_json()["checks"]["outbox"]
    assert outbox["due"] == 3 and outbox["status"] == "late"
    assert 3590 < outbox["oldest_due_seconds"] < 3700
