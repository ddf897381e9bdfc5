"""Shared fixtures: the app on SQLite and (with TEST_DATABASE_URL) PostgreSQL, builders, and a
guard that fails any test trying to reach the network."""

from __future__ import annotations

import gc
import ipaddress
import os
import socket
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest
from cryptography.fernet import Fernet
from flask import g, has_app_context
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

os.environ.setdefault("MSCORE_INSTANCE_PATH", "/tmp/mscore-test-instance")

from tests.log_guard import no_phone_numbers_in_logs, pytest_sessionfinish  # noqa: E402,F401

TEST_PHONE_ENCRYPTION_KEY = Fernet.generate_key().decode()
TEST_PHONE_HASH_KEY = "test-phone-hash-key-0123456789abcdef"
PUBLIC_BASE_URL = "https://mscore.test"


# --- no network: anything but loopback fails loudly ---------------------------------
_real_connect = socket.socket.connect


def _is_local(address) -> bool:
    if isinstance(address, str | bytes):  # a Unix socket
        return True
    host = address[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self, address):
    if not _is_local(address):
        raise RuntimeError(f"a test tried to reach the network at {address!r}; tests stay local")
    return _real_connect(self, address)


socket.socket.connect = _guarded_connect


# --- databases --------------------------------------------------------------------------
def _postgres_database(base_url: str):
    """Create a private database for this test session on the server of TEST_DATABASE_URL."""
    parts = urlsplit(base_url.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"mscore_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(urlunsplit(parts), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = urlunsplit(parts._replace(path=f"/{name}"))

    def drop():
        # Connections some test left checked out are finalised now, while their database still
        # answers their ROLLBACK. Otherwise a later garbage collection finalises them, fails
        # (AdminShutdown) and logs the traceback; Python 3.11 formats it with ast.parse, and if
        # that collection ran inside another ast.parse (werkzeug compiles each route so), the
        # nested parse raises "SystemError: AST constructor recursion depth mismatch".
        gc.collect()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request, tmp_path_factory):
    """A migrated database URL; the suite runs once per backend."""
    from flask_migrate import upgrade

    from survey_app import create_app

    drop = None
    if request.param == "postgresql":
        base = os.environ.get("TEST_DATABASE_URL")
        if not base:
            pytest.skip("PostgreSQL run skipped: set TEST_DATABASE_URL (CI does) to run it")
        url, drop = _postgres_database(base)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'mscore.sqlite'}"
    app = create_app(_test_config(url))
    with app.app_context():
        upgrade()  # the test schema is built by the migrations, as in production
        from survey_app.extensions import db

        db.engine.dispose()
    yield url
    if drop:
        drop()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request, tmp_path):
    """A database of its own, not migrated: for walking the migrations up and down with data."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'walk.sqlite'}"
        return
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        pytest.skip("PostgreSQL run skipped: set TEST_DATABASE_URL (CI does) to run it")
    url, drop = _postgres_database(base)
    yield url
    drop()


def _test_config(url: str) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-0123456789abcdef0123456789",
        "SQLALCHEMY_DATABASE_URI": url,
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "PHONE_ENCRYPTION_KEY": TEST_PHONE_ENCRYPTION_KEY,
        "PHONE_HASH_KEY": TEST_PHONE_HASH_KEY,
        "RATELIMIT_STORAGE_URI": "memory://",
        "SMS_PROVIDER": "console",
        # No quiet hours unless a test sets them: otherwise the worker holds every text back
        # when the suite runs after 21:00 in Asia/Ho_Chi_Minh (14:00 UTC), and tests fail by the
        # clock (tests/ops' worker runs did).
        "SMS_QUIET_START": 0,
        "SMS_QUIET_END": 0,
    }


def _empty_tables(db) -> None:
    tables = [t for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(table.delete())


@pytest.fixture
def app_config(database_url):
    """The configuration the app fixture is created with; override keys in a test module."""
    return _test_config(database_url)


class _IsolatedClient(FlaskClient):
    """A test client whose requests don't share `g` with the test's open app context, as in
    production, where every request has its own (Flask-Babel and Flask-Login cache on `g`)."""

    def open(self, *args, **kwargs):
        saved = dict(g.__dict__) if has_app_context() else None
        if saved is not None:
            g.__dict__.clear()
        try:
            return super().open(*args, **kwargs)
        finally:
            if saved is not None:
                g.__dict__.clear()
                g.__dict__.update(saved)


@pytest.fixture
def app(app_config):
    """A fresh app on a migrated, empty database."""
    from survey_app import create_app
    from survey_app.dashboard.data import clear_cache
    from survey_app.extensions import db
    from survey_app.reporting import kept
    from survey_app.services.questionnaires import clear_snapshot_cache

    clear_snapshot_cache()
    clear_cache()  # documents of another test's database
    kept.clear()  # kept report texts and reports, likewise
    app = create_app(app_config)
    app.test_client_class = _IsolatedClient
    with app.app_context():
        yield app
        db.session.remove()
        _empty_tables(db)
        db.engine.dispose()


@pytest.fixture
def db(app):
    """The Flask-SQLAlchemy handle, inside the app context."""
    from survey_app.extensions import db

    return db


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def is_postgres(database_url) -> bool:
    return database_url.startswith("postgresql")


# --- builders ---------------------------------------------------------------------------
@pytest.fixture
def questionnaire(db):
    """The default SIPAS questionnaire, created."""
    from survey_app.services.questionnaires import ensure_default_questionnaire

    q = ensure_default_questionnaire()
    db.session.commit()
    return q


@pytest.fixture
def make_office(db):
    """Build offices: make_office(code="HCC01", name=..., **fields)."""
    from survey_app.models import Office, OfficeKind, RankingGroup

    def make(code="OFF1", name="Sở Tư pháp", **fields):
        fields.setdefault("kind", OfficeKind.DEPARTMENT)
        fields.setdefault("group", RankingGroup.DEPARTMENTS)
        office = Office(code=code, name=name, **fields)
        db.session.add(office)
        db.session.commit()
        return office

    return make


@pytest.fixture
def make_service(db):
    """Build services: make_service(code="SV1", office=office) links it to the office."""
    from survey_app.models import Service

    def make(code="SV1", name="Cấp phiếu lý lịch tư pháp", field="Tư pháp", office=None, **kw):
        service = Service(code=code, name=name, field=field, **kw)
        db.session.add(service)
        if office is not None:
            office.services.append(service)
        db.session.commit()
        return service

    return make


@pytest.fixture
def make_counter(db):
    """Build counters: make_counter(office, code="Q1")."""
    from survey_app.models import Counter

    def make(office, code="Q1", name="Quầy 1", **kw):
        counter = Counter(office=office, code=code, name=name, **kw)
        db.session.add(counter)
        db.session.commit()
        return counter

    return make


@pytest.fixture
def make_dossier(db):
    """Build dossiers: make_dossier(office, code="HS-001", phone="0912345678", ...)."""
    from survey_app.models import Dossier
    from survey_app.protection import protect_phone

    def make(office, code="HS-001", phone=None, service=None, **kw):
        dossier = Dossier(
            office=office,
            code=code,
            service=service,
            service_code=service.code if service else None,
            **protect_phone(phone),
            **kw,
        )
        db.session.add(dossier)
        db.session.commit()
        return dossier

    return make
