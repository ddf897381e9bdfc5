"""Officials in a real browser: sign in as each role, the dashboard for the demo province,
change period and group, open an office, download the Excel file and the office PDF, sign out;
axe-core finds no serious or critical violation on any of these pages; screenshots saved."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser

#: The content security policy agreed across the team (COMMON.md); set here so that the browser
#: reports anything these pages would have blocked (inline style or script).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


@pytest.fixture
def demo(live_app):
    """A small demo province (as `make demo` seeds it) and its demo officials' sign-ins."""

    @live_app.after_request
    def _csp(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        return response

    runner = live_app.test_cli_runner()
    for args in (
        ["mscore", "seed-demo", "--responses", "4000"],
        ["mscore", "update-rollup", "--days", "400"],
    ):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
    result = runner.invoke(args=["mscore", "demo-users"])
    assert result.exit_code == 0, result.output
    users = {}
    for line in result.output.splitlines():
        parts = line.split()
        if len(parts) >= 3 and "@demo.mscore.vn" in parts[1]:
            users[parts[0]] = (parts[1], parts[2])
    assert set(users) == {"admin", "analyst", "office_manager"}
    return users


def _axe(page, name: str) -> None:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    bad = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, f"{name}: {bad}"


def _sign_in(page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login")
    _axe(page, "sign-in")
    page.get_by_label("Địa chỉ email").fill(email)
    page.get_by_label("Mật khẩu").fill(password)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url("**/dashboard")


@pytest.mark.parametrize("role", ["admin", "analyst", "office_manager"])
def test_official_walks_through_the_app(live_app, demo, browser, role, output_dir, tmp_path):
    base = live_app.config["LIVE_URL"]
    context = browser.new_context(viewport={"width": 1366, "height": 900}, accept_downloads=True)
    page = context.new_page()
    errors, failed = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on(
        "response",
        lambda r: failed.append(r.url) if r.status >= 400 and "favicon" not in r.url else None,
    )
    email, password = demo[role]
    _sign_in(page, base, email, password)
    assert page.locator("h1").inner_text() == "Tình hình chung"
    assert page.locator("#chart-ranking svg").count() == 1
    _axe(page, "dashboard")

    # another period and group, through the form as a person would
    quarter = page.locator("#period option").filter(has_text="Quý").first.get_attribute("value")
    page.select_option("#period", quarter)
    groups = page.locator("#group option").all()
    page.select_option("#group", groups[-1].get_attribute("value"))
    page.get_by_role("button", name="Xem", exact=True).first.click()
    page.wait_for_url(re.compile(rf".*period={quarter}.*"))
    assert f"Quý {quarter[-1]}/{quarter[:4]}" in page.title()
    _axe(page, "dashboard, other period and group")
    if role == "office_manager":
        names = page.locator("#table-offices tbody td.name a").all_inner_texts()
        assert names and all("Đông Hà" in n for n in names)  # its subtree only
    else:
        page.screenshot(path=str(output_dir / "dashboard.png"), full_page=True)

    for sub in ("Biểu đồ phễu", "Diễn biến", "Tỷ lệ phản hồi"):
        page.get_by_role("link", name=sub).click()
        page.wait_for_load_state()
        _axe(page, sub)

    with page.expect_download() as download:
        page.goto(f"{base}/dashboard?period={quarter}")
        page.get_by_role("link", name="Tải báo cáo đầy đủ (Excel)").click()
    excel = tmp_path / "report.xlsx"
    download.value.save_as(excel)
    assert excel.read_bytes()[:2] == b"PK" and download.value.suggested_filename.endswith(".xlsx")

    page.locator("#table-offices tbody td.name a").first.click()
    page.wait_for_url("**/offices/**")
    assert page.locator("#chart-elements svg").count() == 1
    _axe(page, "office page")
    if role == "admin":
        page.screenshot(path=str(output_dir / "office.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_role("link", name="Báo cáo để in (PDF)").click()
    pdf = tmp_path / "office.pdf"
    download.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")

    page.get_by_role("button", name="Đăng xuất").click()
    page.wait_for_load_state()
    assert "Bạn đã đăng xuất" in page.content()
    _axe(page, "signed out")
    page.goto(f"{base}/dashboard")
    assert "/login" in page.url
    assert not failed, failed
    csp = [e for e in errors if "Content Security Policy" in e or "Refused" in e]
    assert not csp, csp  # nothing the content security policy would block
    context.close()


def test_dashboard_on_a_phone_without_javascript(live_app, demo, browser, output_dir):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, java_script_enabled=False, is_mobile=True
    )
    page = context.new_page()
    email, password = demo["analyst"]
    _sign_in_no_axe(page, live_app.config["LIVE_URL"], email, password)
    assert page.evaluate is not None
    page.screenshot(path=str(output_dir / "dashboard-phone.png"), full_page=False)
    context.close()


def _sign_in_no_axe(page, base, email, password):
    page.goto(f"{base}/login")
    page.get_by_label("Địa chỉ email").fill(email)
    page.get_by_label("Mật khẩu").fill(password)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url("**/dashboard")
    assert page.locator("#table-offices").count() == 1
