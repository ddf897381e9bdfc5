"""A backup taken with pg_dump while responses arrive restores into a fresh database that is
consistent (every response with its answers, the schema at the head) and goes on working."""

from __future__ import annotations

import shutil
import subprocess
import threading
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.formfill import form_fields
from tests.ops.processes import _postgres_bindir

pytestmark = pytest.mark.slow


@pytest.fixture
def app_config(app_config):
    return {**app_config, "SURVEY_RATE_LIMIT": "100000 per minute"}


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _tool(name: str) -> str:
    return shutil.which(name) or f"{_postgres_bindir()}/{name}"


def _count(url: str, sql: str):
    engine = create_engine(url)
    with engine.connect() as conn:
        value = conn.scalar(text(sql))
    engine.dispose()
    return value


def test_a_dump_taken_while_responses_arrive_restores_consistently(
    app, db, make_office, questionnaire, pg_url, tmp_path
):
    from survey_app import create_app

    make_office(code="BAK1")
    db.session.remove()
    stop, statuses = threading.Event(), []

    def citizens():  # submissions arrive all along the dump
        while not stop.is_set():
            client = app.test_client()
            fields = form_fields(client.get("/s/BAK1").get_data(as_text=True))
            statuses.append(client.post("/s/BAK1", data=dict(fields)).status_code)

    arriving = threading.Thread(target=citizens)
    arriving.start()
    try:
        while len(statuses) < 20:  # some responses before the dump starts
            threading.Event().wait(0.05)
        before = _count(pg_url, "SELECT count(*) FROM responses")
        dump = tmp_path / "mscore.dump"
        subprocess.run(
            [_tool("pg_dump"), "-Fc", "-f", str(dump), "-d", _libpq(pg_url)],
            check=True,
            timeout=120,
            capture_output=True,
        )
        after = _count(pg_url, "SELECT count(*) FROM responses")
        while len(statuses) < after + 10:  # and more after it ended
            threading.Event().wait(0.05)
    finally:
        stop.set()
        arriving.join(30)
    assert set(statuses) == {303}

    restored = make_url(pg_url).set(database=f"mscore_restore_{uuid.uuid4().hex[:8]}")
    admin = create_engine(make_url(pg_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{restored.database}"'))
    try:
        subprocess.run(
            [_tool("pg_restore"), "--no-owner", "-d", _libpq(str(restored)), str(dump)],
            check=True,
            timeout=120,
            capture_output=True,
        )
        url = restored.render_as_string(hide_password=False)
        count = _count(url, "SELECT count(*) FROM responses")
        assert before <= count <= after  # one consistent moment during the dump
        assert (
            _count(
                url,
                "SELECT count(*) FROM responses r WHERE NOT EXISTS "
                "(SELECT 1 FROM answers a WHERE a.response_id = r.id)",
            )
            == 0
        )
        answers = _count(url, "SELECT count(*) FROM answers")
        assert answers == _count(
            pg_url,
            "SELECT count(*) FROM answers a JOIN responses r "
            f"ON r.id = a.response_id WHERE r.id <= "
            f"{_count(url, 'SELECT max(id) FROM responses')}",
        )
        # the restored database serves: ready, and it takes new responses (sequences restored)
        config = {**app.config, "SQLALCHEMY_DATABASE_URI": url}
        restored_app = create_app(config)
        client = restored_app.test_client()
        assert client.get("/readyz").status_code == 200
        fields = form_fields(client.get("/s/BAK1").get_data(as_text=True))
        assert client.post("/s/BAK1", data=dict(fields)).status_code == 303
        assert _count(url, "SELECT count(*) FROM responses") == count + 1
        with restored_app.app_context():
            from survey_app.extensions import db as restored_db

            restored_db.engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{restored.database}" WITH (FORCE)'))
        admin.dispose()
    print(
        f"\nbackup: dump taken while {after - before} responses arrived; "
        f"{count} restored, consistent, and the restored database takes new ones"
    )
