"""Operations tests: database outages on a real PostgreSQL, fault runs, health and metrics. The
SMS fixtures (fake Twilio, signed webhooks, returned dossiers) come from the SMS tests."""

from __future__ import annotations

import time
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.sms_gateway.conftest import (  # noqa: F401  (fixtures, found by name)
    fake_server,
    fake_twilio,
    queue_invitations,
    reply,
    returned_dossier,
    run_worker,
    signed_post,
)


@pytest.fixture
def pg_url(database_url):
    """The session's PostgreSQL database (outages, dumps and deployments are a server's)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("needs a PostgreSQL server (SQLite is a local file): the PostgreSQL run")
    return database_url


def terminate(url: str, pid: int) -> None:
    """Terminate one server backend, as a restart or a fail-over does."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()
    time.sleep(0.2)  # the server closes the socket


@contextmanager
def read_only(url: str, db):
    """Make the database read-only for new connections (and empty the app's pool), as an
    operator or a standby after fail-over does; writable again on leaving."""
    name = make_url(url).database
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
    db.session.remove()
    db.engine.dispose()
    try:
        yield
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" RESET default_transaction_read_only'))
        admin.dispose()
        db.session.remove()
        db.engine.dispose()
