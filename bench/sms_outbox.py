"""Benchmark: texts per second from one SMS worker, through the real twilio client, against the
fake Twilio server (a separate process on 127.0.0.1), on PostgreSQL.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/sms_outbox.py [--texts 2000] [--runs 5] [--concurrency 8]

It creates its own database next to BENCH_DATABASE_URL's, migrates it, seeds N queued
invitations, runs the worker until all are sent (`--once`), and prints the median of the runs.
--smoke sends 20 texts once (tests/bench runs it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from cryptography.fernet import Fernet
from sqlalchemy import create_engine, func, insert, select, text, update

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sms_gateway import fake_twilio  # noqa: E402


def _database(base_url: str):
    parts = urlsplit(base_url.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"mscore_bench_sms_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(urlunsplit(parts), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return urlunsplit(parts._replace(path=f"/{name}")), drop


def _seed(db, n: int) -> None:
    from survey_app.models import Dossier, Invitation, Office, OfficeKind
    from survey_app.protection import protect_phone

    office = Office(
        code="BENCH", name="Trung tâm Phục vụ hành chính công tỉnh", kind=OfficeKind.PROVINCE
    )
    db.session.add(office)
    db.session.flush()
    now = datetime.now(UTC)
    dossiers = [
        {
            "office_id": office.id,
            "code": f"H50-{i:07d}",
            "returned_at": now,
            **protect_phone(f"098{i:07d}"),
        }
        for i in range(n)
    ]
    db.session.execute(insert(Dossier), dossiers)
    rows = db.session.execute(select(Dossier.id, Dossier.phone_hash)).all()
    db.session.execute(
        insert(Invitation),
        [
            {
                "dossier_id": r.id,
                "office_id": office.id,
                "phone_hash": r.phone_hash,
                "sampling_probability": 1.0,
                "status": "queued",
                "language": "vi",
                "attempts": 0,
                "next_attempt_at": now - timedelta(minutes=1),
            }
            for r in rows
        ],
    )
    db.session.commit()


def _requeue(db) -> None:
    from survey_app.models import Invitation

    db.session.execute(
        update(Invitation).values(
            status="queued",
            attempts=0,
            provider_message_id=None,
            sent_at=None,
            claimed_at=None,
            next_attempt_at=datetime.now(UTC) - timedelta(minutes=1),
        )
    )
    db.session.commit()
    db.session.remove()


def main(argv=None) -> None:
    """Run the benchmark and print texts per second."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--smoke", action="store_true", help="a tiny run: check that it works")
    args = parser.parse_args(argv)
    if args.smoke:
        args.texts, args.runs = 20, 1

    base = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    url, drop = _database(base)
    server = subprocess.Popen(
        [sys.executable, "-m", "sms_gateway.fake_twilio", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    fake_url = server.stdout.readline().strip()
    try:
        from flask_migrate import upgrade

        from survey_app import create_app
        from survey_app.extensions import db
        from survey_app.models import Invitation

        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": url,
                "PHONE_ENCRYPTION_KEY": Fernet.generate_key().decode(),
                "PHONE_HASH_KEY": "bench-phone-hash-key-0123456789abcdef",
                "PUBLIC_BASE_URL": "https://mscore.example",
                "SMS_PROVIDER": "twilio",
                "TWILIO_ACCOUNT_SID": fake_twilio.ACCOUNT_SID,
                "TWILIO_AUTH_TOKEN": fake_twilio.AUTH_TOKEN,
                "TWILIO_MESSAGING_SERVICE_SID": fake_twilio.MESSAGING_SERVICE_SID,
                "TWILIO_API_BASE_URL": fake_url,
                "SMS_QUIET_START": 0,
                "SMS_QUIET_END": 0,
                "SMS_WORKER_CONCURRENCY": args.concurrency,
                "SMS_BATCH_SIZE": args.batch,
            }
        )
        with app.app_context():
            upgrade()
            _seed(db, args.texts)
            from sms_gateway.worker import Worker

            rates = []
            for run in range(args.runs):
                _requeue(db)
                started = time.perf_counter()
                sent = Worker().run(once=True)
                elapsed = time.perf_counter() - started
                done = db.session.scalar(select(func.count()).where(Invitation.status == "sent"))
                db.session.remove()
                assert sent == done == args.texts, (sent, done)
                rates.append(args.texts / elapsed)
                print(
                    f"run {run + 1}: {args.texts} texts in {elapsed:.2f} s = "
                    f"{rates[-1]:.0f} texts/s",
                    flush=True,
                )
            print(
                f"median {statistics.median(rates):.0f} texts/s (min {min(rates):.0f}, "
                f"max {max(rates):.0f}); one worker, concurrency {args.concurrency}, "
                f"batch {args.batch}, {args.texts} texts, {args.runs} runs"
            )
            if args.smoke:
                print(f"smoke: {args.texts} texts sent")
            db.engine.dispose()
    finally:
        server.terminate()
        server.wait(5)
        drop()


if __name__ == "__main__":
    main()
