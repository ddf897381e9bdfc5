"""PostgreSQL connections are checked before use only after sitting idle (ping_when_idle): no
round trip per request under load, and a connection lost while idle is replaced, not an error."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from survey_app.extensions import ping_when_idle


@pytest.fixture
def pg_url(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("connections that can be lost are PostgreSQL's (SQLite is a local file)")
    return database_url


def _engine(url: str, idle_seconds: float, pings: list):
    engine = create_engine(url, pool_size=1, max_overflow=0)
    ping_when_idle(engine, idle_seconds)
    real_ping = engine.dialect.do_ping

    def counting_ping(dbapi_connection):
        pings.append(time.monotonic())
        return real_ping(dbapi_connection)

    engine.dialect.do_ping = counting_ping  # the listener calls it through the dialect
    return engine


def _backend_pid(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(text("SELECT pg_backend_pid()"))


def _terminate(url: str, pid: int) -> None:
    admin = create_engine(url)
    with admin.connect() as conn:
        assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()
    time.sleep(0.2)  # the server closes the socket


def test_a_connection_in_steady_use_is_not_pinged(pg_url):
    pings: list = []
    engine = _engine(pg_url, 60, pings)
    pids = {_backend_pid(engine) for _ in range(20)}
    assert len(pids) == 1 and pings == []  # one connection, reused without a check
    engine.dispose()


def test_a_connection_lost_while_idle_is_replaced_before_use(pg_url):
    pings: list = []
    engine = _engine(pg_url, 0.05, pings)
    first = _backend_pid(engine)
    _terminate(pg_url, first)  # a database restart, or a firewall dropping idle connections
    second = _backend_pid(engine)  # idle longer than 0.05 s: checked, found dead, replaced
    assert second != first and len(pings) == 1
    engine.dispose()


def test_within_the_window_a_lost_connection_fails_once_and_the_pool_recovers(pg_url):
    """The trade-off, written down: a connection killed less than `idle_seconds` after its last
    use is not checked. Its request fails; SQLAlchemy then discards the pool's connections."""
    pings: list = []
    engine = _engine(pg_url, 60, pings)
    _terminate(pg_url, _backend_pid(engine))
    with pytest.raises(OperationalError):
        _backend_pid(engine)
    assert _backend_pid(engine) > 0 and pings == []
    engine.dispose()


def test_the_app_checks_its_postgresql_connections_after_an_idle_second(app, db, pg_url):
    from survey_app.extensions import IDLE_SINCE

    assert app.config["DB_PING_AFTER_IDLE_SECONDS"] == 1.0
    with db.engine.connect() as conn:
        pid = conn.scalar(text("SELECT pg_backend_pid()"))
        record = conn.connection._connection_record
    assert IDLE_SINCE in record.info  # the app's pool carries the listener
    _terminate(pg_url, pid)
    record.info[IDLE_SINCE] -= 5  # as if it had sat idle 5 s more
    with db.engine.connect() as conn:
        assert conn.scalar(text("SELECT pg_backend_pid()")) != pid
