"""Link mode end to end (issue 19): a dossier is returned, the worker texts its personal link
through the real twilio client to the fake Twilio server, the citizen opens the link on a phone
and answers; the response is bound to that dossier and its invitation, once."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from sms_gateway.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, MESSAGING_SERVICE_SID, FakeTwilio

pytestmark = pytest.mark.browser


@pytest.fixture
def fake_twilio():
    """A fake Twilio server on 127.0.0.1 for this test."""
    fake = FakeTwilio(timeout_seconds=1.0).start()
    yield fake
    fake.stop()


@pytest.fixture
def link_mode(live_app, fake_twilio):
    """The live app sending in link mode through the fake Twilio, its links pointing at itself."""
    live_app.config.update(
        PUBLIC_BASE_URL=live_app.config["LIVE_URL"],
        SMS_MODE="link",
        SMS_PROVIDER="twilio",
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_MESSAGING_SERVICE_SID=MESSAGING_SERVICE_SID,
        TWILIO_API_BASE_URL=fake_twilio.base_url,
        SMS_QUIET_START=0,
        SMS_QUIET_END=0,
    )
    return live_app


def _return_dossier_and_send(app) -> int:
    """A returned dossier at a new office, its invitation sent by one worker pass; its id."""
    from sms_gateway.worker import Worker
    from survey_app.extensions import db
    from survey_app.models import Office, OfficeKind, RankingGroup, Service
    from survey_app.services.dossiers import upsert_dossier
    from survey_app.services.questionnaires import ensure_default_questionnaire

    with app.app_context():
        ensure_default_questionnaire()
        office = Office(
            code="STP",
            name="Sở Tư pháp tỉnh Quảng Trị",
            kind=OfficeKind.DEPARTMENT,
            group=RankingGroup.DEPARTMENTS,
        )
        office.services.append(Service(code="LLTP", name="Cấp phiếu lý lịch tư pháp", field="TP"))
        db.session.add(office)
        db.session.commit()
        now = datetime.now(UTC)
        data = {"code": "HS-LINK-1", "phone": "0912345678", "service_code": "LLTP"}
        data.update(received_at=now - timedelta(days=2), due_at=now, returned_at=now)
        outcome = upsert_dossier(office, {**data, "contact_consent": True})
        db.session.commit()
        assert outcome.invitation == "queued", outcome
        Worker().run(once=True)
        db.session.remove()
        from survey_app.models import Dossier

        return db.session.scalar(select(Dossier.id).where(Dossier.code == "HS-LINK-1"))


def _stored(app):
    from survey_app.extensions import db
    from survey_app.models import Invitation, Response

    with app.app_context():
        responses = db.session.execute(select(Response.channel, Response.dossier_id)).all()
        statuses = db.session.scalars(select(Invitation.status)).all()
        count = db.session.scalar(select(func.count()).select_from(Response))
        db.session.remove()
        return [(str(c), d) for c, d in responses], [str(s) for s in statuses], count


def test_a_citizen_rates_from_the_sms_link_once(link_mode, fake_twilio, phone, output_dir):
    dossier_id = _return_dossier_and_send(link_mode)
    [message] = fake_twilio.messages
    base = re.escape(link_mode.config["LIVE_URL"])
    link = re.search(rf"{base}/r/[A-Za-z0-9_-]+", message["body"]).group(0)

    page = phone.new_page()
    page.goto(link)
    assert "Sở Tư pháp tỉnh Quảng Trị" in page.locator("h1").first.inner_text()
    radio = page.get_by_role("radio", name="Hài lòng", exact=True).first
    page.locator("label.face").filter(has=radio).first.tap()
    page.get_by_role("button", name="Gửi đánh giá").first.tap()
    page.wait_for_url("**/s/STP/thanks")
    assert "Xin cảm ơn" in page.content()
    page.screenshot(path=str(output_dir / "sms-link-thanks-phone.png"))
    assert _stored(link_mode) == ([("sms_link", dossier_id)], ["answered"], 1)

    page.goto(link)  # the same link again: already rated, nothing more stored
    assert "Hồ sơ này đã được đánh giá" in page.content()
    assert _stored(link_mode)[2] == 1
