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
from .conftest import sid as make_sid

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
    params = {"From": E164, "Body": "5", "MessageSid": make_sid("1")}
    assert signed_post("/sms/inbound", params, token="not-the-token").status_code == 403
    assert client.post("/sms/inbound", data=params).status_code == 403
    # signed for the URL the app sees behind the proxy, not the public one
    proxied = signed_post("/sms/inbound", params, signed_url="http://localhost/sms/inbound")
    assert proxied.status_code == 403 and proxied.json["code"] == "forbidden"
    tampered = signed_post(
        "/sms/status?i=1",
        {"MessageSid": make_sid("1"), "MessageStatus": "sent"},
        signed_url="https://mscore.test/sms/status?i=2",
    )
    assert tampered.status_code == 403


def test_public_url_is_checked_whatever_the_proxy_says(app, client, invited):
    from twilio.request_validator import RequestValidator

    from sms_gateway.fake_twilio import ACCOUNT_SID

    params = {"From": E164, "Body": "5", "MessageSid": make_sid("proxy"), "AccountSid": ACCOUNT_SID}
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
        {"Body": "5", "MessageSid": make_sid("1")},
        {"From": "", "Body": "5", "MessageSid": make_sid("1")},
        {"From": E164, "Body": "x" * 5000, "MessageSid": make_sid("1")},
    ],
)
def test_malformed_inbound_is_400(signed_post, params):
    response = signed_post("/sms/inbound", params)
    assert response.status_code == 400 and response.json["code"] == "bad_request"


def test_malformed_bodies_are_4xx_never_500(client, signed_post):
    assert signed_post("/sms/status", {"MessageSid": make_sid("1")}).status_code == 400
    raw = client.post(
        "/sms/inbound",
        data=b"From=%ff%fe&Body=5",
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": "x"},
    )
    assert raw.status_code == 400
    big = signed_post(
        "/sms/inbound", {"From": E164, "Body": "x" * 100_000, "MessageSid": make_sid("1")}
    )
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
    assert _count(db, Conversation) == 0 and _count(db, Response) == 0
    # only the MessageSids, to drop re-deliveries; not the numbers of strangers
    assert db.session.scalars(select(SmsMessage.phone_hash)).all() == [None, None]


def test_duplicate_delivery_is_processed_once(db, invited, reply):
    first = reply("4", sid=make_sid("dup"))
    assert "dung hen" in first
    assert reply("4", sid=make_sid("dup")) == ""  # the same MessageSid again: empty TwiML
    response = db.session.scalar(select(Response))
    assert len(response.answers) == 1 and _count(db, SmsMessage) == 1
    assert "thai do" in reply("4", sid=make_sid("next"))  # a new message moves on


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


def test_stop_after_answering_keeps_the_answer_and_ends_the_conversation(db, invited, reply):
    assert "dung hen" in reply("4")
    assert "khong nhan" in reply("STOP")
    db.session.remove()
    assert db.session.scalar(select(Invitation.status)) == S.ANSWERED  # counted as answered
    assert db.session.scalar(select(OptOut.revoked_at)) is None  # and no more texts
    assert db.session.scalar(select(Conversation.status)) == ConversationStatus.ENDED
    assert _answers(db) == {"overall": (4, None)}


@pytest.mark.parametrize("word", ["DK", "Đăng ký", "BAT DAU", "bắt đầu"])
def test_vietnamese_words_opt_back_in(db, invited, reply, word):
    assert "Nhan DK de nhan lai" in reply("HUY")
    assert "nhan lai" in reply(word)
    db.session.remove()
    assert db.session.scalar(select(OptOut)).revoked_at is not None


def test_english_conversation(db, returned_dossier, run_worker, fake_twilio, reply):
    returned_dossier(language="en")
    run_worker()
    assert "Reply 1-5" in fake_twilio.messages[0]["body"]
    assert "on time" in reply("five")
    assert "Sorry" in reply("dunno")
    assert "next question" in reply("dunno")
    assert "STOP" in reply("help")


def _answers(db) -> dict:
    db.session.remove()
    response = db.session.scalar(select(Response))
    return {a.question.code: (a.value, a.text) for a in response.answers} if response else {}


