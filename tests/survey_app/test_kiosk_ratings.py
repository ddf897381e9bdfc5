"""A kiosk's ratings: the form without JavaScript, the outbox's batches (stored once, refused with
a reason), the times they were made, bursts and limits per kiosk, the rollup and the report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from survey_app.models import Channel, Integrity, Response, utcnow
from tests.formfill import form_fields

from .kiosks import enrolled, rating, tablet, tokens


@pytest.fixture
def office(make_office, make_counter, make_service, questionnaire):
    office = make_office(code="HCC", name="Trung tâm Phục vụ hành chính công")
    make_counter(office, code="Q1", name="Quầy 1")
    make_service(code="LLTP", office=office)
    return office


@pytest.fixture
def kiosk(db, office):
    return enrolled(db, office, office.counters[0])


@pytest.fixture
def pad(app, kiosk):
    return tablet(app, kiosk[1])


def _stored(db):
    return db.session.scalars(select(Response).order_by(Response.id)).all()


def _count(db):
    return db.session.scalar(select(func.count()).select_from(Response))


def _overall(response) -> int:
    return next(a.value for a in response.answers if a.question.code == "overall")


def _send(pad, *ratings, **headers):
    return pad.post("/k/api/ratings", json={"ratings": list(ratings)}, headers=headers)


def test_the_form_without_javascript_records_a_kiosk_response(db, pad, kiosk, office):
    page = pad.get("/k/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'class="kiosk"' in html and "Quầy 1" in html and "Gửi ngay" in html
    fields = dict(form_fields(html)) | {"q_overall": "4", "q_comment": "Nhanh", "service": "LLTP"}
    answer = pad.post("/k/", data=fields)
    assert answer.status_code == 303 and answer.location.endswith("/k/thanks?lang=vi")
    thanks = pad.get(answer.location)
    assert thanks.headers["Refresh"] == "6; url=/k/?lang=vi"  # the next citizen, in Vietnamese
    assert "Xin cảm ơn" in thanks.get_data(as_text=True)
    [response] = _stored(db)
    assert (response.channel, response.office, response.counter) == (
        Channel.KIOSK,
        office,
        office.counters[0],
    )
    assert response.kiosk_id == kiosk[0].id and response.service.code == "LLTP"
    assert response.integrity == Integrity.VALID and response.language == "vi"
    assert response.client_hash is None and response.address_hash is None  # no device, no address
    answers = {a.question.code: a.value if a.text is None else a.text for a in response.answers}
    assert (answers["overall"], answers["comment"]) == (4, "Nhanh")
    assert pad.post("/k/", data=fields).status_code == 303  # sent again (a refresh): once
    assert _count(db) == 1


def test_three_citizens_in_a_row_each_get_a_new_form(db, pad):
    for overall in ("5", "3", "1"):
        fields = dict(form_fields(pad.get("/k/").get_data(as_text=True))) | {"q_overall": overall}
        assert pad.post("/k/", data=fields).status_code == 303
    assert [_overall(r) for r in _stored(db)] == [5, 3, 1]
    assert {r.integrity for r in _stored(db)} == {Integrity.VALID}
    assert "mscore_rated" not in pad.get("/k/").headers.get("Set-Cookie", "")  # no "rated today"


def test_the_form_says_what_to_fix_and_in_english_too(db, pad):
    html = pad.get("/k/?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in html and 'href="/k/?lang=vi"' in html
    fields = dict(form_fields(html))
    fields.pop("q_overall")
    answer = pad.post("/k/?lang=en", data=fields)
    assert answer.status_code == 400 and "Error:" in answer.get_data(as_text=True)
    assert pad.get("/k/").get_data(as_text=True).startswith('<!doctype html>\n<html lang="vi">')
    assert _count(db) == 0


def test_a_batch_from_the_outbox_is_stored_once(db, pad, kiosk):
    from prometheus_client import REGISTRY

    def counted():
        return REGISTRY.get_sample_value("mscore_submissions_total", {"channel": "kiosk"}) or 0

    before = counted()
    batch = [rating(t, overall) for t, overall in zip(tokens(pad, 3), "543", strict=True)]
    first = _send(pad, *batch)
    assert counted() == before + 3  # each rating of the batch, as submissions
    assert first.status_code == 200
    assert [r["status"] for r in first.json["results"]] == ["stored"] * 3
    again = _send(pad, *batch, batch[0])  # the answer was lost: the tablet sends them again
    assert [r["status"] for r in again.json["results"]] == ["duplicate"] * 4
    assert [(r.channel, r.kiosk_id) for r in _stored(db)] == [(Channel.KIOSK, kiosk[0].id)] * 3
    assert [_overall(r) for r in _stored(db)] == [5, 4, 3]


def test_a_token_kept_too_long_is_refused_and_said_so(app, db, pad):
    hours = app.config["KIOSK_TOKEN_HOURS"]
    with time_machine.travel(datetime(2026, 3, 2, 2, tzinfo=UTC), tick=False) as clock:
        late, in_time = tokens(pad, 2)
        made = utcnow() + timedelta(minutes=5)
        clock.shift(timedelta(hours=hours, minutes=-1))  # offline almost a week: still counted
        answer = _send(pad, rating(in_time, rated_at=made))
        assert answer.json["results"][0]["status"] == "stored"
        clock.shift(timedelta(minutes=2))
        answer = _send(pad, rating(late, rated_at=made))
    [result] = answer.json["results"]
    assert (result["status"], result["reason"]) == ("refused", "expired")
    assert (
        result["message"]
        == "Lượt đánh giá này được lưu trên máy tính bảng quá lâu nên không thể tính."
    )
    [stored] = _stored(db)
    assert stored.submitted_at == made  # when it was made, not when it arrived


def test_what_no_kiosk_form_can_send_is_refused(app, db, pad, office, make_office, questionnaire):
    from survey_app.services.submission_tokens import issue

    other = make_office("XA", "Xã A")
    with app.test_request_context():
        foreign = issue(other.id)
    own = tokens(pad, 4)
    db.session.add(
        Response(
            office=office,
            questionnaire_id=questionnaire.id,
            channel="qr_web",
            submission_token=own[3],
        )  # a phone form that used this token
    )
    db.session.commit()
    answer = _send(
        pad,
        rating(foreign),
        rating(own[0], overall=""),
        rating(own[1], overall="9"),
        rating(own[2], q_nope="1"),
        rating(own[3]),
    )
    assert [(r["status"], r["reason"]) for r in answer.json["results"]] == [
        ("refused", "forged"),
        ("refused", "invalid"),
        ("refused", "invalid"),
        ("refused", "invalid"),
        ("refused", "used"),
    ]
    assert _count(db) == 1


def test_a_ratings_time_stays_within_what_the_server_knows(db, pad):
    start = datetime(2026, 3, 2, 2, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        early, late, untold = tokens(pad, 3)
        clock.shift(timedelta(hours=1))
        _send(
            pad,
            rating(early, rated_at=start - timedelta(days=1)),  # before its token was issued
            rating(late, rated_at=start + timedelta(days=1)),  # after it arrived
            rating(untold),
        )
    arrived = start + timedelta(hours=1)
    assert [r.submitted_at for r in _stored(db)] == [start, arrived, arrived]


def test_bursts_count_per_kiosk_at_the_times_ratings_were_made(app, db, office, pad):
    app.config["KIOSK_BURST_LIMIT"] = 3  # (read at each request)
    start = datetime(2026, 3, 2, 2, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        stock = tokens(pad, 10)
        other = tablet(app, enrolled(db, office)[1])  # another kiosk at the same office
        clock.shift(timedelta(hours=3))
        # a backlog kept offline, one rating every 15 minutes: sent at once, not a burst
        _send(
            pad,
            *(
                rating(t, rated_at=start + timedelta(minutes=15 * i))
                for i, t in enumerate(stock[:5])
            ),
        )
        # then five ratings within five minutes at one kiosk: the fourth and fifth are flagged
        made = start + timedelta(hours=2)
        _send(
            pad, *(rating(t, rated_at=made + timedelta(minutes=i)) for i, t in enumerate(stock[5:]))
        )
        _send(other, *(rating(t, rated_at=made) for t in tokens(other, 3)))
    flags = [(r.kiosk_id, r.integrity, r.integrity_reason) for r in _stored(db)]
    kiosk_id = flags[0][0]
    reason = "burst: more than 3 responses from one kiosk within 10 min"
    assert flags[:8] == [(kiosk_id, Integrity.VALID, None)] * 8
    assert flags[8:10] == [(kiosk_id, Integrity.FLAGGED, reason)] * 2
    assert {f[1] for f in flags[10:]} == {Integrity.VALID}  # the other kiosk is on its own


def test_limits_count_per_kiosk_not_per_address(app, db, office, pad):
    app.config |= {"KIOSK_RATE_LIMIT": "3 per minute", "SURVEY_RATE_LIMIT": "1 per minute"}
    other = tablet(app, enrolled(db, office)[1])  # same address (the test client's)
    codes = [_send(pad, rating(t)).status_code for t in tokens(pad, 4)]
    assert codes == [200, 200, 200, 429]
    assert _send(other, rating(tokens(other, 1)[0])).status_code == 200
    assert _count(db) == 4


def test_the_outbox_is_refused_what_it_must_be(app, db, office, pad, kiosk):
    from survey_app.services.kiosks import revoke

    token = tokens(pad, 1)[0]
    stranger = app.test_client()
    assert _send(stranger, rating(token)).json["code"] == "kiosk_unknown"
    assert stranger.get("/k/api/tokens").status_code == 401
    answer = _send(pad, rating(token), Origin="https://elsewhere.example")
    assert (answer.status_code, answer.json["code"]) == (403, "cross_origin")
    for own in ("http://localhost", app.config["PUBLIC_BASE_URL"]):  # as sent, as deployed
        answer = pad.post("/k/api/ratings", json={"ratings": []}, headers={"Origin": own})
        assert answer.status_code == 200, own
    answer = pad.post("/k/api/ratings", data={"ratings": token})
    assert (answer.status_code, answer.json["code"]) == (415, "json_required")
    for body in (
        {"ratings": "no"},
        {"ratings": [{"token": token}]},
        {"ratings": [rating(token)] * 21},
        [1],
    ):
        answer = pad.post("/k/api/ratings", json=body)
        assert (answer.status_code, answer.json["code"]) == (422, "invalid_ratings"), body
    answer = pad.post(
        "/k/api/ratings", data="[" * 100_000, headers={"Content-Type": "application/json"}
    )
    assert 400 <= answer.status_code < 500
    assert pad.get("/k/api/tokens?count=101").status_code == 400
    revoke(kiosk[0], "test")
    db.session.commit()
    assert _send(pad, rating(token)).json["code"] == "kiosk_revoked"
    assert _count(db) == 0


def test_a_rating_made_offline_yesterday_reaches_yesterdays_rollup(db, pad):
    from survey_app.reporting import Params, Period, build_report, local_today
    from survey_app.reporting.tables import report_json

    def kiosk_responses(period, **kw):
        doc = report_json(build_report(Params(period, **kw)))
        return doc["offices"][0]["responses_by_channel"]["kiosk"]

    yesterday = local_today() - timedelta(days=1)
    period = Period(yesterday, yesterday)
    made = datetime.combine(yesterday, datetime.min.time(), UTC) + timedelta(hours=4)
    with time_machine.travel(made, tick=False):
        [token] = tokens(pad, 1)
    assert kiosk_responses(period) == 0  # the day is rolled up, without it
    assert _send(pad, rating(token, rated_at=made)).json["results"][0]["status"] == "stored"
    assert kiosk_responses(period) == 1 == kiosk_responses(period, source="raw")


def test_the_report_counts_kiosk_responses_in_its_channel_breakdown(
    db, client, office, pad, questionnaire
):
    from .scoping import MARCH, add_responses, bearer

    add_responses(db, office, questionnaire, 12, 0.8)
    with time_machine.travel(datetime(2025, 3, 12, 2, tzinfo=UTC), tick=False):
        stock = tokens(pad, 12)
        answer = _send(pad, *(rating(t, overall="5") for t in stock))
    assert {r["status"] for r in answer.json["results"]} == {"stored"}
    doc = client.get(
        f"/api/v1/reports/satisfaction?{MARCH}&include=breakdowns",
        headers=bearer(db, "reports:read"),
    ).json
    [entry] = doc["offices"]
    assert entry["responses_by_channel"]["kiosk"] == 12
    assert entry["responses_by_channel"]["qr_web"] == 12
    assert {row["label"] for row in doc["breakdowns"]["channels"]} == {"qr_web", "kiosk"}


def test_the_service_worker_and_manifest_are_served_under_k(client):
    worker = client.get("/k/sw.js")
    assert worker.status_code == 200 and worker.mimetype == "text/javascript"
    assert worker.headers["Cache-Control"] == "no-cache"  # a new version reaches tablets at once
    assert "script-src 'self'" in worker.headers["Content-Security-Policy"]
    assert 'addEventListener("fetch"' in worker.get_data(as_text=True)
    manifest = client.get("/k/manifest.webmanifest")
    assert manifest.mimetype == "application/manifest+json"
    assert manifest.json["display"] == "fullscreen"
    assert (manifest.json["start_url"], manifest.json["scope"]) == ("/k/?lang=vi", "/k/")


def test_a_late_kiosk_rating_waits_for_the_settle_time_in_the_responses_api(app, db, pad):
    """An offline rating made an hour ago and stored now is held back like any new response:
    the API's cursor must not pass it while a smaller id may still be committing."""
    from survey_app.api.auth import create_token
    from survey_app.api.responses import response_key

    _, plain = create_token("t", None, ("responses:read",))
    db.session.commit()
    headers = {"Authorization": f"Bearer {plain}"}
    start = datetime(2026, 3, 2, 2, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        (stock,) = tokens(pad, 1)
        clock.shift(timedelta(hours=1))
        assert _send(pad, rating(stock, rated_at=start)).json["results"][0]["status"] == "stored"
        (late,) = _stored(db)
        assert late.submitted_at == start and late.stored_at == start + timedelta(hours=1)
        page = app.test_client().get("/api/v1/responses", headers=headers).json
        assert page["responses"] == [] and page["has_more"]  # stored just now: not yet
        clock.shift(timedelta(seconds=app.config["RESPONSES_SETTLE_SECONDS"] + 1))
        page = app.test_client().get("/api/v1/responses", headers=headers).json
    assert [r["id"] for r in page["responses"]] == [response_key(late.id)]
    assert page["responses"][0]["submitted_at"] == "2026-03-02T02:00:00Z"
