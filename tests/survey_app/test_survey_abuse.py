"""Ballot stuffing (#16 §2): server-issued submission tokens accepted once, a CSRF token with a
time limit (an expired form comes back with its answers), bursts per address as well as per
device, and the client's address from a configured number of trusted proxies."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from survey_app.models import Integrity, Response
from survey_app.protection import keyed_hash

from .test_survey import _count, _form, _new_token


@pytest.fixture
def office(make_office, questionnaire):
    return make_office(code="HCC-TP", name="Sở Tư pháp tỉnh Quảng Trị")


@pytest.mark.parametrize(
    "token",
    ["AAAAAAAAAAAAAAAA", secrets.token_urlsafe(24), "1-abc.AAAAAA.forgedsignature"],
    ids=["letters", "random", "forged-signature"],
)
def test_a_token_the_server_did_not_issue_gets_the_friendly_400(client, db, office, token):
    _html, fields = _form(client)
    answer = client.post("/s/HCC-TP", data={**fields, "submission_token": token, "q_overall": "5"})
    assert answer.status_code == 400 and answer.mimetype == "text/html"
    assert "Phiếu không đầy đủ" in answer.get_data(as_text=True)
    assert _count(db) == 0


def test_a_token_of_another_office_is_refused(client, db, office, make_office):
    other = make_office(code="UBND-X", name="UBND xã Triệu Phước")
    _html, fields = _form(client)
    answer = client.post(
        "/s/HCC-TP",
        data={
            **fields,
            "submission_token": _new_token(client.application, other),
            "q_overall": "5",
        },
    )
    assert answer.status_code == 400 and _count(db) == 0


def test_one_opened_form_counts_once_however_often_it_is_posted(client, db, office):
    """One GET used to allow unlimited POSTs: now each form's token is accepted once."""
    _html, fields = _form(client)
    codes = []
    for _ in range(6):
        client.delete_cookie("mscore_rated", path="/s/")  # what a script would drop
        codes.append(client.post("/s/HCC-TP", data={**fields, "q_overall": "1"}).status_code)
    assert codes == [303] * 6  # thanked every time, as a double tap is
    assert _count(db) == 1


def test_a_form_left_open_too_long_comes_back_with_its_answers(app, client, db, office):
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=False):
        _html, fields = _form(client)
    with time_machine.travel(start + timedelta(hours=4, minutes=1), tick=False):
        answer = client.post(
            "/s/HCC-TP",
            data={**fields, "q_overall": "2", "q_comment": "Chờ lâu quá", "dossier_code": "HS-9"},
        )
        page = answer.get_data(as_text=True)
        assert answer.status_code == 400 and _count(db) == 0
        assert "<title>Lỗi:" in page and 'class="error-summary"' in page
        assert "Phiếu đã mở quá lâu" in page
        assert "Chờ lâu quá</textarea>" in page and 'value="HS-9"' in page
        assert 'value="2" required checked' in page  # the rating is kept
        again = dict(_fields(page), q_overall="2", q_comment="Chờ lâu quá")
        assert client.post("/s/HCC-TP", data=again).status_code == 303
    assert _count(db) == 1


def _fields(page: str) -> dict:
    import re

    return dict(re.findall(r'name="(csrf_token|submission_token)" value="([^"]+)"', page))


def test_a_form_within_its_time_is_accepted(client, db, office):
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=False):
        _html, fields = _form(client)
    with time_machine.travel(start + timedelta(hours=3, minutes=59), tick=False):
        assert client.post("/s/HCC-TP", data={**fields, "q_overall": "4"}).status_code == 303
    assert _count(db) == 1


def test_a_browser_that_lost_its_session_keeps_the_answers(app, db, office):
    phone = app.test_client()
    _html, fields = _form(phone)
    fresh = app.test_client()  # the session cookie is gone (the browser was closed)
    answer = fresh.post("/s/HCC-TP", data={**fields, "q_overall": "5", "q_comment": "Tốt"})
    assert answer.status_code == 400 and "Tốt</textarea>" in answer.get_data(as_text=True)
    assert _count(db) == 0


