"""The QR web survey: the form, submitting, and everything that must not happen."""

import re
import secrets
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from survey_app.models import Answer, Integrity, Office, Question, Response


@pytest.fixture
def office(make_office, make_service, make_counter, questionnaire):
    office = make_office(code="HCC-TP", name="Sở Tư pháp tỉnh Quảng Trị")
    make_service(code="LLTP", name="Cấp phiếu lý lịch tư pháp", office=office)
    make_counter(office, code="Q1", name="Quầy số 1")
    return office


def _form(client, url="/s/HCC-TP"):
    page = client.get(url)
    assert page.status_code == 200, page.data[:500]
    html = page.get_data(as_text=True)
    fields = dict(re.findall(r'name="(csrf_token|submission_token)" value="([^"]+)"', html))
    return html, fields


def _post(client, url="/s/HCC-TP", **answers):
    _html, fields = _form(client, url)
    data = {**fields, "q_overall": "5", **answers}
    return client.post(url, data=data), data


def _new_token(app, office) -> str:
    """A submission token the server issued for the office (as a newly opened form carries)."""
    from survey_app.services.submission_tokens import issue

    with app.test_request_context("/s/HCC-TP"):
        return issue(office.id)


def _count(db, model=Response):
    return db.session.scalar(select(func.count()).select_from(model))


def test_form_shows_office_questions_and_faces_in_vietnamese(client, office):
    html, fields = _form(client)
    assert "Sở Tư pháp tỉnh Quảng Trị" in html
    assert "Công chức có thái độ lịch sự, tôn trọng" in html
    assert html.count('type="radio" name="q_overall"') == 5
    for word in ("Rất không hài lòng", "Bình thường", "Rất hài lòng"):
        assert word in html
    assert '<html lang="vi">' in html and "<legend>" in html
    assert "Cấp phiếu lý lịch tư pháp" in html  # the office's services to choose from
    assert fields["csrf_token"] and len(fields["submission_token"]) >= 16
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in html


@pytest.mark.parametrize(
    "url, status",
    [
        ("/s/%00HCC-TP", 404),
        ("/s/HCC-TP/Q1%00", 404),
        ("/qr/HCC-TP%00.png", 404),
        ("/s/HCC-TP?lang=%00", 400),
        ("/s/HCC-TP/thanks?x=%00", 400),
    ],
)
def test_a_nul_character_in_the_address_gets_a_friendly_page(client, db, office, url, status):
    """PostgreSQL text cannot hold a NUL: refused before any look-up, never a 500."""
    answer = client.get(url)
    assert answer.status_code == status and answer.mimetype == "text/html"
    page = answer.get_data(as_text=True)
    assert ("Trang này không tồn tại" if status == 404 else "ký tự không được phép") in page
    assert client.post(url, data={"q_overall": "5"}).status_code == status
    assert _count(db) == 0