def test_a_misunderstood_reply_is_asked_again_once_then_the_next_question(db, invited, reply):
    again = reply("Cán bộ làm việc chậm quá")
    assert again.startswith("Xin loi") and "1-5" in again
    # the words are the citizen's comment: kept at once, the rating still to come
    assert _answers(db) == {"comment": (None, "Cán bộ làm việc chậm quá")}
    moved = reply("phải chờ cả buổi sáng")
    assert "tiep theo" in moved and "dung hen" in moved  # the conversation goes on
    conversation = db.session.scalar(select(Conversation))
    assert conversation.status == ConversationStatus.ACTIVE
    assert (conversation.step, conversation.retries) == (1, 0)
    assert _answers(db) == {
        "comment": (None, "Cán bộ làm việc chậm quá\nphải chờ cả buổi sáng"),
    }
    assert db.session.scalar(select(Invitation)).status == S.ANSWERED
    assert "thai do" in reply("2")
    assert "tien ngoai" in reply("3")
    assert "gop y" in reply("khong")
    assert "Cam on" in reply("Nên có thêm ghế ngồi")
    conversation = db.session.scalar(select(Conversation))
    assert conversation.status == ConversationStatus.COMPLETED
    answers = _answers(db)
    assert answers["result_on_time"] == (2, None) and "overall" not in answers
    assert answers["comment"] == (
        None,
        "Cán bộ làm việc chậm quá\nphải chờ cả buổi sáng\nNên có thêm ghế ngồi",
    )
    response = db.session.scalar(select(Response))
    assert response.is_partial  # the overall rating was never given


def test_a_reply_without_words_is_not_kept(db, invited, reply):
    assert reply("??").startswith("Xin loi")
    assert "tiep theo" in reply("...")
    assert _count(db, Response) == 0
    assert db.session.scalar(select(Invitation)).status == S.SENT
    assert "thai do" in reply("4")  # and the conversation goes on
    assert _answers(db) == {"result_on_time": (4, None)}


def test_misunderstood_at_the_last_question_completes(app, db, invited, reply):
    app.config["SMS_QUESTIONS"] = ("staff_polite",)
    assert "thai do" in reply("5")
    assert reply("hmm").startswith("Xin loi")
    assert "Cam on" in reply("hmm")
    conversation = db.session.scalar(select(Conversation))
    assert conversation.status == ConversationStatus.COMPLETED
    assert _answers(db) == {"overall": (5, None), "comment": (None, "hmm")}
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
    unknown = signed_post("/sms/status", {"MessageSid": make_sid("nope"), "MessageStatus": "sent"})
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
        f"/sms/status?i={invitation_id}",
        {"MessageSid": make_sid("fast"), "MessageStatus": "delivered"},
    )
    record_results([(claimed, SendResult(Outcome.SENT, message_id=make_sid("fast")))])
    db.session.remove()
    invitation = db.session.get(Invitation, invitation_id)
    assert invitation.status == S.DELIVERED and invitation.sent_at
    assert invitation.provider_message_id == make_sid("fast")


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


# --- #16 §6: identifiers checked before anything is stored or deduplicated ---------------------
def test_message_sid_merged_with_the_next_field_keeps_a_valid_signature_but_is_refused(
    app, db, invited, client
):
    """Twilio signs names and values joined without separators: MessageSid=SM…NumMedia0 signs as
    MessageSid=SM… plus NumMedia=0. The format check refuses the merged value."""
    from twilio.request_validator import RequestValidator

    from sms_gateway.fake_twilio import ACCOUNT_SID, AUTH_TOKEN

    genuine = {
        "AccountSid": ACCOUNT_SID,
        "Body": "5",
        "From": E164,
        "MessageSid": make_sid("genuine"),
        "NumMedia": "0",
    }
    validator = RequestValidator(AUTH_TOKEN)
    signature = validator.compute_signature("https://mscore.test/sms/inbound", genuine)
    merged = {k: v for k, v in genuine.items() if k != "NumMedia"}
    merged["MessageSid"] += "NumMedia0"
    assert validator.validate("https://mscore.test/sms/inbound", merged, signature)
    answer = client.post("/sms/inbound", data=merged, headers={"X-Twilio-Signature": signature})
    assert answer.status_code == 400 and answer.json["details"] == {"fields": ["MessageSid"]}
    assert "32 hexadecimal digits" in answer.json["message"]
    assert _count(db, SmsMessage) == 0 and _count(db, Response) == 0


@pytest.mark.parametrize("path", ["/sms/inbound", "/sms/status"])
@pytest.mark.parametrize(
    "message_sid",
    [
        "SM" + "a" * 31,
        "SM" + "a" * 33,
        "SM" + "g" * 32,
        "sm" + "a" * 32,
        "AC" + "a" * 32,
        "SM" + "a" * 32 + "MessagingServiceSid" + "MG" + "e" * 32,  # overflowed the column
        "SM" + "a" * 32 + "\n",
        "",
    ],
)
def test_malformed_message_sid_is_400(db, signed_post, path, message_sid):
    params = {"From": E164, "Body": "5", "MessageSid": message_sid, "MessageStatus": "sent"}
    answer = signed_post(path, params)
    assert answer.status_code == 400 and answer.json["code"] == "bad_request"
    assert answer.json["details"] == {"fields": ["MessageSid"]}
    assert _count(db, SmsMessage) == 0


