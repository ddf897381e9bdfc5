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


# autocommit_scalar: one statement outside a transaction, on a pooled connection


@pytest.fixture
def one_connection(database_url):
    """An engine whose pool holds one connection, and a fresh table `t_auto` (k int key)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("autocommit_scalar drives psycopg connections: the PostgreSQL run tests it")
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS t_auto"))
        conn.execute(text("CREATE TABLE t_auto (k int PRIMARY KEY)"))
    yield engine
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE t_auto"))
    engine.dispose()


INSERT_K = "INSERT INTO t_auto VALUES (%(k)s) RETURNING k"


def test_autocommit_scalar_commits_at_once_and_returns_the_connection_transactional(
    one_connection, database_url
):
    from survey_app.extensions import autocommit_scalar

    assert autocommit_scalar(one_connection, INSERT_K, {"k": 7}) == 7
    other = create_engine(database_url)
    with other.connect() as conn:  # committed: another connection sees it
        assert conn.scalar(text("SELECT count(*) FROM t_auto")) == 1
    other.dispose()
    with one_connection.connect() as conn:  # the pool's one connection is transactional again
        assert conn.connection.driver_connection.autocommit is False
        conn.execute(text("INSERT INTO t_auto VALUES (8)"))
        conn.rollback()
        assert conn.scalar(text("SELECT count(*) FROM t_auto")) == 1


def test_autocommit_scalar_raises_sqlalchemy_errors_and_keeps_the_connection(one_connection):
    from sqlalchemy.exc import IntegrityError

    from survey_app.extensions import autocommit_scalar

    pid = _backend_pid(one_connection)
    autocommit_scalar(one_connection, INSERT_K, {"k": 1})
    with pytest.raises(IntegrityError) as refused:  # what the survey view catches
        autocommit_scalar(one_connection, INSERT_K, {"k": 1})
    assert not refused.value.connection_invalidated
    with one_connection.connect() as conn:  # the same connection, back in transaction mode
        assert conn.scalar(text("SELECT pg_backend_pid()")) == pid
        assert conn.connection.driver_connection.autocommit is False


def test_autocommit_scalar_discards_a_lost_connection(pg_url):
    from survey_app.extensions import autocommit_scalar

    pings: list = []
    engine = _engine(pg_url, 60, pings)  # within the window: not checked before use
    first = _backend_pid(engine)
    _terminate(pg_url, first)
    with pytest.raises(OperationalError) as lost:
        autocommit_scalar(engine, "SELECT %(k)s::int", {"k": 1})
    assert lost.value.connection_invalidated
    assert autocommit_scalar(engine, "SELECT pg_backend_pid()", {}) != first
    with engine.connect() as conn:
        assert conn.connection.driver_connection.autocommit is False
    engine.dispose()
