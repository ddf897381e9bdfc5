"""A dossier's own rating link (#16 §3, #19 link mode): /r/<token> opens the form bound to that
dossier, once; a receipt's link gives a verified qr_web response, an SMS invitation's an sms_link
response that answers the invitation with its sampling probability; /r/<token>.png is its QR."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from PIL import Image
from sqlalchemy import select

from survey_app.models import Invitation, InvitationStatus, Response
from survey_app.services.rating_links import RECEIPT, SMS, make_token

from .test_survey import _count


@pytest.fixture
def office(make_office, make_service, questionnaire):
    office = make_office(code="HCC-TP", name="Sở Tư pháp tỉnh Quảng Trị")
    make_service(code="LLTP", name="Cấp phiếu lý lịch tư pháp", office=office)
    return office


@pytest.fixture
def dossier(office, make_dossier, make_service):
    service = make_service(code="KS", name="Đăng ký khai sinh", field="Hộ tịch")
    return make_dossier(office, code="HS-2026-0042", service=service, returned_at=datetime.now(UTC))


def _invite(db, dossier, sent_at, probability=0.25):
    invitation = Invitation(
        dossier_id=dossier.id,
        office_id=dossier.office_id,
        phone_hash="p" * 64,
        sampling_probability=probability,
        status=InvitationStatus.SENT,
        next_attempt_at=sent_at,
        sent_at=sent_at,
    )
    db.session.add(invitation)
    db.session.commit()
    return invitation


def _send(client, url, **answers):
    page = client.get(url)
    assert page.status_code == 200, page.get_data(as_text=True)[:300]
    html = page.get_data(as_text=True)
    fields = dict(re.findall(r'name="(csrf_token|submission_token)" value="([^"]+)"', html))
    return client.post(url, data={**fields, "q_overall": "4", **answers}), html


def test_a_receipt_link_binds_its_response_to_the_dossier_verified(app, client, db, dossier):
    url = f"/r/{make_token(dossier.id, RECEIPT)}"
    sent, html = _send(client, url, q_staff_polite="5")
    assert "HS-2026-0042" in html and 'name="dossier_code"' not in html
    assert sent.status_code == 303 and sent.headers["Location"].endswith("/s/HCC-TP/thanks")
    stored = db.session.scalars(select(Response)).one()
    assert stored.dossier_id == dossier.id and stored.channel.value == "qr_web"
    assert stored.service.code == "KS"  # the dossier's own service
    assert stored.claimed_dossier_code is None
    # a second visit, from any device: already rated, nothing stored
    again = app.test_client().get(url)
    assert again.status_code == 200
    assert "Hồ sơ này đã được đánh giá" in again.get_data(as_text=True)
    assert _count(db) == 1


def test_a_typed_claim_never_blocks_the_dossiers_own_link(app, db, dossier):
    from .test_survey import _post

    assert _post(app.test_client(), dossier_code="HS-2026-0042")[0].status_code == 303
    sent, _ = _send(app.test_client(), f"/r/{make_token(dossier.id, RECEIPT)}")
    assert sent.status_code == 303
    rows = db.session.execute(
        select(Response.dossier_id, Response.claimed_dossier_id).order_by(Response.id)
    ).all()
    assert rows == [(None, dossier.id), (dossier.id, None)]


def test_an_sms_link_answers_the_invitation_with_its_sampling_probability(
    client, db, dossier, is_postgres
):
    from survey_app.models import CHANNELS
    from survey_app.reporting.counts import raw_responses

    invitation = _invite(db, dossier, datetime.now(UTC) - timedelta(hours=1), probability=0.25)
    sent, _ = _send(client, f"/r/{make_token(dossier.id, SMS)}")
    assert sent.status_code == 303
    stored = db.session.scalars(select(Response)).one()
    assert stored.channel.value == "sms_link" and stored.dossier_id == dossier.id
    db.session.refresh(invitation)
    assert invitation.status == InvitationStatus.ANSWERED
    day = datetime.now(UTC)
    cells = db.session.execute(
        raw_responses(day - timedelta(days=1), day + timedelta(days=1))
    ).all()
    assert [(c.channel, c.probability, c.count) for c in cells] == [
        (CHANNELS.index("sms_link"), 0.25, 1)
    ]


@pytest.mark.parametrize("hours, status", [(71, 200), (73, 410)])
def test_an_sms_link_is_open_for_the_conversation_window(client, db, dossier, hours, status):
    sent_at = datetime.now(UTC)
    _invite(db, dossier, sent_at)
    with time_machine.travel(sent_at + timedelta(hours=hours), tick=False):
        page = client.get(f"/r/{make_token(dossier.id, SMS)}")
    assert page.status_code == status
    if status == 410:
        assert "đã hết hạn" in page.get_data(as_text=True)


def test_an_sms_link_without_a_sent_invitation_is_not_valid(client, dossier):
    assert client.get(f"/r/{make_token(dossier.id, SMS)}").status_code == 404


@pytest.mark.parametrize("days, status", [(29, 200), (31, 410)])
def test_a_receipt_link_is_open_for_its_days_after_the_return(client, dossier, days, status):
    with time_machine.travel(dossier.returned_at + timedelta(days=days), tick=False):
        assert client.get(f"/r/{make_token(dossier.id, RECEIPT)}").status_code == status


def test_a_receipt_link_is_open_before_the_return(client, office, make_dossier):
    waiting = make_dossier(office, code="HS-CHO")  # received, not yet returned
    assert client.get(f"/r/{make_token(waiting.id, RECEIPT)}").status_code == 200


@pytest.mark.parametrize("token", ["AAAAAAAAAAAAAAAAAAAAAA", "nope", "x" * 40])
def test_a_link_the_server_did_not_sign_gets_the_friendly_404(client, db, dossier, token):
    page = client.get(f"/r/{token}")
    assert page.status_code == 404 and "không hợp lệ" in page.get_data(as_text=True)
    assert client.post(f"/r/{token}", data={"q_overall": "5"}).status_code == 404
    assert client.get(f"/r/{token}.png").status_code == 404
    assert _count(db) == 0


def test_a_link_to_a_dossier_that_does_not_exist_is_not_valid(client, db, questionnaire):
    assert client.get(f"/r/{make_token(987654, RECEIPT)}").status_code == 404


def test_the_qr_image_carries_the_link(app, client, dossier):
    import zxingcpp

    token = make_token(dossier.id, RECEIPT)
    image = client.get(f"/r/{token}.png")
    assert image.status_code == 200 and image.mimetype == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(image.data)))
    assert [d.text for d in decoded] == [f"{app.config['PUBLIC_BASE_URL']}/r/{token}"]


def test_the_responses_api_tells_verified_from_claimed_bindings(app, client, db, dossier):
    from survey_app.api.auth import create_token

    from .test_survey import _post

    _post(app.test_client(), dossier_code="HS-2026-0042")  # a claim
    _send(app.test_client(), f"/r/{make_token(dossier.id, RECEIPT)}")  # the verified binding
    _post(app.test_client(), "/s/HCC-TP")  # neither
    _, plain = create_token("test", None, ("responses:read",))
    db.session.commit()
    app.config["RESPONSES_SETTLE_SECONDS"] = 0
    page = client.get("/api/v1/responses", headers={"Authorization": f"Bearer {plain}"}).json
    assert [r["dossier_binding"] for r in page["responses"]] == ["claimed", "verified", None]


def _stop_form(client, url):
    page = client.get(url)
    assert page.status_code == 200, page.get_data(as_text=True)[:300]
    html = page.get_data(as_text=True)
    return html, re.search(r'name="csrf_token" value="([^"]+)"', html)[1]


def test_a_citizen_stops_survey_texts_from_the_links_page(app, client, db, dossier):
    """In link mode a citizen cannot reply STOP: the form links to a page that stops the texts.
    Its GET changes nothing (a link checker may open it); its form opts the number out, the
    next invitation to that number is not queued, and it works after the window has closed."""
    from survey_app.models import OptOut
    from survey_app.services.dossiers import is_opted_out

    invitation = _invite(db, dossier, datetime.now(UTC) - timedelta(days=30))
    token = make_token(dossier.id, SMS)
    html, csrf = _stop_form(client, f"/r/{token}/stop")
    assert "Ngừng nhận tin nhắn khảo sát" in html and "Sở Tư pháp tỉnh Quảng Trị" in html
    assert db.session.scalar(select(OptOut)) is None  # the GET did nothing
    assert client.post(f"/r/{token}/stop", data={}).status_code == 400  # no CSRF token
    done = client.post(f"/r/{token}/stop", data={"csrf_token": csrf})
    assert done.status_code == 200 and "Đã xong" in done.get_data(as_text=True)
    optout = db.session.scalar(select(OptOut))
    assert optout.phone_hash == invitation.phone_hash and optout.source == "link_page"
    assert is_opted_out(invitation.phone_hash)
    again = client.post(f"/r/{token}/stop", data={"csrf_token": csrf})  # idempotent
    assert again.status_code == 200 and db.session.query(OptOut).count() == 1


def test_the_sms_links_form_offers_the_stop_page_and_a_receipts_does_not(client, db, dossier):
    _invite(db, dossier, datetime.now(UTC))
    sms = client.get(f"/r/{make_token(dossier.id, SMS)}").get_data(as_text=True)
    assert f"/r/{make_token(dossier.id, SMS)}/stop" in sms
    receipt = client.get(f"/r/{make_token(dossier.id, RECEIPT)}").get_data(as_text=True)
    assert "/stop" not in receipt


def test_the_stop_page_of_a_bad_link_is_the_friendly_404(client, db, dossier):
    assert client.get("/r/not-a-token/stop").status_code == 404
    assert client.post("/r/not-a-token/stop", data={}).status_code == 404
