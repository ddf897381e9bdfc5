"""A citizen's path in a real browser: scan the QR URL on a phone, answer, submit, thank-you."""

import pytest
from sqlalchemy import select

pytestmark = pytest.mark.browser


@pytest.fixture
def office(live_app):
    from survey_app.extensions import db
    from survey_app.models import Counter, Office, OfficeKind, RankingGroup, Service
    from survey_app.services.questionnaires import ensure_default_questionnaire

    with live_app.app_context():
        ensure_default_questionnaire()
        office = Office(
            code="STP",
            name="Sở Tư pháp tỉnh Quảng Trị",
            kind=OfficeKind.DEPARTMENT,
            group=RankingGroup.DEPARTMENTS,
        )
        office.counters.append(Counter(code="Q1", name="Quầy số 1"))
        office.services.append(
            Service(code="LLTP", name="Cấp phiếu lý lịch tư pháp", field="Tư pháp")
        )
        db.session.add(office)
        db.session.commit()
    return "STP"


def _face(scope, name):
    """The face a person taps: the label around the radio whose accessible name is exactly this."""
    radio = scope.page.get_by_role("radio", name=name, exact=True)
    return scope.locator("label.face").filter(has=radio)


def _stored(live_app):
    from survey_app.extensions import db
    from survey_app.models import Response

    with live_app.app_context():
        rows = db.session.scalars(select(Response)).all()
        result = [
            (
                r.channel.value,
                r.counter.code if r.counter else None,
                r.language,
                {a.question.code: a.value if a.value is not None else a.text for a in r.answers},
            )
            for r in rows
        ]
        db.session.remove()
        return result


def test_phone_user_answers_and_submits(live_app, office, phone, output_dir):
    page = phone.new_page()
    page.goto(f"{live_app.config['LIVE_URL']}/s/STP/Q1")  # the counter's QR URL
    assert page.locator("h1.office").inner_text() == "Sở Tư pháp tỉnh Quảng Trị"
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scroll
    box = page.locator("fieldset.overall, .overall fieldset").first.locator("label.face").first
    assert box.bounding_box()["height"] >= 44  # a large touch target
    page.screenshot(path=str(output_dir / "survey-form-phone.png"), full_page=True)

    _face(page.locator(".overall"), "Rất hài lòng").tap()
    _face(page.locator("fieldset", has_text="thái độ lịch sự"), "Hài lòng").tap()
    page.get_by_label("Góp ý").first.fill("Cán bộ hướng dẫn tận tình")
    page.get_by_role("button", name="Gửi đánh giá").tap()
    page.wait_for_url("**/s/STP/thanks")
    assert "Xin cảm ơn" in page.content()
    page.screenshot(path=str(output_dir / "survey-thanks-phone.png"))
    assert _stored(live_app) == [
        (
            "qr_web",
            "Q1",
            "vi",
            {"overall": 5, "staff_polite": 4, "comment": "Cán bộ hướng dẫn tận tình"},
        )
    ]


def test_switch_to_english(live_app, office, phone):
    page = phone.new_page()
    page.goto(f"{live_app.config['LIVE_URL']}/s/STP")
    page.get_by_role("link", name="English").tap()
    page.wait_for_load_state()
    assert page.get_attribute("html", "lang") == "en"
    assert page.get_by_text("Staff were polite and respectful").is_visible()
    _face(page.locator(".overall"), "Satisfied").tap()
    page.get_by_role("button", name="Send", exact=True).tap()
    page.wait_for_url("**/thanks")
    assert "Thank you!" in page.content()
    assert _stored(live_app)[0][2] == "en"


def test_form_works_without_javascript(live_app, office, browser):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 360, "height": 740})
    page = context.new_page()
    page.goto(f"{live_app.config['LIVE_URL']}/s/STP")
    _face(page.locator(".overall"), "Bình thường").click()
    page.get_by_role("button", name="Gửi đánh giá").click()
    page.wait_for_url("**/thanks")
    assert "Xin cảm ơn" in page.content()
    context.close()
    assert _stored(live_app)[0][3] == {"overall": 3}


def test_ratings_are_reachable_by_keyboard(live_app, office, browser):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{live_app.config['LIVE_URL']}/s/STP")
    for _ in range(6):  # language link, then the first radio group
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.name") == "q_overall":
            break
    assert page.evaluate("document.activeElement.name") == "q_overall"
    page.keyboard.press("ArrowRight")  # moves to and selects the next face
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.querySelector('input[name=q_overall]:checked').value") in {
        "2",
        "3",
    }
    labels = page.locator("fieldset legend").all_inner_texts()
    assert any("Nhìn chung" in text for text in labels)  # every group has a legend
    context.close()
