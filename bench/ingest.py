"""Benchmark (#21): dossier ingest on PostgreSQL, with its baselines measured in the same run.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/ingest.py [--batches 5] [--sizes 100000,1000000] [--smoke]

1. The API: POST /api/v1/dossiers through the real app (Flask's test client, in this process, on
   PostgreSQL), batches of 1,000 new returned dossiers with consent and distinct mobile numbers
   (every one invited: the heaviest batch), first through the per-row path (the code before #21,
   still the SQLite path) then the set-based one; the median seconds per batch and dossiers/s.
2. The import: `flask mscore import dossiers FILE.csv` as a subprocess (under /usr/bin/time: wall
   time and peak RSS) of N generated rows (10% returned an hour ago, so invited; 90% a month ago)
   into an empty migrated database, and as the floor a bare COPY of the same file into a table of
   text columns.

Each part runs in its own database `bench_ingest_<pid>_<n>` next to BENCH_DATABASE_URL's, dropped
at the end. `--smoke` (tiny sizes) is what tests/bench runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OFFICES = [f"OFF{i:02d}" for i in range(10)]


def database(base_url: str, label: str):
    """A new empty database next to base_url's; its URL and a function that drops it."""
    parts = urlsplit(base_url.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"bench_ingest_{os.getpid()}_{label}"
    admin = create_engine(urlunsplit(parts), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return urlunsplit(parts._replace(path=f"/{name}")), drop


def app_env(url: str) -> dict:
    """The environment of the app and its CLI for a bench database."""
    return {
        **os.environ,
        "DATABASE_URL": url,
        "MSCORE_ENV": "development",
        "SECRET_KEY": "bench-" + Fernet.generate_key().decode(),
        "PHONE_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "PHONE_HASH_KEY": "bench-hash-" + Fernet.generate_key().decode(),
        "PYTHONPATH": str(ROOT),
    }


SEED = """
from flask_migrate import upgrade
from survey_app import create_app
from survey_app.extensions import db
from survey_app.models import Office, OfficeKind, RankingGroup, Service
app = create_app()
with app.app_context():
    upgrade()
    for code in %r:
        db.session.add(Office(code=code, name='UBND xã ' + code, kind=OfficeKind.DEPARTMENT,
                              group=RankingGroup.DEPARTMENTS))
    db.session.add(Service(code='SV1', name='Cấp giấy phép', field='Tư pháp'))
    db.session.commit()
"""


def migrate_and_seed(env: dict) -> None:
    """Migrate the bench database and add the offices and a service."""
    done = subprocess.run(
        [sys.executable, "-c", SEED % (OFFICES,)], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]


def _batch(prefix: str, start: int, size: int, now: datetime) -> list[dict]:
    return [
        {
            "office_code": OFFICES[i % len(OFFICES)],
            "code": f"{prefix}-{i:07d}",
            "service_code": "SV1",
            "phone": f"091{i:07d}",
            "received_at": (now - timedelta(days=3)).isoformat(),
            "returned_at": now.isoformat(),
            "contact_consent": True,
        }
        for i in range(start, start + size)
    ]


def bench_api(base_url: str, batches: int, size: int) -> dict:
    """Median seconds per batch of `size` through POST /api/v1/dossiers: per-row, set-based."""
    url, drop = database(base_url, "api")
    env = app_env(url)
    try:
        migrate_and_seed(env)
        os.environ.update({k: v for k, v in env.items() if k != "PYTHONPATH"})
        from survey_app import create_app
        from survey_app.api import dossiers as endpoint
        from survey_app.api.auth import create_token
        from survey_app.extensions import db

        app = create_app({"RATELIMIT_ENABLED": False})
        with app.app_context():
            _, token = create_token("bench")
            db.session.commit()
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        out, set_based, start = {}, endpoint.set_based, 0
        for mode in ("per_row", "set_based"):
            endpoint.set_based = set_based if mode == "set_based" else (lambda: False)
            times = []
            for _ in range(batches):
                payload = _batch("API", start, size, datetime.now(UTC))
                start += size
                began = time.perf_counter()
                answer = client.post("/api/v1/dossiers", json=payload, headers=headers)
                times.append(time.perf_counter() - began)
                assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
                assert answer.json["summary"]["created"] == size, answer.json["summary"]
            out[mode] = statistics.median(times)
        endpoint.set_based = set_based
        with app.app_context():
            invited = db.session.execute(text("SELECT count(*) FROM invitations")).scalar()
            assert invited == start, (invited, start)  # every dossier invited, once
            db.engine.dispose()
        return out
    finally:
        drop()


def write_csv(path: Path, n: int) -> None:
    """N dossiers: 10% returned an hour ago (invited), 90% a month ago (too old to invite)."""
    now = datetime.now(UTC)
    recent = (now - timedelta(hours=1)).astimezone().isoformat(timespec="seconds")
    old = (now - timedelta(days=30)).astimezone().isoformat(timespec="seconds")
    received = (now - timedelta(days=40)).astimezone().isoformat(timespec="seconds")
    with path.open("w", encoding="utf-8") as handle:
        handle.write(
            "office_code,code,service_code,phone,received_at,due_at,returned_at,contact_consent\n"
        )
        for i in range(n):
            returned = recent if i % 10 == 0 else old
            handle.write(
                f"{OFFICES[i % 10]},H50-{i:08d},SV1,09{i % 10**8:08d},{received},,{returned},có\n"
            )


def bench_import(base_url: str, n: int, folder: Path) -> dict:
    """Wall seconds and peak RSS of the import of n rows, and of a bare COPY of the file."""
    path = folder / f"dossiers-{n}.csv"
    write_csv(path, n)
    url, drop = database(base_url, f"import{n}")
    env = app_env(url)
    try:
        migrate_and_seed(env)
        done = subprocess.run(
            [
                "/usr/bin/time",
                "-f",
                "TIME %e %M",
                sys.executable,
                "-m",
                "flask",
                "--app",
                "survey_app",
                "mscore",
                "import",
                "dossiers",
                str(path),
            ],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        assert f"{n} created" in done.stdout, done.stdout
        seconds, rss_kb = done.stderr.strip().splitlines()[-1].split()[1:]
        engine = create_engine(url)
        with engine.begin() as conn:
            queued = conn.execute(text("SELECT count(*) FROM invitations")).scalar()
            conn.execute(
                text(
                    "CREATE UNLOGGED TABLE bare (a text, b text, c text, d text, "
                    "e text, f text, g text, h text)"
                )
            )
            raw = conn.connection.driver_connection
            began = time.perf_counter()
            with (
                raw.cursor() as cursor,
                cursor.copy("COPY bare FROM STDIN WITH (FORMAT csv, HEADER true)") as copy,
                path.open("rb") as handle,
            ):
                while block := handle.read(1 << 20):
                    copy.write(block)
            bare = time.perf_counter() - began
        engine.dispose()
        return {
            "seconds": float(seconds),
            "rss_mb": int(rss_kb) / 1024,
            "bare_copy": bare,
            "queued": queued,
            "mb": path.stat().st_size / 2**20,
        }
    finally:
        drop()
        path.unlink(missing_ok=True)


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (the test's run)")
    args = parser.parse_args()
    if not args.database_url:
        parser.error("set BENCH_DATABASE_URL or --database-url (PostgreSQL)")
    batch, sizes = (50, [300]) if args.smoke else (1000, [int(s) for s in args.sizes.split(",")])
    batches = 1 if args.smoke else args.batches
    api = bench_api(args.database_url, batches, batch)
    print(f"API, batches of {batch} (median of {batches}, Flask test client on PostgreSQL):")
    for mode, seconds in api.items():
        print(f"  {mode:9s} {seconds:7.3f} s per batch = {batch / seconds:8.0f} dossiers/s")
    print(f"  ratio per-row / set-based: {api['per_row'] / api['set_based']:.1f}x")
    with tempfile.TemporaryDirectory(prefix="bench_ingest_") as folder:
        for n in sizes:
            r = bench_import(args.database_url, n, Path(folder))
            print(
                f"import {n:>9,} rows ({r['mb']:.0f} MB): {r['seconds']:7.1f} s "
                f"({n / r['seconds']:,.0f} rows/s), peak RSS {r['rss_mb']:.0f} MB, "
                f"{r['queued']:,} invited; bare COPY of the file {r['bare_copy']:.1f} s"
            )
    if args.smoke:
        print("smoke: ok")


if __name__ == "__main__":
    main()
