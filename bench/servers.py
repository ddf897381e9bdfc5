"""The benchmarks' servers and databases: fresh PostgreSQL databases, an app's migrations and
one office, gunicorn started and stopped on 127.0.0.1, and one HTTP request (bench/submit.py,
instructions.py, page_load.py)."""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def create_database(base_url: str, name: str) -> str:
    """A fresh database on the server of base_url."""
    from sqlalchemy import create_engine, text

    admin = create_engine(
        base_url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base_url.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str) -> None:
    """Drop a database that create_database made."""
    from sqlalchemy import create_engine, text

    base, name = url.rsplit("/", 1)
    admin = create_engine(
        (base + "/postgres").replace("postgresql://", "postgresql+psycopg://", 1),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def prepare_app_database(url: str, env: dict, root: Path = ROOT) -> None:
    """Migrate (with the code of `root`) and create one office with the default questionnaire."""
    subprocess.run(
        [str(BIN / "flask"), "--app", "survey_app", "db", "upgrade"],
        env={**env, "PYTHONPATH": str(root)},
        cwd=root,
        check=True,
        capture_output=True,
    )
    script = (
        "from survey_app import create_app\n"
        "from survey_app.extensions import db\n"
        "from survey_app.models import Office, OfficeKind, RankingGroup, Counter\n"
        "from survey_app.services.questionnaires import ensure_default_questionnaire\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        "    ensure_default_questionnaire()\n"
        "    o = Office(code='BENCH', name='Sở Tư pháp', kind=OfficeKind.DEPARTMENT,"
        " group=RankingGroup.DEPARTMENTS)\n"
        "    o.counters.append(Counter(code='Q1', name='Quầy 1'))\n"
        "    db.session.add(o); db.session.commit()\n"
    )
    subprocess.run(
        [sys.executable, "-c", script], env={**env, "PYTHONPATH": str(root)}, check=True, cwd=root
    )


def compare_env(env: dict, base_url: str, root: Path, name: str) -> dict:
    """The environment of another checkout's app, on a database its own migrations built."""
    url = create_database(base_url, name)
    other = {**env, "DATABASE_URL": url, "PYTHONPATH": str(root)}
    prepare_app_database(url, other, root)
    return other


def prepare_databases(
    base_url: str, redis_url: str, app_name: str, baseline_name: str
) -> tuple[dict, dict]:
    """Fresh databases for the app (migrated, one office) and for the baseline (its table); the
    environments that run each, rate limits in Redis."""
    app_db = create_database(base_url, app_name)
    base_db = create_database(base_url, baseline_name)
    env = {
        **os.environ,
        "DATABASE_URL": app_db,
        "SECRET_KEY": "bench-" + "x" * 40,
        "MSCORE_INSTANCE_PATH": "/tmp/mscore-bench-instance",
        "PYTHONPATH": str(ROOT),
        "RATELIMIT_STORAGE_URI": redis_url,
        "SURVEY_RATE_LIMIT": "1000000 per minute",
    }
    prepare_app_database(app_db, env)
    base_env = {**env, "DATABASE_URL": base_db}
    subprocess.run(
        [sys.executable, "-c", "from bench.baseline_app import create_tables; create_tables()"],
        env=base_env,
        cwd=ROOT,
        check=True,
    )
    return env, base_env


def start_gunicorn(app_spec: str, port: int, env: dict) -> subprocess.Popen:
    """gunicorn with 2 sync workers serving app_spec from the checkout of env's PYTHONPATH."""
    proc = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            app_spec,
        ],
        cwd=env.get("PYTHONPATH", ROOT),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    # 90 s: on a loaded 2-core machine two workers importing the app took over 30 s
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if request(port, "GET", "/healthz")[0] == 200:
                return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(proc.stderr.read().decode()) from None
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"gunicorn did not start on port {port}")


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def request(port: int, method: str, path: str, body: bytes = b"", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, response.getheader("Set-Cookie", ""), data


def survey_session(port: int) -> tuple[str, str, str]:
    """Open the form once, as a phone does: the session cookie, its CSRF token and the form's
    submission token."""
    status, cookie, body = request(port, "GET", "/s/BENCH/Q1")
    assert status == 200, status
    csrf = re.search(rb'name="csrf_token" value="([^"]+)"', body).group(1).decode()
    token = re.search(rb'name="submission_token" value="([^"]+)"', body).group(1).decode()
    return cookie.split(";", 1)[0], csrf, token
