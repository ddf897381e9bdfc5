"""The worker as a real process: killed mid-batch and restarted, and two at once on PostgreSQL;
every invitation is sent exactly once."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sms_gateway.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, MESSAGING_SERVICE_SID
from survey_app.models import Invitation, InvitationStatus
from tests.conftest import PUBLIC_BASE_URL

ROOT = Path(__file__).resolve().parents[2]


def _worker(
    app,
    fake,
    *,
    once: bool,
    lease: float = 30,
    concurrency: int = 2,
    batch: int = 10,
    retry_base: float = 60,
):
    config = app.config
    env = {
        **os.environ,
        "DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
        "MSCORE_INSTANCE_PATH": "/tmp/mscore-test-instance",
        "PHONE_ENCRYPTION_KEY": config["PHONE_ENCRYPTION_KEY"],
        "PHONE_HASH_KEY": config["PHONE_HASH_KEY"],
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "SMS_PROVIDER": "twilio",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_MESSAGING_SERVICE_SID": MESSAGING_SERVICE_SID,
        "TWILIO_API_BASE_URL": fake.base_url,
        "SMS_QUIET_START": "0",
        "SMS_QUIET_END": "0",
        "SMS_SEND_LEASE_SECONDS": str(lease),
        "SMS_BATCH_SIZE": str(batch),
        "SMS_WORKER_CONCURRENCY": str(concurrency),
        "SMS_POLL_SECONDS": "0.05",
        "SMS_RETRY_BASE_SECONDS": str(retry_base),
    }
    command = [sys.executable, "-m", "flask", "--app", "survey_app", "sms", "worker"]
    return subprocess.Popen(
        command + (["--once"] if once else []),
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _assert_each_sent_once(db, fake, n: int) -> None:
    counts = collections.Counter(m["to"] for m in fake.messages)
    assert len(counts) == n and set(counts.values()) == {1}, counts.most_common(3)
    db.session.remove()
    statuses = collections.Counter(db.session.scalars(select(Invitation.status)))
    assert statuses == {InvitationStatus.SENT: n}, statuses


def test_worker_killed_mid_batch_sends_each_invitation_once(
    app, db, fake_twilio, queue_invitations
):
    n = 60
    queue_invitations(n)
    db.session.remove()
    fake_twilio.delay_seconds = 0.05  # ~1.5 s for everything: time to kill it half way
    worker = _worker(app, fake_twilio, once=False)
    deadline = time.monotonic() + 30
    while len(fake_twilio.messages) < 15 and time.monotonic() < deadline:
        time.sleep(0.01)
    worker.send_signal(signal.SIGKILL)  # no chance to record the batch in flight
    worker.wait(10)
    time.sleep(0.3)  # requests the fake was still serving land (Twilio would accept them too)
    sent_before = len(fake_twilio.messages)
    assert 15 <= sent_before < n
    in_flight = db.session.scalar(
        select(func.count()).where(Invitation.status == InvitationStatus.SENDING)
    )
    assert in_flight > 0  # sends whose outcome the dead worker never recorded
    db.session.remove()
    fake_twilio.delay_seconds = 0
    # leases expire at once; what the provider never got is retried without waiting
    restarted = _worker(app, fake_twilio, once=True, lease=0, retry_base=0)
    out, err = restarted.communicate(timeout=60)
    assert restarted.returncode == 0, err.decode()[-2000:]
    _assert_each_sent_once(db, fake_twilio, n)


def test_two_workers_on_postgresql_never_send_twice(
    app, db, fake_twilio, queue_invitations, is_postgres
):
    if not is_postgres:
        pytest.skip("SKIP LOCKED needs PostgreSQL; SQLite serialises writers (one worker)")
    n = 200
    queue_invitations(n)
    db.session.remove()
    fake_twilio.delay_seconds = 0.005
    workers = [_worker(app, fake_twilio, once=True, concurrency=4) for _ in range(2)]
    outputs = [w.communicate(timeout=120) for w in workers]
    for worker, (_out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err.decode()[-2000:]
    _assert_each_sent_once(db, fake_twilio, n)
    sent = [int(out.decode().split()[-1]) for out, _err in outputs]
    assert sum(sent) == n
