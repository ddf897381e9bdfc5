"""The SMS worker killed at random points several times, and the provider failing in every way
(429, 500, 503, timeouts with and without the message sent, dropped connections): each invitation
is texted exactly once in the end. The fake Twilio runs as a process of its own, driven and read
over HTTP, as the worker's provider would be."""

from __future__ import annotations

import collections
import random
import signal
import time

import pytest
from sqlalchemy import select

from sms_gateway.fake_twilio import FakeTwilioControl
from survey_app.models import Invitation, InvitationStatus
from tests.log_guard import find_phone
from tests.ops.processes import (
    app_env,
    fake_twilio_process,
    read_output,
    sms_worker,
    stop,
    wait_until,
)

pytestmark = [pytest.mark.faults, pytest.mark.slow]


@pytest.fixture
def provider():
    """The fake Twilio in its own process (a 'timeout' hangs 1 s), and its control."""
    process, base_url = fake_twilio_process(timeout_seconds=1.0)
    try:
        yield base_url, FakeTwilioControl(base_url)
    finally:
        stop(process)


def _statuses(db) -> collections.Counter:
    db.session.remove()
    return collections.Counter(db.session.scalars(select(Invitation.status)))


def _each_texted_once(record: dict, n: int) -> None:
    per_number = collections.Counter(m["to"] for m in record["messages"])
    assert len(per_number) == n, f"{n - len(per_number)} invitations never texted"
    assert set(per_number.values()) == {1}, per_number.most_common(3)


def test_the_worker_killed_at_random_points_texts_each_invitation_once(
    app, db, queue_invitations, provider, is_postgres
):
    if not is_postgres:
        pytest.skip("the worker in another process shares the database: the PostgreSQL run")
    base_url, fake = provider
    n, kills = 200, 6
    queue_invitations(n)
    db.session.remove()
    fake.delay(0.03)  # a batch of 10 at 2 at a time takes ~0.15 s: kills land mid-batch
    env = app_env(app.config["SQLALCHEMY_DATABASE_URI"], TWILIO_API_BASE_URL=base_url)
    settings = dict(
        batch_size=10,
        worker_concurrency=2,
        poll_seconds=0.05,
        provider_timeout=0.5,
        send_lease_seconds=3,
        retry_base_seconds=0,
    )
    rng = random.Random(20)
    for _ in range(kills):
        texted = len(fake.record()["messages"])
        worker = sms_worker(env, **settings)
        wait_until(
            lambda before=texted: len(fake.record()["messages"]) > before, 30, "a first send"
        )
        time.sleep(rng.uniform(0.0, 0.3))  # a random point: claiming, sending or recording
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        assert find_phone(read_output(worker)) is None
    texted = len(fake.record()["messages"])
    assert texted < n, "the kills came too late to interrupt anything"
    left_sending = _statuses(db)[InvitationStatus.SENDING]
    fake.delay(0)
    # the survivor: leases over at once, so the dead workers' sends are reconciled first
    final = sms_worker(env, once=True, **{**settings, "send_lease_seconds": 0})
    final.wait(90)
    output = read_output(final)
    assert final.returncode == 0, output[-2000:]
    assert find_phone(output) is None
    _each_texted_once(fake.record(), n)
    assert _statuses(db) == {InvitationStatus.SENT: n}
    print(
        f"\nworker kills: {kills} SIGKILLs, {texted} of {n} texted before the last one, "
        f"{left_sending} sends left unrecorded; after a restart each texted once"
    )


def test_a_provider_failing_in_every_way_texts_each_invitation_once(
    app, db, queue_invitations, provider, is_postgres
):
    if not is_postgres:
        pytest.skip("the worker in another process shares the database: the PostgreSQL run")
    base_url, fake = provider
    n = 60
    queue_invitations(n)
    db.session.remove()
    kinds = [429, 500, 503, ["timeout", True], ["timeout", False], "disconnect"]
    fake.fail_next(*kinds)  # each once, first
    fake.fail_randomly(0.3, kinds, seed=7)  # then three in ten, at random
    env = app_env(app.config["SQLALCHEMY_DATABASE_URI"], TWILIO_API_BASE_URL=base_url)
    worker = sms_worker(
        env,
        batch_size=10,
        worker_concurrency=5,
        poll_seconds=0.05,
        provider_timeout=0.3,
        send_lease_seconds=1,
        retry_base_seconds=0,
        retry_max_seconds=0.2,
        max_attempts=50,
    )
    try:
        wait_until(
            lambda: _statuses(db) == {InvitationStatus.SENT: n},
            90,
            "every invitation sent",
            every=0.25,
        )
    finally:
        stop(worker)
    output = read_output(worker)
    assert find_phone(output) is None
    record = fake.record()
    _each_texted_once(record, n)
    served = collections.Counter(str(f) for f in record["faults"])
    assert {str(k) for k in kinds} <= set(served), served  # every kind was met
    print(
        f"\nprovider faults: {n} invitations through {sum(served.values())} failures "
        f"({dict(served)}) in {record['requests']} requests; each texted once"
    )
