"""The outbox worker against the fake Twilio server: one text per invitation, retries with
backoff for transient failures, reconciliation of unknown outcomes, permanent failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from sms_gateway.providers import ConsoleProvider, Outcome, OutgoingSms, TwilioProvider
from survey_app.models import Invitation, InvitationStatus, OptOut

from .conftest import make_due, phone_number

S = InvitationStatus


def _invitations(db) -> list[Invitation]:
    db.session.remove()
    return list(db.session.scalars(select(Invitation).order_by(Invitation.id)))


def test_sends_every_due_invitation_once(db, fake_twilio, queue_invitations, run_worker):
    queue_invitations(12)
    worker = run_worker()
    assert worker.sent == 12
    assert sorted(m["to"] for m in fake_twilio.messages) == sorted(
        "+84" + phone_number(i)[1:] for i in range(12)
    )
    for invitation in _invitations(db):
        assert invitation.status == S.SENT and invitation.attempts == 1
        assert invitation.provider_message_id.startswith("SM") and invitation.sent_at
    run_worker()
    assert len(fake_twilio.messages) == 12


def test_uses_messaging_service_or_from_number(app, db, fake_twilio, queue_invitations, run_worker):
    queue_invitations(1)
    run_worker()
    assert fake_twilio.messages[0]["messaging_service_sid"].startswith("MG")
    app.config.update(TWILIO_MESSAGING_SERVICE_SID="", TWILIO_FROM_NUMBER="+15005550006")
    queue_invitations(1, start=1)
    run_worker()
    assert fake_twilio.messages[1]["from"] == "+15005550006"


@pytest.mark.parametrize("failure", [429, 503])
def test_transient_failure_is_retried_with_backoff(
    db, fake_twilio, queue_invitations, run_worker, failure
):
    queue_invitations(1)
    fake_twilio.fail_next(failure)
    before = datetime.now(UTC)
    run_worker()
    [invitation] = _invitations(db)
    assert invitation.status == S.QUEUED and invitation.attempts == 1
    assert invitation.error_code == ("20429" if failure == 429 else "20500")
    # base 60 s: the first retry waits between 30 and 60 seconds (jitter)
    wait = (invitation.next_attempt_at - before).total_seconds()
    assert 29 <= wait <= 61
    run_worker()  # not due yet
    assert fake_twilio.messages == []
    make_due(db)
    run_worker()
    [invitation] = _invitations(db)
    assert invitation.status == S.SENT and invitation.attempts == 2
    assert len(fake_twilio.messages) == 1


def test_backoff_grows_and_gives_up_after_max_attempts(
    app, db, fake_twilio, queue_invitations, run_worker
):
    app.config["SMS_MAX_ATTEMPTS"] = 3
    queue_invitations(1)
    fake_twilio.fail_next(429, 429, 429)
    waits = []
    for _ in range(3):
        before = datetime.now(UTC)
        run_worker()
        [invitation] = _invitations(db)
        waits.append((invitation.next_attempt_at - before).total_seconds())
        make_due(db)
    assert invitation.status == S.FAILED
    assert invitation.error_message.startswith("gave up after 3 attempts")
    assert 59 <= waits[1] <= 121  # the second wait is drawn from [60, 120]
    assert fake_twilio.messages == []


@pytest.mark.parametrize(
    "code, status", [(21211, S.FAILED), (21614, S.FAILED), (21408, S.FAILED), (21610, S.OPTED_OUT)]
)
def test_permanent_failure_ends_the_invitation(
    db, fake_twilio, queue_invitations, run_worker, code, status
):
    queue_invitations(1)
    fake_twilio.fail_next(("error", code))
    run_worker()
    [invitation] = _invitations(db)
    assert invitation.status == status and invitation.error_code == str(code)
    optout = db.session.scalar(select(OptOut))
    assert (optout is not None) == (code == 21610)
    make_due(db, stale=True)
    run_worker()
    assert fake_twilio.messages == [] and fake_twilio.requests == 1


@pytest.mark.parametrize("failure", [500, 502, "disconnect", ("timeout", False)])
def test_unknown_outcome_not_sent_is_reconciled_then_retried(
    db, fake_twilio, queue_invitations, run_worker, failure
):
    queue_invitations(1)
    fake_twilio.fail_next(failure)
    run_worker()
    [invitation] = _invitations(db)
    assert invitation.status == S.SENDING  # outcome unknown: not retried blindly
    run_worker()
    assert fake_twilio.requests == 1  # nothing re-sent within the lease
    make_due(db, stale=True)
    run_worker()  # the provider has no such message: requeued with backoff
    [invitation] = _invitations(db)
    assert invitation.status == S.QUEUED and invitation.error_code == "not_sent"
    make_due(db)
    run_worker()
    [invitation] = _invitations(db)
    assert invitation.status == S.SENT and len(fake_twilio.messages) == 1


def test_timeout_after_the_provider_accepted_is_not_sent_twice(
    db, fake_twilio, queue_invitations, run_worker
):
    queue_invitations(1)
    fake_twilio.fail_next(("timeout", True))  # Twilio keeps the message but answers too late
    run_worker()
    [invitation] = _invitations(db)
    assert invitation.status == S.SENDING and invitation.error_code == "timeout"
    make_due(db, stale=True)
    run_worker()
    [invitation] = _invitations(db)
    [message] = fake_twilio.messages
    assert invitation.status == S.SENT and invitation.provider_message_id == message["sid"]


def test_connection_refused_is_a_safe_retry():
    provider = TwilioProvider(
        "AC" + "0" * 32,
        "token",
        from_number="+15005550006",
        base_url="http://127.0.0.1:9",
        timeout=0.5,
    )
    result = provider.send(OutgoingSms(1, "+84912345678", "hello"))
    assert result.outcome == Outcome.RETRY and result.error_code == "connection"


def test_wrong_credentials_are_retried_not_failed(
    app, db, fake_twilio, queue_invitations, run_worker
):
    app.config["TWILIO_AUTH_TOKEN"] = "wrong"
    queue_invitations(1)
    run_worker()
    [invitation] = _invitations(db)
    assert invitation.status == S.QUEUED and invitation.error_code == "20003"


def test_no_database_connection_is_held_during_the_provider_call(db, queue_invitations, run_worker):
    seen, pool = [], db.engine.pool

    class Watching(ConsoleProvider):
        def send(self, sms):
            seen.append(pool.checkedout())
            return super().send(sms)

    queue_invitations(3)
    run_worker(Watching())
    assert seen == [0, 0, 0]


def test_opted_out_after_queueing_is_never_sent(db, fake_twilio, queue_invitations, run_worker):
    from survey_app.protection import normalize_phone, phone_hash

    queue_invitations(2)
    e164, _ = normalize_phone(phone_number(0))
    db.session.add(OptOut(phone_hash=phone_hash(e164), source="keyword"))
    db.session.commit()
    run_worker()
    statuses = [i.status for i in _invitations(db)]
    assert statuses == [S.OPTED_OUT, S.SENT]
    assert [m["to"] for m in fake_twilio.messages] == ["+84" + phone_number(1)[1:]]


def test_console_provider_logs_the_text_never_the_number(
    app, db, queue_invitations, run_worker, caplog
):
    import logging

    app.config["SMS_PROVIDER"] = "console"
    queue_invitations(1)
    for name in ("sms_gateway.providers", "sms_gateway.worker", "sms_gateway.outbox"):
        logging.getLogger(name).disabled = False  # alembic's fileConfig disabled them
    with caplog.at_level("DEBUG"):
        run_worker()
    assert "Q-00000" in caplog.text
    assert phone_number(0)[1:] not in caplog.text
    assert _invitations(db)[0].status == S.SENT


def test_nothing_is_sent_in_quiet_hours(app, db, fake_twilio, queue_invitations, run_worker):
    import time_machine

    app.config.update(SMS_QUIET_START=21, SMS_QUIET_END=7)
    queue_invitations(1)
    make_due(db)
    from zoneinfo import ZoneInfo

    hanoi = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")) + timedelta(days=1)
    night = hanoi.replace(hour=22, minute=30)  # tomorrow 22:30 in Hanoi
    with time_machine.travel(night, tick=True):
        run_worker()
    assert fake_twilio.messages == []
    with time_machine.travel(night + timedelta(hours=9), tick=True):  # 07:30
        run_worker()
    assert len(fake_twilio.messages) == 1


def test_tests_cannot_reach_real_twilio(app):
    from sms_gateway.providers import make_provider

    app.config["TWILIO_API_BASE_URL"] = ""
    with pytest.raises(RuntimeError, match="never reach Twilio"):
        make_provider(app)


def test_worker_warns_when_the_lease_is_shorter_than_a_batch(app, db, monkeypatch):
    from sms_gateway import worker

    warnings = []  # the module's logger (alembic's logging set-up may have disabled it)
    monkeypatch.setattr(worker.log, "warning", lambda msg, *args: warnings.append(msg % args))
    # conftest: concurrency 4, timeout 0.5 s; 100 texts need 13 s at worst, the lease is 30 s
    worker.run_worker(once=True)
    assert warnings == []
    app.config["SMS_SEND_LEASE_SECONDS"] = 10.0
    worker.run_worker(once=True)
    assert warnings and warnings[0].startswith(
        "SMS_SEND_LEASE_SECONDS=10.0 is not above the slowest batch (12.5 s: 100 texts"
    )


#: Twilio's own error texts, which quote the number (as the API and its client library give them).
TWILIO_TEXTS = [
    (21211, "The 'To' number {e164} is not a valid phone number."),
    (21211, "The 'To' number {local} is not a valid phone number."),
    (21614, "To number: {e164}, is not a mobile number"),
    (
        21408,
        "Permission to send an SMS has not been enabled for the region indicated by the "
        "'To' number: {e164}.",
    ),
    (
        21612,
        "The 'To' phone number: {spaced}, is not currently reachable using the 'From' phone "
        "number: +1 (500) 555-0006 via SMS.",
    ),
]


@pytest.mark.parametrize("code, template", TWILIO_TEXTS)
def test_provider_error_texts_are_stored_without_the_number(
    db, fake_twilio, queue_invitations, run_worker, code, template
):
    queue_invitations(1)
    local = phone_number(0)  # 0980000000
    e164 = "+84" + local[1:]
    spaced = f"+84 {local[1:4]} {local[4:7]} {local[7:]}"
    fake_twilio.fail_next(("error", code, template.format(e164=e164, local=local, spaced=spaced)))
    run_worker()
    [invitation] = _invitations(db)
    assert invitation.status == S.FAILED and invitation.error_code == str(code)
    stored = invitation.error_message
    assert "[phone]" in stored and stored.startswith("Unable to create record: ")
    digits = "".join(ch for ch in stored if ch.isdigit())
    assert local[1:] not in digits and "5550006" not in digits


def test_retried_error_texts_are_stored_without_the_number(
    app, db, fake_twilio, queue_invitations, run_worker
):
    app.config["SMS_MAX_ATTEMPTS"] = 1
    queue_invitations(1)
    fake_twilio.fail_next(429)
    run_worker()
    [invitation] = _invitations(db)
    assert invitation.status == S.FAILED
    assert invitation.error_message.startswith("gave up after 1 attempts: ")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("The 'To' number +84912345678 is not valid.", "The 'To' number [phone] is not valid."),
        ("number 0912345678, again", "number [phone], again"),
        ("number 0912 345 678.", "number [phone]."),
        ("number 0912.345.678", "number [phone]"),
        ("(+84) 912-345-678 failed", "[phone] failed"),
        ("+1 (555) 867-5310", "[phone]"),
        ("to:84912345678", "to:[phone]"),
        ("Twilio error 21211 (HTTP 400)", "Twilio error 21211 (HTTP 400)"),
        (
            "see https://www.twilio.com/docs/errors/21211",
            "see https://www.twilio.com/docs/errors/21211",
        ),
        (
            "message SM0123456789abcdef0123456789abcdef",
            "message SM0123456789abcdef0123456789abcdef",
        ),
        ("gave up after 5 attempts: HTTP 429", "gave up after 5 attempts: HTTP 429"),
        ("", ""),
        (None, None),
    ],
)
def test_without_phone_numbers(text, expected):
    from sms_gateway.providers import without_phone_numbers

    assert without_phone_numbers(text) == expected


# --- `flask sms worker --once` says why it sent nothing ------------------------------------------
def _worker_cli(app) -> list[str]:
    result = app.test_cli_runner().invoke(args=["sms", "worker", "--once"])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()


def test_worker_cli_explains_quiet_hours_and_when_sending_resumes(
    app, db, fake_twilio, queue_invitations
):
    from zoneinfo import ZoneInfo

    import time_machine

    app.config.update(SMS_QUIET_START=21, SMS_QUIET_END=7)
    queue_invitations(2)
    make_due(db)
    day = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date() + timedelta(days=1)
    night = datetime(day.year, day.month, day.day, 22, 30, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    with time_machine.travel(night, tick=True):
        lines = _worker_cli(app)
    morning = day + timedelta(days=1)
    assert lines == [
        "quiet hours (21:00-07:00 Asia/Ho_Chi_Minh): nothing is sent now; sending resumes at "
        f"07:00 on {morning.isoformat()} (Asia/Ho_Chi_Minh); 2 queued, the next due at "
        f"{_local(db)}",
        "sent 0",
    ]
    assert fake_twilio.messages == []


def _local(db) -> str:
    from zoneinfo import ZoneInfo

    first = min(i.next_attempt_at for i in _invitations(db))
    return first.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).strftime(
        "%H:%M on %Y-%m-%d (Asia/Ho_Chi_Minh)"
    )


def test_worker_cli_explains_nothing_due(app, db, fake_twilio, queue_invitations):
    assert _worker_cli(app) == ["nothing was due: no invitation is queued", "sent 0"]
    queue_invitations(1)
    from sqlalchemy import update

    later = datetime.now(UTC) + timedelta(hours=2)
    db.session.execute(update(Invitation).values(next_attempt_at=later))
    db.session.commit()
    assert _worker_cli(app) == [
        f"nothing was due: 1 queued, the next due at {_local(db)}",
        "sent 0",
    ]


def test_worker_cli_explains_opted_out_and_failed(app, db, fake_twilio, queue_invitations):
    from survey_app.protection import normalize_phone, phone_hash

    queue_invitations(4)
    for i in (0, 1):
        e164 = normalize_phone(phone_number(i))[0]
        db.session.add(OptOut(phone_hash=phone_hash(e164), source="keyword"))
    db.session.commit()
    fake_twilio.fail_next(("error", 21211), 429)
    lines = _worker_cli(app)
    assert lines == [
        "not sent: 1 failed permanently (see the invitations' error codes); "
        "2 skipped: the number opted out; "
        "1 will be retried later (a transient provider error)",
        "sent 0",
    ]
    # everything sent: nothing to explain
    make_due(db)
    assert _worker_cli(app) == ["sent 1"]


def test_a_batch_claims_no_more_than_its_limit(db, queue_invitations):
    """On PostgreSQL the due rows are picked once: as an IN (subquery) the planner re-ran the
    subquery per updated row, SKIP LOCKED passed over the rows just claimed, and claim_batch(1)
    took every queued invitation."""
    from sms_gateway.outbox import claim_batch

    queue_invitations(5)
    assert len(claim_batch(1)) == 1
    assert len(claim_batch(3)) == 3
    assert len(claim_batch(3)) == 1
    statuses = [i.status for i in _invitations(db)]
    assert statuses == [S.SENDING] * 5
