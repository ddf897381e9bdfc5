"""The Procfile as it is, under honcho, on one machine, in the production configuration: the
release step migrates a private database, then web (gunicorn, two workers) and worker serve a
citizen's form, an SMS invitation and its signed reply, and metrics add up across processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import uuid
from datetime import UTC, datetime

import pytest
import requests
from cryptography.fernet import Fernet
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from sms_gateway.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, MESSAGING_SERVICE_SID
from tests.formfill import form_fields
from tests.log_guard import find_phone
from tests.ops.processes import ROOT, free_port, output_file, wait_until
from tests.ops.test_fault_restarts import inbound, signed

pytestmark = [pytest.mark.slow]
METRICS_TOKEN = "honcho-metrics-token-0123456789"


@pytest.fixture
def private_database(pg_url):
    """A database of this test on the local PostgreSQL, dropped at the end."""
    base = make_url(pg_url)
    name = f"mscore_honcho_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name, drivername="postgresql").render_as_string(False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _production_env(database_url: str, fake_url: str, port: int, metrics_dir: str) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MSCORE_")}
    env.update(
        PATH=os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""),
        MSCORE_ENV="production",
        MSCORE_INSTANCE_PATH=tempfile.mkdtemp(prefix="mscore-instance-"),
        DATABASE_URL=database_url,
        REDIS_URL=f"redis://127.0.0.1:6379/{1 + os.getpid() % 15}",  # a db of its own
        SECRET_KEY="production-like-secret-" + uuid.uuid4().hex,
        PHONE_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        PHONE_HASH_KEY="production-like-hash-key-" + uuid.uuid4().hex,
        PUBLIC_BASE_URL="https://mscore.test",
        PROXY_FIX_X_FOR="1",  # production refuses to start while it is unset
        SMS_PROVIDER="twilio",
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_MESSAGING_SERVICE_SID=MESSAGING_SERVICE_SID,
        TWILIO_API_BASE_URL=fake_url,
        SMS_MODE="reply",  # the reply is the rating (link mode would answer with the form's link)
        SMS_QUIET_START="0",
        SMS_QUIET_END="0",
        SMS_POLL_SECONDS="0.2",
        METRICS_TOKEN=METRICS_TOKEN,
        PROMETHEUS_MULTIPROC_DIR=metrics_dir,
        HOST="127.0.0.1",  # the Procfile binds ${HOST:-0.0.0.0}: tests stay on loopback
        PORT=str(port),
        WEB_CONCURRENCY="2",
        PYTHONUNBUFFERED="1",
    )
    return env


def _honcho(*args: str) -> list[str]:
    return [sys.executable, "-m", "honcho", "--no-colour", "-f", str(ROOT / "Procfile"), *args]


def _seed(env: dict) -> str:
    """An office and a dossier just returned (its invitation queued), through the app's own
    services; the number to reply from."""
    from survey_app import create_app
    from survey_app.extensions import db
    from survey_app.models import Office
    from survey_app.services.dossiers import upsert_dossier
    from survey_app.services.questionnaires import ensure_default_questionnaire

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"].replace(
                "postgresql:", "postgresql+psycopg:"
            ),
            "PHONE_ENCRYPTION_KEY": env["PHONE_ENCRYPTION_KEY"],
            "PHONE_HASH_KEY": env["PHONE_HASH_KEY"],
            "SMS_QUIET_START": 0,
            "SMS_QUIET_END": 0,
        }
    )
    with app.app_context():
        ensure_default_questionnaire()
        office = Office(
            code="HON1", name="UBND huyện Triệu Phong", kind="department", group="departments"
        )
        db.session.add(office)
        db.session.flush()
        outcome = upsert_dossier(
            office,
            {
                "code": "HS-HON-1",
                "phone": "0961234567",
                "returned_at": datetime.now(UTC),
                "contact_consent": True,
            },
        )
        assert outcome.invitation == "queued"
        db.session.commit()
        db.engine.dispose()
    return "+84961234567"


def test_the_procfile_runs_under_honcho_in_production(private_database, fake_twilio):
    port = free_port()
    metrics_dir = tempfile.mkdtemp(prefix="mscore-metrics-")
    env = _production_env(private_database, fake_twilio.base_url, port, metrics_dir)

    release = subprocess.run(
        _honcho("start", "release"), env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert release.returncode == 0, release.stdout[-2000:] + release.stderr[-2000:]
    sender = _seed(env)

    output = output_file()
    processes = subprocess.Popen(
        _honcho("start", "web", "worker"),
        env=env,
        cwd=ROOT,
        stdout=output,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: requests.get(base + "/healthz", timeout=1).ok, 60, "web to serve")
        ready = requests.get(base + "/readyz", timeout=10).json()
        assert ready["status"] == "ready" and ready["checks"]["redis"]["status"] == "ok", ready

        page = requests.get(base + "/s/HON1", timeout=10)  # a citizen's form
        cookies = {c.name: c.value for c in page.cookies}  # Secure cookies, posted back by hand
        posted = requests.post(
            base + "/s/HON1",
            data=form_fields(page.text),
            cookies=cookies,
            allow_redirects=False,
            timeout=10,
        )
        assert posted.status_code == 303, posted.text[:500]

        wait_until(lambda: fake_twilio.messages, 30, "the worker to text the invitation")
        reply = signed(base, "/sms/inbound", inbound(sender, "5", "SM" + "d" * 32))
        assert reply.status_code == 200 and "<Message>" in reply.text

        for _ in range(10):
            requests.get(base + "/healthz", timeout=10)
        scrape = requests.get(
            base + "/metrics", timeout=10, headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
        )
        assert scrape.status_code == 200
        healthz = sum(
            sample.value
            for family in text_string_to_metric_families(scrape.text)
            for sample in family.samples
            if sample.name == "mscore_http_requests_total"
            and sample.labels.get("route") == "/healthz"
        )
        assert healthz >= 11  # counted in both gunicorn workers, added up by the scrape
    finally:
        os.killpg(processes.pid, signal.SIGTERM)  # honcho stops web and worker
        try:
            processes.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(processes.pid, signal.SIGKILL)
            processes.wait(10)
    output.seek(0)
    log = output.read()
    assert find_phone(log) is None
    assert '"logger": "mscore.request"' in log  # JSON request lines, as production writes them
    assert '"logger": "sms_gateway.worker"' in log  # and the worker's batch line
    # survey_app/gunicorn_conf.py, in each worker
    assert log.count("objects of the loaded app frozen") == 2
    assert log.count("the charts' engine started in") == 2

    engine = create_engine(private_database.replace("postgresql:", "postgresql+psycopg:"))
    with engine.connect() as conn:
        channels = dict(
            conn.execute(text("SELECT channel, count(*) FROM responses GROUP BY channel")).all()
        )
    engine.dispose()
    assert channels == {"qr_web": 1, "sms": 1}