def test_english_by_a_visible_switch(client, office):
    html, _ = _form(client)
    assert 'href="/lang/en?next=' in html and ">English<" in html
    english = client.get("/s/HCC-TP?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in english and "Staff were polite and respectful" in english
    assert "Very satisfied" in english
    # remembered for the next page
    assert "Very satisfied" in client.get("/s/HCC-TP").get_data(as_text=True)
    switched = client.get("/lang/vi?next=/s/HCC-TP")
    assert switched.status_code == 302 and switched.headers["Location"] == "/s/HCC-TP"
    assert "Rất hài lòng" in client.get("/s/HCC-TP").get_data(as_text=True)


def test_language_switch_refuses_offsite_redirects(client, office):
    assert client.get("/lang/en?next=https://evil.example/").headers["Location"] == "/"
    assert client.get("/lang/en?next=//evil.example/").headers["Location"] == "/"


def test_unknown_or_inactive_office_or_counter_gets_a_friendly_404(client, db, office):
    page = client.get("/s/NOPE")
    assert page.status_code == 404
    assert "Không tìm thấy cơ quan này" in page.get_data(as_text=True)
    assert client.get("/s/HCC-TP/Q9").status_code == 404
    office.is_active = False
    db.session.commit()
    assert client.get("/s/HCC-TP").status_code == 404


def test_submit_stores_response_and_answers_and_thanks(client, db, office, questionnaire):
    response, _ = _post(
        client,
        "/s/HCC-TP/Q1",
        q_staff_polite="4",
        q_extra_payment="0",
        q_comment="  Cán bộ nhiệt tình  ",
        service="LLTP",
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/s/HCC-TP/thanks")
    thanks = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Xin cảm ơn" in thanks
    stored = db.session.scalars(select(Response)).one()
    assert stored.office.code == "HCC-TP" and stored.counter.code == "Q1"
    assert stored.channel.value == "qr_web" and stored.language == "vi"
    assert stored.service.code == "LLTP" and stored.integrity == Integrity.VALID
    assert stored.questionnaire_id == questionnaire.id and stored.dossier_id is None
    answers = {a.question.code: (a.value, a.text) for a in stored.answers}
    assert answers == {
        "overall": (5, None),
        "staff_polite": (4, None),
        "extra_payment": (0, None),
        "comment": (None, "Cán bộ nhiệt tình"),
    }
    assert stored.client_hash and "127.0.0.1" not in stored.client_hash


@pytest.mark.parametrize(("sent", "stored"), [("1", 1), ("5", 5), (" 4 ", 4), ("03", 3)])
def test_a_rating_is_read_as_sent_or_padded(client, db, office, sent, stored):
    """The radio buttons send "1".."5"; a padded or zero-led value (a script, an old browser)
    is read the same; yes/no takes 0 and 1."""
    response, _ = _post(client, q_overall=sent, q_extra_payment="1" if stored % 2 else " 0")
    assert response.status_code == 303
    answers = {a.question.code: a.value for a in db.session.scalars(select(Answer))}
    assert answers == {"overall": stored, "extra_payment": stored % 2}


def test_only_the_overall_rating_is_required(client, db, office):
    _html, fields = _form(client)
    page = client.post("/s/HCC-TP", data={**fields, "q_staff_polite": "2"})
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    assert "Vui lòng chọn một mức đánh giá" in html
    assert 'value="2"\n                 checked' in html or 'value="2" checked' in html.replace(
        "\n                 ", " "
    )  # the other answer is kept
    assert _count(db) == 0


def test_double_tap_and_refresh_make_one_response(client, db, office):
    first, data = _post(client)
    assert first.status_code == 303
    again = client.post("/s/HCC-TP", data=data)  # the same rendered form sent twice
    assert again.status_code == 303 and again.headers["Location"].endswith("/thanks")
    assert _count(db) == 1


def test_one_response_per_device_per_office_per_day(app, client, db, office, make_office):
    first, data = _post(client)
    assert first.status_code == 303
    page = client.get("/s/HCC-TP")
    assert "Hôm nay Ông/Bà đã đánh giá" in page.get_data(as_text=True)
    # a new form sent from the same device (its signed cookie says: rated today)
    replay = {**data, "submission_token": _new_token(app, office), "q_overall": "1"}
    second = client.post("/s/HCC-TP", data=replay)
    assert "Hôm nay Ông/Bà đã đánh giá" in second.get_data(as_text=True)
    assert _count(db) == 1
    make_office(code="OTHER", name="UBND huyện Hải Lăng")
    assert _post(client, "/s/OTHER")[0].status_code == 303  # another office is fine
    assert _count(db) == 2


def test_the_rated_cookie_is_signed_ends_at_local_midnight_and_leaves_the_session(
    app, client, db, office, make_office
):
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from survey_app.survey.devices import MAX_REMEMBERED
    from survey_app.survey.devices import rated_serializer as _rated_serializer

    now = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh"))
    first, data = _post(client)
    cookies = first.headers.getlist("Set-Cookie")
    rated = next(c for c in cookies if c.startswith("mscore_rated="))
    assert not any(c.startswith("session=") for c in cookies)  # the session is not sent again
    assert "Path=/s/" in rated and "HttpOnly" in rated and "SameSite=Lax" in rated
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), now.tzinfo)
    expires = midnight.astimezone(ZoneInfo("UTC")).strftime("Expires=%a, %d %b %Y %H:%M:%S GMT")
    assert expires in rated  # the browser drops it at local midnight

    def rated_page(value):
        client.set_cookie("mscore_rated", value, path="/s/")
        return "Hôm nay Ông/Bà đã đánh giá" in client.get("/s/HCC-TP").get_data(as_text=True)

    with app.test_request_context("/s/HCC-TP"):
        today = now.date().isoformat()
        yesterday = (now.date() - timedelta(days=1)).isoformat()
        signed_today = _rated_serializer().dumps([today, ["HCC-TP"]])
        signed_yesterday = _rated_serializer().dumps([yesterday, ["HCC-TP"]])
    assert rated_page(signed_today)
    assert not rated_page(signed_yesterday)  # a new day: rate again
    assert not rated_page(signed_today[:-3] + "AAA")  # a forged signature counts for nothing
    assert not rated_page("garbage")

    client.set_cookie("mscore_rated", signed_today, path="/s/")
    app.config["SURVEY_RATE_LIMIT"] = "1000 per minute"  # 22 submissions from one client
    for i in range(MAX_REMEMBERED + 2):  # the cookie keeps the last MAX_REMEMBERED offices
        make_office(code=f"O{i}", name=f"UBND xã {i}")
        assert _post(client, f"/s/O{i}")[0].status_code == 303
    with app.test_request_context("/s/HCC-TP"):
        day, codes = _rated_serializer().loads(client.get_cookie("mscore_rated", path="/s/").value)
    assert day == today and codes == [f"O{i}" for i in range(2, MAX_REMEMBERED + 2)]