def _post_from(app, address: str, agent: str, url: str = "/s/HCC-TP"):
    """A new browser at an address (behind the one trusted proxy) posts the form."""
    client = app.test_client()
    headers = {"X-Forwarded-For": address, "User-Agent": agent}
    page = client.get(url, headers=headers).get_data(as_text=True)
    return client.post(url, data={**_fields(page), "q_overall": "5"}, headers=headers)


def test_rotating_the_browser_does_not_escape_the_burst_flag_per_address(app, db, office):
    """From one address, a new User-Agent each time: flagged after SURVEY_ADDRESS_BURST_LIMIT."""
    app.config.update(SURVEY_RATE_LIMIT="1000 per minute", SURVEY_ADDRESS_BURST_LIMIT=5)
    codes = [_post_from(app, "203.0.113.7", f"phone-{i}").status_code for i in range(7)]
    assert codes == [303] * 7  # nothing accepted is lost
    rows = db.session.execute(
        select(Response.integrity, Response.integrity_reason).order_by(Response.id)
    ).all()
    assert [r.integrity for r in rows] == [Integrity.VALID] * 5 + [Integrity.FLAGGED] * 2
    assert (
        rows[-1].integrity_reason == "burst: more than 5 responses from one address within 60 min"
    )


def test_a_busy_centres_wifi_at_its_peak_is_not_flagged(app, db, office):
    """Twelve citizens in an hour at one office, each on their own phone behind the centre's
    one address (twice the busiest office's peak in docs/operations.md): all valid."""
    app.config["SURVEY_RATE_LIMIT"] = "1000 per minute"
    start = datetime.now(UTC)
    for i in range(12):
        with time_machine.travel(start + timedelta(minutes=5 * i), tick=False):
            assert _post_from(app, "203.0.113.7", f"phone-{i}").status_code == 303
    rows = db.session.scalars(select(Response.integrity)).all()
    assert rows == [Integrity.VALID] * 12


def test_the_address_burst_window_moves_on(app, db, office):
    app.config.update(SURVEY_RATE_LIMIT="1000 per minute", SURVEY_ADDRESS_BURST_LIMIT=2)
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=False):
        for i in range(2):
            _post_from(app, "203.0.113.7", f"phone-{i}")
    with time_machine.travel(start + timedelta(minutes=61), tick=False):
        _post_from(app, "203.0.113.7", "phone-9")
    assert db.session.scalars(select(Response.integrity)).all() == [Integrity.VALID] * 3


@pytest.mark.parametrize(
    ("hops", "forwarded", "seen"),
    [
        (1, "198.51.100.9", "198.51.100.9"),
        (1, "6.6.6.6, 198.51.100.9", "198.51.100.9"),  # a made-up hop before our proxy's
        (2, "6.6.6.6, 198.51.100.9", "6.6.6.6"),
        (0, "198.51.100.9", "127.0.0.1"),  # no proxy: the header is ignored
    ],
)
def test_the_address_comes_from_the_trusted_proxy_hops(app_config, office, hops, forwarded, seen):
    from survey_app import create_app
    from survey_app.extensions import db

    app = create_app({**app_config, "PROXY_FIX_X_FOR": hops})
    with app.app_context():
        assert _post_from(app, forwarded, "phone").status_code == 303
        stored = db.session.scalars(select(Response.address_hash)).one()
        assert stored == keyed_hash(seen, "address")
        db.session.remove()


@pytest.mark.parametrize("url", ["/s/HCC-TP", "/s/HCC-TP/thanks"])
def test_head_behaves_as_get(client, db, office, url):
    head = client.head(url)
    assert head.status_code == client.get(url).status_code == 200
    assert head.get_data() == b"" and head.mimetype == "text/html"
    assert _count(db) == 0
