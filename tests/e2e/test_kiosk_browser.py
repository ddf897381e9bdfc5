"""A kiosk at the counter in a real browser: a tablet pairs with its code, rates citizen after
citizen, keeps ratings while the network is cut and sends each exactly once when it is back,
shows a refused rating to the staff; axe-core finds nothing serious on its pages."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import select

from .test_survey_browser import _face

pytestmark = pytest.mark.browser

TABLET = {"viewport": {"width": 1280, "height": 800}, "has_touch": True}


@pytest.fixture
def kiosk_office(live_app):
    """Office STP with counter Q1, and the questionnaire; the kiosk resets after 1 second."""
    from survey_app.extensions import db
    from survey_app.models import Counter, Office, OfficeKind, RankingGroup
    from survey_app.services.questionnaires import ensure_default_questionnaire

    live_app.config["KIOSK_RESET_SECONDS"] = 1
    with live_app.app_context():
        ensure_default_questionnaire()
        office = Office(
            code="STP",
            name="Sở Tư pháp tỉnh Quảng Trị",
            kind=OfficeKind.DEPARTMENT,
            group=RankingGroup.DEPARTMENTS,
        )
        office.counters.append(Counter(code="Q1", name="Quầy số 1", name_en="Counter 1"))
        db.session.add(office)
        db.session.commit()
        db.session.remove()
    return "STP"


def _pairing_code(live_app) -> str:
    """Enrol a kiosk for counter Q1 of STP (as an official would) and give its pairing code."""
    from survey_app.extensions import db
    from survey_app.models import Counter
    from survey_app.services.kiosks import enrol

    with live_app.app_context():
        counter = db.session.scalar(select(Counter).where(Counter.code == "Q1"))
        pairing = enrol(counter.office, counter, "Máy quầy 1", "test")
        db.session.commit()
        db.session.remove()
        return pairing.display_code


@pytest.fixture
def tablet(browser, live_app, kiosk_office):
    """A tablet's browser that paired with its code (typed on /k/pair), on the kiosk screen."""
    context = browser.new_context(**TABLET)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_app.config['LIVE_URL']}/k/")
    page.wait_for_url("**/k/pair")
    page.get_by_label("Mã ghép nối").fill(_pairing_code(live_app).lower())
    page.get_by_role("button", name="Đăng ký", exact=True).click()
    page.wait_for_url("**/k/?lang=vi")
    _wait(lambda: _stock(page) >= 10, "the tablet's stock of submission tokens")
    page.errors = errors
    yield page
    context.close()