def test_a_typed_dossier_code_is_an_unverified_claim_that_binds_nothing(
    app, client, db, office, make_dossier, make_service
):
    """Anyone can type any code (#16 §3): it is kept as a claim beside the response, naming the
    dossier it matched, and never takes the dossier's place, service or one response."""
    service = make_service(code="KS", name="Đăng ký khai sinh", field="Hộ tịch")
    dossier = make_dossier(office, code="000.00.19.H56-260301-0001", service=service)
    response, _ = _post(client, dossier_code=" 000.00.19.h56-260301-0001 ", service="LLTP")
    assert response.status_code == 303
    stored = db.session.scalars(select(Response)).one()
    assert stored.dossier_id is None  # not a binding
    assert stored.claimed_dossier_id == dossier.id
    assert stored.claimed_dossier_code == "000.00.19.H56-260301-0001"
    assert stored.service.code == "LLTP"  # the citizen's own choice, not the claimed dossier's
    # another device claims the same dossier: stored too (a claim blocks nothing)
    assert _post(app.test_client(), dossier_code="000.00.19.H56-260301-0001")[0].status_code == 303
    assert _count(db) == 2


def test_the_form_answers_the_same_for_known_and_unknown_dossier_codes(
    app, db, office, make_dossier
):
    """Nobody can learn from the form whether a dossier code exists."""
    make_dossier(office, code="HS-1")

    def answer(code):
        response, _ = _post(app.test_client(), dossier_code=code)
        return response.status_code, response.headers.get("Location"), response.get_data()

    assert answer("HS-1") == answer("HS-KHONG-CO")
    assert answer("HS-1")[0] == 303
    rows = db.session.execute(
        select(Response.claimed_dossier_code, Response.claimed_dossier_id).order_by(Response.id)
    ).all()
    assert [r.claimed_dossier_code for r in rows] == ["HS-1", "HS-KHONG-CO", "HS-1"]
    assert [r.claimed_dossier_id is None for r in rows] == [False, True, False]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("q_overall", "6", "nằm ngoài thang điểm"),
        ("q_overall", "0", "nằm ngoài thang điểm"),
        ("q_overall", "five", "nằm ngoài thang điểm"),
        ("q_extra_payment", "2", "nằm ngoài thang điểm"),
        ("q_hacked", "5", "Câu hỏi không tồn tại"),
        ("q_comment", "x" * 1001, "dài quá 1000 ký tự"),
        ("dossier_code", "H" * 65, "dài quá 64 ký tự"),
        ("service", "NOT-HERE", "không giải quyết thủ tục"),
    ],
)
def test_bad_input_gets_400_with_message_and_stores_nothing(
    client, db, office, field, value, message
):
    response, _ = _post(client, **{field: value})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert _count(db) == 0 and _count(db, Answer) == 0


