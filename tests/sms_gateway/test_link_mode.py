"""Link mode (SMS_MODE=link, Vietnam's default): the worker sends the dossier's personal rating
link through the real twilio client to the fake server, records the mode on the invitation, and
a reply to such a text starts no conversation."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from sms_gateway.texts import segments
from survey_app.models import (
    Conversation,
    Invitation,
    InvitationStatus,
    OptOut,
    Response,
    SmsMessage,
    SmsMode,
)
from survey_app.services.rating_links import SMS, read_token

from .conftest import E164, make_due, sms_config
from .conftest import sid as make_sid

S = InvitationStatus
LINK = re.compile(r"https://mscore\.test/r/([A-Za-z0-9_-]{16,22})$")


@pytest.fixture
def app_config(database_url, fake_twilio):
    return sms_config(database_url, fake_twilio.base_url, mode="link")


@pytest.fixture
def invited(db, returned_dossier, run_worker, fake_twilio):
    """A dossier whose link-mode invitation the worker has sent; the invitation."""
    assert returned_dossier().invitation == "queued"
    run_worker()
    assert len(fake_twilio.messages) == 1
    return db.session.scalar(select(Invitation))


def _count(db, model) -> int:
    db.session.remove()
    return db.session.scalar(select(func.count()).select_from(model))


def test_the_worker_sends_the_dossiers_personal_link(db, invited, fake_twilio):
    [message] = fake_twilio.messages
    assert message["to"] == E164
    body = message["body"]
    token = LINK.search(body).group(1)
    assert read_token(token) == (invited.dossier_id, SMS)  # the dossier, for the SMS purpose
    assert body.startswith("So Tu phap tinh Quang Tri: ho so HS-001 da co ket qua.")
    assert segments(body)[0] == "gsm7" and segments(body)[1] <= 2
    assert "1-5" not in body and "HUY" not in body  # nothing to reply to a brand-name sender
    assert invited.mode == SmsMode.LINK and invited.status == S.SENT


def test_the_mode_is_recorded_when_the_text_is_built(app, db, queue_invitations, run_worker):
    from sms_gateway.outbox import claim_batch, record_results
    from sms_gateway.providers import Outcome, SendResult

    queue_invitations(2)
    assert {i.mode for i in db.session.scalars(select(Invitation))} == {None}  # queued: no text
    [claimed] = claim_batch(1)
    record_results([(claimed, SendResult(Outcome.SENT, message_id=make_sid("one")))])
    app.config["SMS_MODE"] = "reply"  # the deployment switches: the next text asks for replies
    run_worker()
    first = claimed.sms.invitation_id
    modes = {i.id == first: i.mode for i in db.session.scalars(select(Invitation))}
    assert modes == {True: SmsMode.LINK, False: SmsMode.REPLY}


def test_an_unknown_send_is_reconciled_with_the_body_it_was_sent_with(
    app, db, fake_twilio, queue_invitations, run_worker
):
    queue_invitations(1)
    fake_twilio.fail_next(("timeout", True))  # Twilio keeps the link text, answers too late
    run_worker()
    app.config["SMS_MODE"] = "reply"  # changed meanwhile: the reconciliation still finds it
    make_due(db, stale=True)
    run_worker()
    [message] = fake_twilio.messages
    invitation = db.session.scalar(select(Invitation))
    assert invitation.status == S.SENT and invitation.provider_message_id == message["sid"]
    assert invitation.mode == SmsMode.LINK and LINK.search(message["body"])


def test_a_reply_starts_no_conversation_and_gets_the_link_again(db, invited, reply, fake_twilio):
    link = LINK.search(fake_twilio.messages[0]["body"]).group(0)
    assert reply("5") == f"Cam on Ong/Ba. Xin moi danh gia tai {link}"
    assert reply("Can bo rat tot") == f"Cam on Ong/Ba. Xin moi danh gia tai {link}"
    assert "duong link" in reply("HD")
    assert _count(db, Conversation) == 0 and _count(db, Response) == 0
    assert db.session.scalar(select(Invitation.status)) == S.SENT
    assert _count(db, SmsMessage) == 3  # kept only to drop re-deliveries


def test_stop_and_start_work_in_link_mode(db, invited, reply):
    assert "khong nhan" in reply("HUY")
    db.session.remove()
    assert db.session.scalar(select(Invitation.status)) == S.OPTED_OUT
    assert "ket thuc" in reply("5")
    assert "nhan lai" in reply("DK")
    assert db.session.scalar(select(OptOut.revoked_at)) is not None


def test_a_reply_after_the_link_was_used_or_closed(db, invited, reply):
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=73), tick=True):
        assert "ket thuc" in reply("5")  # the window has passed
    invitation = db.session.scalar(select(Invitation))
    invitation.move_to(S.ANSWERED)  # what the web form does when the link's rating arrives
    db.session.commit()
    assert "hoan thanh" in reply("5")
    assert _count(db, Response) == 0


def test_a_redelivered_reply_in_link_mode_gets_no_second_text(db, invited, reply):
    assert "danh gia tai" in reply("5", sid=make_sid("link"))
    assert reply("5", sid=make_sid("link")) == ""
    assert _count(db, SmsMessage) == 1


def test_the_worker_cli_sends_the_link(app, db, returned_dossier, fake_twilio):
    returned_dossier()
    result = app.test_cli_runner().invoke(args=["sms", "worker", "--once"])
    assert result.output.strip().splitlines()[-1] == "sent 1"
    assert LINK.search(fake_twilio.messages[0]["body"])