def _wait(condition, what: str, seconds: float = 10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _stock(page) -> int:
    """How many of a store's records the tablet's IndexedDB holds (tokens by default)."""
    return _count_store(page, "tokens")


def _count_store(page, name: str) -> int:
    return page.evaluate(
        """name => new Promise(resolve => {
            const open = indexedDB.open("mscore-kiosk");
            open.onsuccess = () => {
                const db = open.result;
                if (!db.objectStoreNames.contains(name)) { db.close(); return resolve(0); }
                const request = db.transaction(name).objectStore(name).count();
                request.onsuccess = () => { db.close(); resolve(request.result); };
            };
            open.onerror = () => resolve(-1);
        })""",
        name,
    )


def _kiosk_responses(live_app) -> list[tuple]:
    """(overall, language, counter, submission token) of every stored response, in order."""
    from survey_app.extensions import db
    from survey_app.models import Response

    with live_app.app_context():
        rows = db.session.scalars(select(Response).order_by(Response.id)).all()
        result = [
            (
                next(a.value for a in r.answers if a.question.code == "overall"),
                r.language,
                r.counter.code,
                r.channel.value,
                r.submission_token,
            )
            for r in rows
        ]
        db.session.remove()
        return result


def _rate(page, face: str, send: str = "Gửi ngay"):
    """A citizen taps a face and sends now; the thank-you shows in place."""
    _face(page.locator(".overall"), face).click()
    page.get_by_role("button", name=send).click()
    page.locator("#kiosk-thanks").wait_for(state="visible")


def _ready(page):
    """The screen is back for the next citizen: the form, in Vietnamese, nothing chosen."""
    page.locator("#kiosk-rating").wait_for(state="visible")
    assert page.get_attribute("html", "lang") == "vi"
    assert page.locator("input[name=q_overall]:checked").count() == 0


def test_a_kiosk_rates_three_citizens_in_a_row(live_app, tablet, output_dir):
    page = tablet
    assert page.locator("h1.office").inner_text() == "Sở Tư pháp tỉnh Quảng Trị"
    assert (
        page.locator(".face .emoji").first.bounding_box()["height"] >= 80
    )  # large, at arm's length
    page.screenshot(path=str(output_dir / "kiosk-screen.png"))
    _rate(page, "Rất hài lòng")
    assert "Xin cảm ơn" in page.locator("#kiosk-thanks").inner_text()
    page.screenshot(path=str(output_dir / "kiosk-thanks.png"))
    _ready(page)  # after KIOSK_RESET_SECONDS, by itself
    _rate(page, "Bình thường")
    page.get_by_role("button", name="Người tiếp theo").click()  # or at once
    _ready(page)
    page.get_by_role("link", name="English").click()  # the third citizen reads English
    page.wait_for_url("**/k/?lang=en")
    assert page.locator(".counter").inner_text() == "Counter 1"
    _rate(page, "Dissatisfied", send="Send now")
    page.wait_for_url("**/k/?lang=vi")  # the next citizen starts in Vietnamese again
    _ready(page)
    _wait(lambda: len(_kiosk_responses(live_app)) == 3, "three responses")
    stored = _kiosk_responses(live_app)
    assert [row[:4] for row in stored] == [
        (5, "vi", "Q1", "kiosk"),
        (3, "vi", "Q1", "kiosk"),
        (2, "en", "Q1", "kiosk"),
    ]
    assert len({row[4] for row in stored}) == 3  # a server-issued token each
    assert page.evaluate("navigator.serviceWorker.ready.then(r => !!r.active)")
    blocked = [e for e in page.errors if "Content Security Policy" in e or "Refused" in e]
    assert not blocked, blocked  # nothing the content security policy would block


def test_ratings_made_offline_arrive_exactly_once_when_the_network_is_back(live_app, tablet):
    page = tablet
    _rate(page, "Hài lòng")
    _wait(lambda: len(_kiosk_responses(live_app)) == 1, "the online rating")
    _ready(page)
    page.context.set_offline(True)
    page.locator("#kiosk-offline").wait_for(state="visible")
    for face in ("Rất không hài lòng", "Rất hài lòng"):
        _rate(page, face)
        assert page.locator("#kiosk-thanks [data-state=saved]").is_visible()  # kept here
        _ready(page)
    assert page.locator("#kiosk-pending [data-count]").inner_text() == "2"
    assert _count_store(page, "outbox") == 2
    page.reload()  # the tablet restarts its browser while offline: the page comes from its cache
    page.locator("h1.office").wait_for()
    time.sleep(1)
    assert len(_kiosk_responses(live_app)) == 1  # nothing reached the server meanwhile
    page.context.set_offline(False)
    _wait(lambda: len(_kiosk_responses(live_app)) == 3, "the two offline ratings")
    page.locator("#kiosk-pending").wait_for(state="hidden")
    assert _count_store(page, "outbox") == 0
    page.reload()  # and again, with the connection: nothing is sent twice
    page.locator("h1.office").wait_for()
    time.sleep(1)
    stored = _kiosk_responses(live_app)
    assert [row[0] for row in stored] == [4, 1, 5]
    assert len({row[4] for row in stored}) == 3


def test_a_rating_the_server_refuses_is_shown_to_the_staff(live_app, tablet):
    page = tablet
    live_app.config["KIOSK_TOKEN_HOURS"] = 2 / 3600  # tokens live 2 seconds
    page.context.set_offline(True)
    _rate(page, "Hài lòng")
    time.sleep(3.5)  # offline longer than the token lives
    page.context.set_offline(False)
    refused = page.locator("#kiosk-refused")
    refused.wait_for(state="visible")
    assert refused.locator("h2 [data-count]").inner_text() == "1"
    assert refused.locator("[data-reason=expired]").is_visible()
    assert _kiosk_responses(live_app) == [] and _count_store(page, "refused") == 1
    page.get_by_role("button", name="Đóng thông báo").click()  # the staff have read it
    refused.wait_for(state="hidden")
    assert _count_store(page, "refused") == 0


def test_the_kiosk_works_without_javascript(live_app, kiosk_office, browser):
    context = browser.new_context(java_script_enabled=False, **TABLET)
    page = context.new_page()
    page.goto(f"{live_app.config['LIVE_URL']}/k/pair")
    page.get_by_label("Mã ghép nối").fill(_pairing_code(live_app))
    page.get_by_role("button", name="Đăng ký", exact=True).click()
    page.wait_for_url("**/k/?lang=vi")
    for face in ("Hài lòng", "Không hài lòng"):
        _face(page.locator(".overall"), face).click()
        page.get_by_role("button", name="Gửi ngay").click()
        page.wait_for_url("**/k/thanks?lang=vi")
        assert "Xin cảm ơn" in page.content()
        page.wait_for_url("**/k/?lang=vi", timeout=5_000)  # the Refresh header, after 1 second
    context.close()
    assert [row[0] for row in _kiosk_responses(live_app)] == [4, 2]


def _serious(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def _signed_in_admin(live_app, context):
    """The browser context holds an admin's Flask-Login session (as the sign-in page leaves)."""
    from survey_app.extensions import db
    from survey_app.models import Role, User

    with live_app.app_context():
        user = User(email="admin@example.gov.vn", name="Admin", role=Role.ADMIN, password_hash="x")
        db.session.add(user)
        db.session.commit()
        value = live_app.session_interface.get_signing_serializer(live_app).dumps(
            {"_user_id": str(user.id), "_fresh": True}
        )
        db.session.remove()
    context.add_cookies([{"name": "session", "value": value, "url": live_app.config["LIVE_URL"]}])


def test_the_kiosk_and_enrolment_pages_have_no_serious_axe_violations(
    live_app, kiosk_office, browser
):
    base = live_app.config["LIVE_URL"]
    official = browser.new_context()
    _signed_in_admin(live_app, official)
    page = official.new_page()
    page.goto(f"{base}/kiosks/")
    assert _serious(page) == [], "the kiosks page"
    page.get_by_label("Quầy", exact=True).select_option(label="Quầy số 1")
    page.get_by_role("button", name="Đăng ký và hiện mã ghép nối").click()
    page.wait_for_url(re.compile(r".*/kiosks/[a-z0-9]+$"))
    assert _serious(page) == [], "a kiosk with its pairing code"
    code = page.locator(".pairing-code").inner_text()
    page.goto(f"{base}/kiosks/")
    assert _serious(page) == [], "the kiosks page with one kiosk"

    tablet = browser.new_context(**TABLET)
    screen = tablet.new_page()
    screen.goto(f"{base}/k/pair")
    assert _serious(screen) == [], "the pairing page"
    screen.get_by_label("Mã ghép nối").fill("WRONG-CODE")
    screen.get_by_role("button", name="Đăng ký", exact=True).click()
    assert _serious(screen) == [], "the pairing page with its error"
    screen.get_by_label("Mã ghép nối").fill(code)
    screen.get_by_role("button", name="Đăng ký", exact=True).click()
    screen.wait_for_url("**/k/?lang=vi")
    assert _serious(screen) == [], "the kiosk screen"
    screen.get_by_role("button", name="Gửi ngay").click()  # without a rating
    screen.locator("#kiosk-missing").wait_for(state="visible")
    assert _serious(screen) == [], "the kiosk screen asking for the rating"
    live_app.config["KIOSK_RESET_SECONDS"] = 60
    _rate(screen, "Hài lòng")
    assert _serious(screen) == [], "the kiosk's thank-you"
    screen.goto(f"{base}/k/?lang=en")
    assert _serious(screen) == [], "the kiosk screen in English"
    official.close()
    tablet.close()
