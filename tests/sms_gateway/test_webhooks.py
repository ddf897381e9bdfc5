"""/sms/inbound and /sms/status: signatures, duplicates, keywords, the conversation, expiry,
partial responses, delivery receipts, malformed bodies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from survey_app.models import (
    Conversation,
    ConversationStatus,
    Invitation,
    InvitationStatus,
    OptOut,
    Response,
    SmsMessage,
)

from .conftest import E164, make_due

S = InvitationStatus


@pytest.fixture
def invited(db, returned_dossier, run_worker, fake_twilio):
    """A dossier whose invitation the worker has sent; the invitation."""
    outcome = returned_dossier()
    assert outcome.invitation == "queued"
    run_worker()
    assert len(fake_twilio.messages) == 1
    return db.session.scalar(select(Invitation))


def _count(db, model) -> int:
    db.session.remove()
    return db.session.scalar(select(func.count()).select_from(model))


def test_bad_missing_or_proxy_signature_is_403(client, signed_post):
    params = {"From": E164, "Body": "5", "MessageSid": "SM1"}
    assert signed_post("/sms/inbound", params, token="not-the-token").status_code == 403
    assert client.post("/sms/inbound", data=params).status_code == 403
    # signed for the URL the app sees behind the proxy, not the public one
    proxied = signed_post("/sms/inbound", params, signed_url="http://localhost/sms/inbound")
    assert proxied.status_code == 403 and proxied.json["code"] == "forbidden"
    tampered = signed_post(
        "/sms/status?i=1",
        {"MessageSid": "SM1", "MessageStatus": "sent"},
        signed_url="https://mscore.test/sms/status?i=2",
    )
    assert tampered.status_code == 403


def test_public_url_is_checked_whatever_the_proxy_says(app, client, invited):
    from twilio.request_validator import RequestValidator

    params = {"From": E164, "Body": "5", "MessageSid": "SMproxy"}
    signature = RequestValidator(app.config["TWILIO_AUTH_TOKEN"]).compute_signature(
        "https://mscore.test/sms/inbound", params
    )
    response = client.post(
        "/sms/inbound",
        data=params,
        base_url="http://10.0.0.5:8000",
        headers={"X-Twilio-Signature": signature, "X-Forwarded-Host": "evil.example"},
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"From": E164},
        {"Body": "5", "MessageSid": "SM1"},
        {"From": "", "Body": "5", "MessageSid": "SM1"},
        {"From": E164, "Body": "x" * 5000, "MessageSid": "SM1"},
    ],
)
def test_malformed_inbound_is_400(signed_post, params):
    response = signed_post("/sms/inbound", params)
    assert response.status_code == 400 and response.json["code"] == "bad_request"


def test_malformed_bodies_are_4xx_never_500(client, signed_post):
    assert signed_post("/sms/status", {"MessageSid": "SM1"}).status_code == 400
    raw = client.post(
        "/sms/inbound",
        data=b"From=%ff%fe&Body=5",
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": "x"},
    )
    assert raw.status_code == 400
    big = signed_post("/sms/inbound", {"From": E164, "Body": "x" * 100_000, "MessageSid": "SM1"})
    assert big.status_code == 413
    unsigned = client.post("/sms/inbound", data={"Body": "x" * 100_000})
    assert unsigned.status_code == 403  # refused before its body is read
    json_body = client.post(
        "/sms/inbound", json={"From": E164}, headers={"X-Twilio-Signature": "x"}
    )
    assert json_body.status_code == 403
    assert client.get("/sms/inbound").status_code == 405


def test_unknown_number_gets_a_polite_answer_and_nothing_is_stored(db, reply, questionnaire):
    assert "khao sat" in reply("5", sender="+84987654321")
    assert "khao sat" in reply("xin chao", sender="not a number")
    assert _count(db, SmsMessage) == 0 and _count(db, Conversation) == 0
    assert _count(db, Response) == 0


def test_duplicate_delivery_is_processed_once(db, invited, reply):
    first = reply("4", sid="SMdup")
    assert "dung hen" in first
    assert reply("4", sid="SMdup") == ""  # the same MessageSid again: empty TwiML
    response = db.session.scalar(select(Response))
    assert len(response.answers) == 1 and _count(db, SmsMessage) == 1
    assert "thai do" in reply("4", sid="SMnext")  # a new message moves on


def test_stop_start_and_help(db, invited, reply, returned_dossier):
    assert "HUY" in reply("HD")
    assert "khong nhan" in reply("Hủy")
    db.session.remove()
    assert db.session.scalar(select(Invitation)).status == S.OPTED_OUT
    optout = db.session.scalar(select(OptOut))
    assert optout.revoked_at is None and optout.source == "keyword"
    assert "ket thuc" in reply("5")  # no answers after STOP
    assert _count(db, Response) == 0
    # honoured for later dossiers of the same number
    from survey_app.models import Office

    office = db.session.scalar(select(Office))
    assert returned_dossier(code="HS-002", office=office).invitation == "opted_out"
    assert "nhan lai" in reply("START")
    db.session.remove()
    assert db.session.scalar(select(OptOut)).revoked_at is not None
    assert "khong nhan" in reply("tu choi")
    assert db.session.scalar(select(OptOut)).revoked_at is None


def test_english_conversation(db, returned_dossier, run_worker, fake_twilio, reply):
    returned_dossier(language="en")
    run_worker()
    assert "Reply 1-5" in fake_twilio.messages[0]["body"]
    assert "on time" in reply("five")
    assert "Sorry" in reply("dunno")
    assert "STOP" in reply("help")


def test_unparseable_is_asked_again_once_then_ends(db, invited, reply):
    again = reply("xin chao")
    assert again.startswith("Xin loi") and "1-5" in again
    assert "ket thuc" in reply("??")
    conversation = db.session.scalar(select(Conversation))
    assert conversation.status == ConversationStatus.ENDED
    assert _count(db, Response) == 0
    assert "hoan thanh" in reply("5")


def test_partial_conversation_leaves_a_partial_response(app, db, invited, reply):
    assert "dung hen" in reply("3")
    assert "thai do" in reply("2")
    response = db.session.scalar(select(Response))
    assert response.is_partial and {a.question.code: a.value for a in response.answers} == {
        "overall": 3,
        "result_on_time": 2,
    }
    later = datetime.now(UTC) + timedelta(hours=73)
    with time_machine.travel(later, tick=False):
        assert "ket thuc" in reply("5")  # expired: nothing stored
        from sms_gateway.inbound import expire_stale

        expire_stale()
        db.session.commit()
    db.session.remove()
    response = db.session.scalar(select(Response))
    assert response.is_partial and len(response.answers) == 2
    conversation = db.session.scalar(select(Conversation))
    assert conversation.status == ConversationStatus.EXPIRED
    assert db.session.scalar(select(Invitation)).status == S.ANSWERED


def test_reply_after_expiry_stores_nothing(db, invited, reply):
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=72, minutes=1), tick=False):
        assert "ket thuc" in reply("5")
        from sms_gateway.inbound import expire_stale

        expire_stale()
        db.session.commit()
    assert _count(db, Response) == 0 and _count(db, Conversation) == 0
    assert _count(db, SmsMessage) == 0
    assert db.session.scalar(select(Invitation)).status == S.EXPIRED


def test_status_callbacks(db, invited, signed_post, fake_twilio):
    sid, path = fake_twilio.messages[0]["sid"], f"/sms/status?i={invited.id}"
    assert signed_post(path, {"MessageSid": sid, "MessageStatus": "sent"}).status_code == 204
    assert signed_post(path, {"MessageSid": sid, "MessageStatus": "delivered"}).status_code == 204
    db.session.remove()
    invitation = db.session.scalar(select(Invitation))
    assert invitation.status == S.DELIVERED and invitation.delivered_at
    failed = {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert signed_post(path, failed).status_code == 204
    db.session.remove()
    assert db.session.scalar(select(Invitation)).status == S.FAILED
    unknown = signed_post("/sms/status", {"MessageSid": "SMnope", "MessageStatus": "sent"})
    assert unknown.status_code == 204


def test_status_21610_becomes_an_opt_out(db, invited, signed_post, fake_twilio):
    sid = fake_twilio.messages[0]["sid"]
    signed_post("/sms/status", {"MessageSid": sid, "MessageStatus": "failed", "ErrorCode": "21610"})
    db.session.remove()
    assert db.session.scalar(select(Invitation)).status == S.OPTED_OUT
    assert db.session.scalar(select(OptOut)).source == "provider_21610"


def test_receipt_before_the_worker_records_the_send(
    db, queue_invitations, signed_post, run_worker, fake_twilio
):
    [invitation_id] = queue_invitations(1)
    from sms_gateway.outbox import claim_batch, record_results
    from sms_gateway.providers import Outcome, SendResult

    [claimed] = claim_batch(10)
    signed_post(
        f"/sms/status?i={invitation_id}", {"MessageSid": "SMfast", "MessageStatus": "delivered"}
    )
    record_results([(claimed, SendResult(Outcome.SENT, message_id="SMfast"))])
    db.session.remove()
    invitation = db.session.get(Invitation, invitation_id)
    assert invitation.status == S.DELIVERED and invitation.sent_at
    assert invitation.provider_message_id == "SMfast"


def test_late_delivery_receipt_keeps_the_answer(db, invited, reply, signed_post, fake_twilio):
    reply("5")
    signed_post(
        "/sms/status", {"MessageSid": fake_twilio.messages[0]["sid"], "MessageStatus": "delivered"}
    )
    db.session.remove()
    assert db.session.scalar(select(Invitation)).status == S.ANSWERED


def test_reply_goes_to_the_latest_invitation_of_a_number(
    db, invited, reply, returned_dossier, run_worker, fake_twilio
):
    from survey_app.models import Office

    office_id = db.session.scalar(select(Office.id))
    later = datetime.now(UTC) + timedelta(days=31)  # past the 30-day re-invite window
    with time_machine.travel(later, tick=True):
        office = db.session.get(Office, office_id)
        second = returned_dossier(code="HS-002", office=office)
        assert second.invitation == "queued"
        make_due(db)
        run_worker()
        assert [m["to"] for m in fake_twilio.messages] == [E164, E164]
        reply("5")
    response = db.session.scalar(select(Response))
    assert response.dossier.code == "HS-002"