@pytest.mark.parametrize("field", ["q_overall", "q_comment", "service"])
def test_a_field_sent_twice_gets_400_and_stores_nothing(client, db, office, field):
    _html, fields = _form(client)
    data = MultiDict([*fields.items(), ("q_overall", "5"), (field, "4"), (field, "4")])
    if field == "q_overall":
        data.setlist(field, ["5", "4"])
    response = client.post("/s/HCC-TP", data=data)
    assert response.status_code == 400
    assert f"Trường {field} được gửi nhiều lần" in response.get_data(as_text=True)
    assert _count(db) == 0 and _count(db, Answer) == 0


def test_bad_input_message_follows_page_language(client, db, office):
    client.get("/s/HCC-TP?lang=en")
    response, _ = _post(client, q_overall="9")
    assert response.status_code == 400
    assert "out of range" in response.get_data(as_text=True)


def test_broken_utf8_gets_400_not_500(client, db, office):
    _html, fields = _form(client)
    body = (
        f"csrf_token={fields['csrf_token']}&submission_token={fields['submission_token']}"
        "&q_overall=5&q_comment=C%E1%BA%A0n%FF%FE"
    ).encode()
    response = client.post("/s/HCC-TP", data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert "UTF-8" in response.get_data(as_text=True)  # in the page language
    assert _count(db) == 0


@pytest.mark.parametrize(
    "broken",
    [
        "&q_comment=ok&q_comm%FFent=x",  # in a field's name
        "&q_comment=C\xe1\xba\xa0n\xff",  # raw bytes, not escaped
    ],
)
def test_broken_utf8_anywhere_in_the_body_gets_400(client, db, office, broken):
    _html, fields = _form(client)
    body = (
        f"csrf_token={fields['csrf_token']}&submission_token={fields['submission_token']}"
        f"&q_overall=5{broken}"
    ).encode("latin-1")
    response = client.post("/s/HCC-TP", data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400 and "UTF-8" in response.get_data(as_text=True)
    assert _count(db) == 0


def test_a_percent_sign_typed_in_a_comment_is_kept(client, db, office):
    _post(client, q_comment="Hài lòng 100% – %FF là mã lỗi")  # sent as %25, not a broken byte
    assert db.session.scalar(select(Answer.text).where(Answer.text.is_not(None))) == (
        "Hài lòng 100% – %FF là mã lỗi"
    )


def test_answers_and_a_comment_with_any_characters_are_stored_exactly(client, db, office):
    comment = 'Rất tốt 👍 "nhanh" \\ C:\\hồ sơ\nDòng hai\t– [1, null] {"a": 1}'
    response, _ = _post(
        client, q_overall="2", q_staff_polite="5", q_extra_payment="0", q_comment=comment
    )
    assert response.status_code == 303
    stored = db.session.execute(
        select(Question.code, Answer.value, Answer.text).join(
            Answer, Answer.question_id == Question.id
        )
    ).all()
    assert sorted(stored) == [
        ("comment", None, comment),
        ("extra_payment", 0, None),
        ("overall", 2, None),
        ("staff_polite", 5, None),
    ]


def test_oversized_body_is_refused(client, db, office):
    _html, fields = _form(client)
    response = client.post("/s/HCC-TP", data={**fields, "q_overall": "5", "q_comment": "x" * 70000})
    assert response.status_code == 413
    assert _count(db) == 0


def test_missing_csrf_token_is_refused(client, db, office):
    _html, fields = _form(client)
    response = client.post(
        "/s/HCC-TP", data={"submission_token": fields["submission_token"], "q_overall": "5"}
    )
    assert response.status_code == 400
    assert _count(db) == 0


def test_missing_submission_token_is_refused(client, db, office):
    _html, fields = _form(client)
    response = client.post("/s/HCC-TP", data={"csrf_token": fields["csrf_token"], "q_overall": "5"})
    assert response.status_code == 400
    assert _count(db) == 0


def test_honeypot_stores_nothing_but_looks_like_success(client, db, office):
    response, _ = _post(client, website="http://spam.example")
    assert response.status_code == 303
    assert _count(db) == 0


def test_bursts_from_one_client_are_stored_but_flagged(app, db, office):
    statuses = []
    for _ in range(5):
        device = app.test_client()  # new cookies every time: the device check can't see it
        statuses.append(_post(device)[0].status_code)
    assert statuses == [303] * 5  # nothing accepted is lost
    rows = db.session.scalars(select(Response).order_by(Response.id)).all()
    assert [r.integrity.value for r in rows] == ["valid"] * 3 + ["flagged"] * 2
    assert rows[3].integrity_reason == "burst: more than 3 responses from one client within 10 min"


def test_a_burst_counts_only_recent_responses_at_the_same_office(app, db, office, make_office):
    make_office(code="UBND-X", name="UBND xã Triệu Phước")
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=False):
        for _ in range(3):
            assert _post(app.test_client())[0].status_code == 303
        # another office's poster, the same device: a different office's burst count
        assert _post(app.test_client(), "/s/UBND-X")[0].status_code == 303
    with time_machine.travel(start + timedelta(minutes=11), tick=False):  # the window moved on
        assert _post(app.test_client())[0].status_code == 303
    with time_machine.travel(start + timedelta(minutes=12), tick=False):
        for _ in range(3):
            assert _post(app.test_client())[0].status_code == 303
    rows = db.session.execute(
        select(Response.integrity, Response.integrity_reason).order_by(Response.id)
    ).all()
    assert [r.integrity.value for r in rows] == ["valid"] * 4 + ["valid"] * 3 + ["flagged"]
    assert rows[-1].integrity_reason.startswith("burst: more than 3 responses")
    answers = db.session.scalar(select(func.count()).select_from(Answer))
    assert answers == len(rows)  # each kept its overall rating, flagged or not


def test_closing_an_office_stops_submissions_at_once_in_this_process(client, db, office):
    assert _post(client)[0].status_code == 303  # the office is now in the submission cache
    phone = client.application.test_client()
    _html, fields = _form(phone)
    office.is_active = False
    db.session.commit()
    refused = phone.post("/s/HCC-TP", data={**fields, "q_overall": "4"})
    assert refused.status_code == 404
    assert _count(db) == 1


def test_a_cached_office_is_asked_again_after_its_time(app, client, db, office, monkeypatch):
    from survey_app.survey import targets as views

    assert _post(client)[0].status_code == 303
    phone = app.test_client()
    _html, fields = _form(phone)
    # changed behind this process's back (another worker, or SQL): seen once the entry expires
    db.session.execute(Office.__table__.update().values(is_active=False))
    db.session.commit()
    later = time.monotonic() + views.TARGET_TTL + 1
    monkeypatch.setattr(views.time, "monotonic", lambda: later)
    refused = phone.post("/s/HCC-TP", data={**fields, "q_overall": "4"})
    assert refused.status_code == 404 and _count(db) == 1


def test_no_raw_ip_is_stored(client, db, office):
    _post(client, q_comment="ok")
    row = db.session.scalars(select(Response)).one()
    for value in (row.client_hash, row.integrity_reason or "", row.submission_token):
        assert "127.0.0.1" not in value


def test_an_office_removed_behind_the_cache_gets_the_friendly_404(app, db, make_office):
    from survey_app.survey import targets as views

    gone = make_office(code="TAM-THOI", name="Điểm tiếp nhận tạm thời")
    phone = app.test_client()
    _html, fields = _form(phone, "/s/TAM-THOI")
    with app.test_request_context("/s/TAM-THOI", method="POST"):
        views._light_target("TAM-THOI", None)  # cached, as after an earlier submission
    db.session.execute(Office.__table__.delete().where(Office.id == gone.id))  # another process
    db.session.commit()
    res = phone.post("/s/TAM-THOI", data={**fields, "q_overall": "4"})
    assert res.status_code == 404 and "Không tìm thấy cơ quan này" in res.get_data(as_text=True)
    assert _count(db) == 0


def _record(office, questionnaire, answers, token):
    from survey_app.services.questionnaires import current_snapshot
    from survey_app.services.responses import BurstRules, Submission, record_web_response

    return record_web_response(
        office_id=office.id,
        counter_id=None,
        questionnaire=current_snapshot(),
        submission=Submission(answers=answers),
        language="vi",
        client_hash="c" * 64,
        address_hash="a" * 64,
        submission_token=token,
        burst=BurstRules(),
    )


def test_a_response_and_its_answers_are_stored_all_or_nothing(app, db, office, questionnaire):
    """An answer the database refuses (here: a question that does not exist) leaves no response
    behind: on PostgreSQL one statement holds the response and its answers."""
    from sqlalchemy.exc import IntegrityError

    overall = next(q for q in questionnaire.questions if q.code == "overall")
    with app.test_request_context("/s/HCC-TP", method="POST"):
        with pytest.raises(IntegrityError):
            _record(office, questionnaire, {overall.id: 4, 987654: 3}, secrets.token_urlsafe(24))
        db.session.rollback()
    assert _count(db) == 0 and _count(db, Answer) == 0


def test_a_response_is_committed_when_recorded(app, db, office, questionnaire):
    """A recorded response is durable, and seen by every other connection, as soon as it is
    recorded. On PostgreSQL its statement runs outside a transaction (no BEGIN, no COMMIT round
    trips); the view does not commit after it."""
    overall = next(q for q in questionnaire.questions if q.code == "overall")
    with app.test_request_context("/s/HCC-TP", method="POST"):
        response_id = _record(office, questionnaire, {overall.id: 4}, secrets.token_urlsafe(24))
        with db.engine.connect() as other:  # another connection, as another process would
            stored = other.execute(select(Answer.value).where(Answer.response_id == response_id))
            assert stored.scalars().all() == [4]


def test_a_concurrent_double_tap_is_thanked_and_stored_once(client, db, office):
    """Two taps in flight together both pass the device check (neither has the cookie of the
    other yet): the database refuses the second by its submission token, and it is thanked."""
    first, data = _post(client)
    assert client.get_cookie("mscore_rated", path="/s/") is not None
    client.delete_cookie("mscore_rated", path="/s/")  # the second tap left before the first
    assert client.get_cookie("mscore_rated", path="/s/") is None  # one's cookie came back
    second = client.post("/s/HCC-TP", data=data)
    assert first.status_code == second.status_code == 303
    assert second.headers["Location"].endswith("/s/HCC-TP/thanks")
    assert _count(db) == 1


def test_the_thank_you_page_gives_the_next_step_office_parent_or_province(
    app, client, db, office, make_office
):
    def thanks():
        return client.get("/s/HCC-TP/thanks").get_data(as_text=True)

    assert "đường dây nóng" not in thanks()  # nothing configured: no empty promise
    assert "Câu trả lời của Ông/Bà được sử dụng thế nào" in thanks()
    app.config.update(PROVINCE_HOTLINE="1022", PROVINCE_COMPLAINT_ROUTE="dichvucong.gov.vn")
    page = thanks()
    assert 'href="tel:1022"' in page and "dichvucong.gov.vn" in page
    province = make_office(code="QT", name="UBND tỉnh Quảng Trị", hotline="0233 3852 222")
    office.parent = province
    db.session.commit()
    page = thanks()
    assert 'href="tel:02333852222">0233 3852 222' in page and "dichvucong.gov.vn" in page
    office.hotline, office.complaint_route = "0233 3 555 555", "Hòm thư góp ý tại quầy số 1"
    db.session.commit()
    page = thanks()
    assert "0233 3 555 555" in page and "Hòm thư góp ý tại quầy số 1" in page
    assert "0233 3852 222" not in page


def test_the_english_page_uses_the_counters_english_name(client, db, office):
    counter = office.counters[0]
    assert "Quầy số 1" in client.get("/s/HCC-TP/Q1").get_data(as_text=True)
    assert "Quầy số 1" in client.get("/s/HCC-TP/Q1?lang=en").get_data(as_text=True)  # none yet
    counter.name_en = "Counter 1"
    db.session.commit()
    english = client.get("/s/HCC-TP/Q1?lang=en").get_data(as_text=True)
    assert "Counter 1" in english and "Quầy số 1" not in english
