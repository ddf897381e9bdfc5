"""Flask extensions, created unbound and initialised in create_app()."""

import sqlite3
import time
from collections.abc import Callable

from flask import Flask, g
from flask.sessions import SecureCookieSessionInterface
from flask_babel import Babel
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import DeclarativeBase

# A naming convention keeps constraint names stable across SQLite and PostgreSQL migrations.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()


class ShortPathLimiter(Limiter):
    """Flask-Limiter's Limiter, where one kind of request can skip its per-request pass.

    Before every request, Flask-Limiter works out which limits apply and evaluates them, even
    when a request filter exempts the request: for the survey's POST that pass cost 0.28 M of a
    submission's 3.40 M instructions (issue 2's throughput target; BENCHMARKS.md) and always gave
    the same answer. `short_path` (set by survey_app/survey/ratelimit.py) is called first: it
    returns True when it has hit the request's limits itself, through this limiter's own rate
    limiter and storage (and raises RateLimitExceeded on a breach), or False to leave the
    request to Flask-Limiter's pass.

    A storage error raised in the short path is handed to Flask-Limiter's pass, which meets it
    in a request filter and handles it as its own: it marks the storage dead and counts the
    request in memory (its in-memory fallback), without asking the storage a second time.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.short_path: Callable[[], bool] | None = None
        self.request_filter(self._short_path_failed)

    def _check_request_limit(
        self, callable_name: str | None = None, in_middleware: bool = True
    ) -> None:
        if (
            in_middleware
            and callable_name is None
            and self.short_path is not None
            and self.enabled
            and self.initialized
        ):  # as Flask-Limiter's pass: not if off
            try:
                if self.short_path():
                    return
            except RateLimitExceeded:
                raise
            except Exception as error:  # the storage failed: Flask-Limiter's pass handles it
                g.mscore_short_path_error = error
        super()._check_request_limit(callable_name, in_middleware)

    def _short_path_failed(self) -> bool:
        """A request filter: raise the short path's storage error inside Flask-Limiter's pass."""
        error = g.pop("mscore_short_path_error", None)
        if error is not None:
            raise error
        return False


limiter = ShortPathLimiter(key_func=get_remote_address, default_limits=[])
login_manager = LoginManager()
babel = Babel()


class SignedCookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signing serializer built once per set of keys.

    Flask builds a new serializer each time it opens or saves a session, and building one
    serializes an empty dict to find its kind: 2% of a survey submission's instructions. The
    serializer holds only the keys, salt and settings, so one per key set serves every request;
    a changed SECRET_KEY or SECRET_KEY_FALLBACKS gets its own.
    """

    def __init__(self) -> None:
        self._serializers: dict[tuple, URLSafeTimedSerializer | None] = {}

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        try:
            return self._serializers[keys]
        except KeyError:
            serializer = self._serializers[keys] = super().get_signing_serializer(app)
            return serializer


@event.listens_for(Engine, "connect")
def _sqlite_enforces_foreign_keys(dbapi_connection, _record) -> None:
    """SQLite checks foreign keys only when asked, per connection; PostgreSQL always does."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


IDLE_SINCE = "mscore.idle_since"  # pool record info key: when the connection was last returned


def ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Check a pooled connection before use only when it has sat idle longer than `idle_seconds`.

    SQLAlchemy's pool_pre_ping checks on every checkout: a database round trip per request. A
    connection returned a moment ago is as alive as a check would show, so, like HikariCP's
    aliveBypassWindowMs, it is used without one. A failed check makes the pool discard the
    connection and open a new one (DisconnectionError), so a database restart costs no request
    that arrives after a pause.
    """

    @event.listens_for(engine.pool, "connect")
    @event.listens_for(engine.pool, "checkin")
    def _idle_from(_dbapi_connection, record) -> None:
        record.info[IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _ping_if_idle(dbapi_connection, record, _proxy) -> None:
        since = record.info.get(IDLE_SINCE)
        if since is not None and time.monotonic() - since < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError("the database connection was lost while idle") from exc


def autocommit_scalar(engine: Engine, sql: str, params: dict):
    """Run one statement of driver SQL outside a transaction, on a connection of the engine's pool;
    the first column of its first row.

    A single statement is atomic on its own, so this saves BEGIN and COMMIT, two round trips.
    It drives the pooled DBAPI connection directly: a SQLAlchemy Connection with
    isolation_level="AUTOCOMMIT" would switch the isolation level in and out on every call,
    which measured 5% of a survey submission's instructions. What that Connection does for
    errors is kept: the driver's error is raised as SQLAlchemy's (IntegrityError, ...), and a
    lost connection is discarded from the pool. The connection always goes back to the pool
    in transaction mode, or not at all.
    """
    dialect = engine.dialect
    try:
        pooled = engine.raw_connection()
    except dialect.loaded_dbapi.Error as error:  # the server is down or refuses: SQLAlchemy's
        raise DBAPIError.instance(  # error too (raw_connection raises the driver's own)
            sql, params, error, dialect.loaded_dbapi.Error, dialect=dialect
        ) from error
    driver = pooled.driver_connection
    try:
        driver.autocommit = True
        try:
            with driver.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchone()[0]
        finally:
            if not driver.closed:  # a lost connection keeps its error; it is discarded below
                driver.autocommit = False
    except dialect.loaded_dbapi.Error as error:
        lost = dialect.is_disconnect(error, driver, None)
        if lost or driver.autocommit:  # lost, or could not be put back in transaction mode
            pooled.invalidate(error)
        raise DBAPIError.instance(
            sql,
            params,
            error,
            dialect.loaded_dbapi.Error,
            connection_invalidated=lost,
            dialect=dialect,
        ) from error
    finally:
        pooled.close()
