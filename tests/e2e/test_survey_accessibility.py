"""axe-core finds no violation on the citizen's pages (the form, its errors, thank-you, already
rated, not found), the errors open at a GOV.UK error summary, and "Send now" sends after the
overall rating alone."""

import pytest

from .test_survey_browser import _face, _stored, office  # noqa: F401  (office: a fixture)

pytestmark = pytest.mark.browser


def _violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [f"{v['id']}: {v['help']}" for v in results.response["violations"]]


def test_send_now_sends_after_the_overall_rating_alone(live_app, office, phone):  # noqa: F811
    page = phone.new_page()
    page.goto(f"{live_app.config['LIVE_URL']}/s/STP")
    send_now = page.get_by_role("button", name="Gửi ngay")
    overall = page.locator(".overall")
    # right under the overall rating: within the first screen of a 360 × 740 phone
    assert send_now.bounding_box()["y"] < 740
    assert overall.locator("button").count() == 1
    _face(overall, "Hài lòng").tap()
    send_now.tap()
    page.wait_for_url("**/s/STP/thanks")
    assert _stored(live_app)[0][3] == {"overall": 4}


def test_the_pages_have_no_axe_violations(live_app, office, phone):  # noqa: F811
    base = live_app.config["LIVE_URL"]
    page = phone.new_page()
    page.goto(f"{base}/s/STP")
    assert _violations(page) == [], "the form"
    # sent without the overall rating: the error summary, focused, linking to the field
    with page.expect_navigation():
        page.get_by_role("button", name="Gửi đánh giá").tap()
    assert page.title().startswith("Lỗi:")
    summary = page.locator(".error-summary")
    assert page.evaluate("document.activeElement.className") == "error-summary"
    assert summary.bounding_box()["y"] < 740  # the page opens at the summary
    assert _violations(page) == [], "the form with its errors"
    summary.get_by_role("link").first.tap()
    assert page.evaluate("document.activeElement.name") == "q_overall"
    _face(page.locator(".overall"), "Rất hài lòng").tap()
    page.get_by_role("button", name="Gửi ngay").tap()
    page.wait_for_url("**/thanks*")  # the fragment of the followed error link carries over
    assert _violations(page) == [], "thank-you"
    page.goto(f"{base}/s/STP")  # the same device, the same day
    assert "Đã đánh giá" in page.content()
    assert _violations(page) == [], "already rated"
    page.goto(f"{base}/s/NOPE")
    assert _violations(page) == [], "not found"


def test_the_words_under_the_faces_are_at_least_14_px(live_app, office, phone):  # noqa: F811
    page = phone.new_page()
    page.goto(f"{live_app.config['LIVE_URL']}/s/STP")
    sizes = page.eval_on_selector_all(
        ".face .word", "els => els.map(e => parseFloat(getComputedStyle(e).fontSize))"
    )
    assert sizes and min(sizes) >= 14
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # still no sideways scroll


def test_each_face_is_sent_once(live_app, office, phone):  # noqa: F811
    page = phone.new_page()
    page.goto(f"{live_app.config['LIVE_URL']}/s/STP")
    assert page.locator("symbol").count() == 5
    assert (
        page.locator("svg.emoji use").count()
        == page.locator("input[type=radio][name^=q_]").count()
        - 2 * page.locator("fieldset.yesno").count()
    )
