"""Flask extensions, created unbound and initialised in create_app()."""

import sqlite3
import time

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
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


# Limits per client: the survey's POSTs (survey_app/survey/__init__.py) and the posters (qr.py).
# Flask-Limiter's own in-memory fallback keeps counting while Redis is down (config.py).
limiter = Limiter(key_func=get_remote_address, default_limits=[])
login_manager = LoginManager()
babel = Babel()


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
