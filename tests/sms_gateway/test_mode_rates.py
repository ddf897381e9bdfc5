"""The report's response rates per SMS mode: invitations sent in the period in reply and in link
mode, and how many of those were answered (read from the rollup for past days, live for today,
and refreshed when an invitation of a rolled-up day is answered later)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import select

from survey_app.models import Invitation, InvitationStatus, SmsMode

S = InvitationStatus


@pytest.fixture
def sent(db, make_office, make_dossier, questionnaire):
    """Invitations sent yesterday and today (local time) at offices A and B, in both modes."""
    from survey_app.reporting.periods import local_today, zone

    today = local_today()
    a, b = make_office("A"), make_office("B", name="Sở Y tế")  # one group
    counter = iter(range(1000))

    def invite(office, day, mode, status):
        n = next(counter)
        dossier = make_dossier(office, code=f"HS-{n}", phone=f"09120{n:05d}")
        moment = datetime.combine(day, time(10), tzinfo=zone()).astimezone(UTC)
        db.session.add(
            Invitation(
                dossier=dossier,
                office_id=office.id,
                phone_hash=dossier.phone_hash,
                sampling_probability=1.0,
                status=status,
                mode=mode,
                next_attempt_at=moment,
                claimed_at=moment,
                sent_at=moment if status != S.QUEUED else None,
            )
        )

    yesterday = today - timedelta(days=1)
    plan = [  # (office, day, mode, status, how many)
        (a, yesterday, SmsMode.LINK, S.ANSWERED, 1),
        (a, yesterday, SmsMode.LINK, S.DELIVERED, 3),
        (a, yesterday, SmsMode.REPLY, S.ANSWERED, 2),
        (a, yesterday, SmsMode.REPLY, S.EXPIRED, 1),
        (a, today, SmsMode.LINK, S.ANSWERED, 1),
        (a, today, SmsMode.LINK, S.SENT, 1),
        (a, today, SmsMode.REPLY, S.FAILED, 1),
        (a, today, None, S.QUEUED, 2),  # not sent: not counted
        (b, yesterday, SmsMode.LINK, S.ANSWERED, 1),
    ]
    for office, day, mode, status, n in plan:
        for _ in range(n):
            invite(office, day, mode, status)
    db.session.commit()
    return yesterday, today


def _document(yesterday, today, text: bool = False) -> dict:
    from survey_app.reporting import Params, Period
    from survey_app.reporting.documents import satisfaction_document, satisfaction_text

    params = Params(period=Period(yesterday, today))
    if text:
        return json.loads(satisfaction_text(params))
    return satisfaction_document(params)


def _rates(document) -> dict:
    offices = {o["code"]: o["sms_by_mode"] for o in document["offices"]}
    return {**offices, "groups": {g["group"]: g["sms_by_mode"] for g in document["groups"]}}


def test_the_report_gives_each_modes_response_rate(db, sent):
    document = _document(*sent)
    rates = _rates(document)
    assert rates["A"] == {
        "reply": {"sent": 4, "answered": 2, "response_rate": 0.5},
        "link": {"sent": 6, "answered": 2, "response_rate": pytest.approx(1 / 3)},
    }
    assert rates["B"] == {
        "reply": {"sent": 0, "answered": 0, "response_rate": None},
        "link": {"sent": 1, "answered": 1, "response_rate": 1.0},
    }
    assert rates["groups"] == {
        "departments": {
            "reply": {"sent": 4, "answered": 2, "response_rate": 0.5},
            "link": {"sent": 7, "answered": 3, "response_rate": pytest.approx(3 / 7)},
        }
    }
    a = next(o for o in document["offices"] if o["code"] == "A")
    assert a["sms"]["sent"] == 10  # both modes
    assert _document(*sent, text=True) == json.loads(json.dumps(document))  # the API's text


def test_an_answer_to_a_rolled_up_days_invitation_refreshes_the_rate(db, sent):
    yesterday, today = sent
    assert _rates(_document(yesterday, yesterday))["A"]["link"]["answered"] == 1  # rolled up
    from survey_app.reporting.periods import zone

    start = datetime.combine(yesterday, time(0), tzinfo=zone())
    waiting = db.session.scalars(
        select(Invitation).where(
            Invitation.mode == SmsMode.LINK,
            Invitation.status == S.DELIVERED,
            Invitation.sent_at >= start,
        )
    ).first()
    assert waiting.move_to(S.ANSWERED)  # what the rating link's page does today
    db.session.commit()
    rates = _rates(_document(yesterday, yesterday))["A"]
    assert rates["link"] == {"sent": 4, "answered": 2, "response_rate": 0.5}


def test_officials_see_each_modes_rate_on_the_page_and_in_the_downloads(app, client, db, sent):
    """The response-rate page, its CSV and the report's CSV carry both modes' rates (#19)."""
    import csv
    import io

    from survey_app.api.auth import create_token

    from ..survey_app.officials import make_user, sign_in

    yesterday, today = sent
    query = f"from={yesterday.isoformat()}&to={today.isoformat()}"
    make_user(db, "analyst@x.vn", "analyst")
    sign_in(client, "analyst@x.vn")
    res = client.get(f"/dashboard/responses/responses.csv?period=custom&{query}")
    assert res.status_code == 200, res.text[:300]
    rows = {r["Mã"]: r for r in csv.DictReader(io.StringIO(res.data.decode("utf-8-sig")))}
    reply = "Tỷ lệ phản hồi SMS, trả lời bằng tin nhắn"
    link = "Tỷ lệ phản hồi SMS, đường dẫn tới phiếu"
    assert float(rows["A"][reply]) == pytest.approx(0.5, abs=0.001)
    assert float(rows["A"][link]) == pytest.approx(1 / 3, abs=0.001)
    assert rows["B"][reply] == "" and float(rows["B"][link]) == pytest.approx(1.0)
    page = client.get(f"/dashboard/responses?period=custom&{query}").get_data(as_text=True)
    assert reply in page and link in page

    _, plain = create_token("t", None, ("reports:read",))
    db.session.commit()
    res = client.get(
        f"/reports/satisfaction.csv?{query}", headers={"Authorization": f"Bearer {plain}"}
    )
    assert res.status_code == 200, res.text[:300]
    (a,) = [
        r
        for r in csv.DictReader(io.StringIO(res.data.decode("utf-8-sig")))
        if r["Mã đơn vị"] == "A"
    ]
    assert int(a["SMS trả lời bằng tin nhắn: đã gửi"]) == 4
    assert int(a["SMS gửi đường dẫn: trả lời"]) == 2
    assert float(a["SMS gửi đường dẫn: tỷ lệ phản hồi"]) == pytest.approx(1 / 3)
