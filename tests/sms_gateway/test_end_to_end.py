"""End to end: a dossier posted through the API, sent by the worker through the real twilio
client to the fake server, answered by signed replies, stored as an SMS response."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from survey_app.models import (
    Channel,
    Conversation,
    ConversationStatus,
    Invitation,
    InvitationStatus,
    Response,
)

from .conftest import E164


def test_dossier_to_sms_response(
    app,
    db,
    client,
    make_office,
    make_service,
    questionnaire,
    fake_twilio,
    run_worker,
    reply,
    signed_post,
):
    from survey_app.api.auth import create_token

    office = make_office(code="HCC-QT", name="Trung tâm Phục vụ hành chính công tỉnh Quảng Trị")
    service = make_service(code="1.0001", office=office)
    _, token = create_token("one-stop", office)
    db.session.commit()
    office_id, service_id, questionnaire_id = office.id, service.id, questionnaire.id
    now = datetime.now(UTC)
    answer = client.post(
        "/api/v1/dossiers",
        json={
            "office_code": "HCC-QT",
            "code": "000.00.01.H50-250101-0001",
            "service_code": "1.0001",
            "phone": "0912 345 678",
            "received_at": (now - timedelta(days=5)).isoformat(),
            "due_at": now.isoformat(),
            "returned_at": now.isoformat(),
            "contact_consent": True,
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 201, answer.json
    assert answer.json["status"] == "created" and answer.json["invitation"] == "eligible"
    assert "0912" not in answer.get_data(as_text=True) and "84912" not in answer.get_data(True)

    run_worker()
    [message] = fake_twilio.messages
    assert message["to"] == E164
    assert "000.00.01.H50-250101-0001" in message["body"]
    assert "Trung tam Phuc vu hanh chinh cong tinh Quang Tri" in message["body"]
    invitation = db.session.scalar(select(Invitation))
    assert message["status_callback"] == f"https://mscore.test/sms/status?i={invitation.id}"
    assert invitation.status == InvitationStatus.SENT
    assert invitation.provider_message_id == message["sid"]

    status = signed_post(
        f"/sms/status?i={invitation.id}",
        {"MessageSid": message["sid"], "MessageStatus": "delivered"},
    )
    assert status.status_code == 204
    db.session.expire_all()
    assert invitation.status == InvitationStatus.DELIVERED and invitation.delivered_at

    assert "dung hen" in reply("5 sao")
    assert "thai do" in reply("Rất hài lòng")
    assert "tien ngoai quy dinh" in reply(" 4. ")
    assert "gop y" in reply("không")
    assert "Cam on" in reply("Can bo nhiet tinh, cam on!")

    response = db.session.scalar(select(Response))
    assert response.channel == Channel.SMS
    assert response.dossier_id == invitation.dossier_id
    assert response.service_id == service_id and response.office_id == office_id
    assert response.questionnaire_id == questionnaire_id
    assert response.client_hash == invitation.phone_hash
    assert response.is_partial is False
    answers = {a.question.code: (a.value, a.text) for a in response.answers}
    assert answers == {
        "overall": (5, None),
        "result_on_time": (5, None),
        "staff_polite": (4, None),
        "extra_payment": (0, None),
        "comment": (None, "Can bo nhiet tinh, cam on!"),
    }
    db.session.expire_all()
    assert invitation.status == InvitationStatus.ANSWERED
    conversation = db.session.scalar(select(Conversation))
    assert conversation.status == ConversationStatus.COMPLETED
    # a further reply stores nothing
    assert "hoan thanh" in reply("5")
    assert len(db.session.scalar(select(Response)).answers) == 5

    # the worker has nothing left to send: still exactly one text
    run_worker()
    assert len(fake_twilio.messages) == 1