@pytest.mark.parametrize("path", ["/sms/inbound", "/sms/status"])
@pytest.mark.parametrize(
    "account", [None, "", "AC" + "0" * 32, "AC" + "f" * 32 + "MessageSid", "ac" + "f" * 32]
)
def test_account_sid_must_be_the_configured_account(db, signed_post, path, account):
    params = {"From": E164, "Body": "5", "MessageSid": make_sid("a"), "MessageStatus": "sent"}
    if account is not None:
        params["AccountSid"] = account
    answer = signed_post(path, params, account=False)
    assert answer.status_code == 400 and answer.json["details"] == {"fields": ["AccountSid"]}
    assert _count(db, SmsMessage) == 0


def test_an_mms_sid_is_accepted(invited, reply):
    assert "dung hen" in reply("5", sid="MM" + "0123456789abcdef" * 2)


@pytest.mark.parametrize(
    "params, path",
    [
        ({"ErrorCode": "30003; DROP"}, "/sms/status"),
        ({"ErrorCode": "3" * 40}, "/sms/status"),  # longer than the error_code column
        ({}, "/sms/status?i=" + "9" * 40),  # beyond 64 bits
        ({}, "/sms/status?i=%C2%B2"),  # a superscript two: isdigit() but not int()
    ],
)
def test_malformed_status_fields_are_400(db, invited, signed_post, fake_twilio, params, path):
    answer = signed_post(
        path,
        {"MessageSid": fake_twilio.messages[0]["sid"], "MessageStatus": "failed", **params},
    )
    assert answer.status_code == 400 and answer.json["code"] == "bad_request"
    db.session.remove()
    assert db.session.scalar(select(Invitation)).status == S.SENT


# --- #20 §1: a re-delivered MessageSid is dropped first, in every branch -----------------------
def _complete(reply):
    for body in ("5", "5", "5", "khong", "khong"):
        reply(body)


def _expire_invitation(db):
    db.session.execute(db.update(Invitation).values(status=S.EXPIRED))
    db.session.commit()


def _end_conversation(db, reply):
    reply("5")
    db.session.execute(db.update(Conversation).values(status=ConversationStatus.ENDED))
    db.session.commit()


def _rate_on_the_web(db):
    from survey_app.models import Channel
    from survey_app.services.questionnaires import current_questionnaire

    invitation = db.session.scalar(select(Invitation))
    dossier = invitation.dossier
    db.session.add(
        Response(
            office_id=dossier.office_id,
            dossier_id=dossier.id,
            questionnaire=current_questionnaire(),
            channel=Channel.QR_WEB,
        )
    )
    db.session.commit()


BRANCHES = {
    # name: (set-up, the re-delivered body, sender, a word of the first answer)
    "unknown sender": (None, "5", "+84987654321", "khao sat"),
    "not a number": (None, "5", "not a number", "khao sat"),
    "help": (None, "HD", E164, "HUY"),
    "stop": (None, "HUY", E164, "khong nhan"),
    "start": ("stop", "START", E164, "nhan lai"),
    "stop again": ("stop", "HUY", E164, "khong nhan"),
    "first answer": (None, "5", E164, "dung hen"),
    "misunderstood": (None, "xin chao", E164, "Xin loi"),
    "completed": ("complete", "5", E164, "hoan thanh"),
    "conversation ended": ("end", "5", E164, "hoan thanh"),
    "invitation expired": ("expire", "5", E164, "ket thuc"),
    "window passed": ("late", "5", E164, "ket thuc"),
    "rated on the web meanwhile": ("web", "5", E164, "hoan thanh"),
}


@pytest.mark.parametrize("branch", list(BRANCHES))
def test_a_redelivered_message_never_gets_a_second_text(db, invited, reply, branch):
    setup, body, sender, word = BRANCHES[branch]
    if setup == "stop":
        reply("HUY")
    elif setup == "complete":
        _complete(reply)
    elif setup == "end":
        _end_conversation(db, reply)
    elif setup == "expire":
        _expire_invitation(db)
    elif setup == "web":
        _rate_on_the_web(db)
    travel = time_machine.travel(
        datetime.now(UTC) + timedelta(hours=73 if setup == "late" else 0), tick=True
    )
    with travel:
        before = _state(db)
        first = reply(body, sender=sender, sid=make_sid(branch))
        assert word in first
        after = _state(db)
        for _ in range(2):  # Twilio retries: each re-delivery gets an empty TwiML, changes nothing
            assert reply(body, sender=sender, sid=make_sid(branch)) == ""
            assert _state(db) == after
    assert after["messages"] == before["messages"] + 1


def _state(db) -> dict:
    db.session.remove()
    optout = db.session.scalar(select(OptOut))
    conversation = db.session.scalar(select(Conversation))
    return {
        "messages": _count(db, SmsMessage),
        "answers": [
            (a.question.code, a.value, a.text)
            for r in db.session.scalars(select(Response))
            for a in r.answers
        ],
        "conversation": conversation and (conversation.step, conversation.retries),
        "optout": optout and (optout.revoked_at is None),
        "invitation": db.session.scalar(select(Invitation.status)),
    }
