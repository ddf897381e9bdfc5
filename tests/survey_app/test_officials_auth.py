"""Signing in and out: password hashes, CSRF, limits per address and account, safe redirects,
disabled accounts, and the create-user and demo-users commands."""

from __future__ import annotations

import pytest

from .officials import PASSWORD, csrf_of, make_user, sign_in

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def admin(db):
    return make_user(db, "admin@example.vn", "admin")


def test_sign_in_and_out(client, admin):
    page = client.get("/login")
    assert page.status_code == 200 and 'autocomplete="current-password"' in page.text
    assert admin.password_hash.startswith("scrypt:")  # never the password itself
    res = sign_in(client, "ADMIN@example.vn ")
    assert res.status_code == 302 and res.headers["Location"] == "/dashboard"
    assert client.get("/dashboard").status_code == 200
    assert client.get("/logout").status_code == 200  # a button, not a sign-out
    assert client.get("/dashboard").status_code == 200
    token = csrf_of(client, "/logout")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 200
    res = client.get("/dashboard")
    assert res.status_code == 302 and res.headers["Location"].startswith("/login?next=")


def test_wrong_password_and_unknown_email_answer_alike(client, admin):
    wrong = sign_in(client, "admin@example.vn", "not the password")
    unknown = sign_in(client, "nobody@example.vn", "not the password")
    assert wrong.status_code == unknown.status_code == 400
    message = "Địa chỉ email hoặc mật khẩu không đúng"
    assert message in wrong.text and message in unknown.text
    assert client.get("/dashboard").status_code == 302


def test_sign_in_needs_the_csrf_token(client, admin):
    res = client.post("/login", data={"email": "admin@example.vn", "password": PASSWORD})
    assert res.status_code == 400
    assert client.get("/dashboard").status_code == 302


def test_next_goes_only_to_this_site(client, admin):
    token = csrf_of(client)
    data = {"email": "admin@example.vn", "password": PASSWORD, "csrf_token": token}
    res = client.post("/login?next=//evil.example/x", data=data)
    assert res.headers["Location"] == "/"
    client.post("/logout", data={"csrf_token": csrf_of(client, "/logout")})
    data["csrf_token"] = csrf_of(client)
    res = client.post("/login?next=/offices/X?period=2025-03", data=data)
    assert res.headers["Location"] == "/offices/X?period=2025-03"


def test_failed_sign_ins_are_limited_per_account(client, admin):
    for i in range(5):  # from five addresses: the account's limit still counts them
        res = sign_in(
            client, "admin@example.vn", "wrong", environ_base={"REMOTE_ADDR": f"10.0.0.{i}"}
        )
        assert res.status_code == 400
    res = sign_in(client, "admin@example.vn", PASSWORD, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert res.status_code == 429 and "15 phút" in res.text
    other = sign_in(client, "other@example.vn", "wrong", environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 400  # another account from the same address is not blocked


def test_failed_sign_ins_are_limited_per_address(app, client, admin):
    app.config["LOGIN_RATE_LIMIT_ADDRESS"] = "3 per 15 minutes"
    for i in range(3):
        res = sign_in(client, f"u{i}@example.vn", "wrong")
        assert res.status_code == 400
    assert sign_in(client, "admin@example.vn").status_code == 429
    res = sign_in(client, "admin@example.vn", environ_base={"REMOTE_ADDR": "10.1.1.1"})
    assert res.status_code == 302  # a success elsewhere; successes do not count


def test_a_disabled_account_is_signed_out(client, db, admin):
    assert sign_in(client, "admin@example.vn").status_code == 302
    admin.is_enabled = False
    db.session.commit()
    assert client.get("/dashboard").status_code == 302
    assert sign_in(client, "admin@example.vn").status_code == 400


def test_session_cookie_is_http_only_and_lax(client, admin):
    res = sign_in(client, "admin@example.vn")
    cookie = res.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_create_user_reads_the_password_from_stdin_or_a_prompt(runner, db, make_office):
    from survey_app.models import User

    office = make_office("DONGHA", "UBND thành phố Đông Hà")
    res = runner.invoke(
        args=[
            "mscore",
            "create-user",
            "--email",
            "M@x.vn",
            "--name",
            "M",
            "--role",
            "office_manager",
            "--office",
            "DONGHA",
            "--password-stdin",
        ],
        input="a long enough password\n",
    )
    assert res.exit_code == 0, res.output
    user = db.session.query(User).filter_by(email="m@x.vn").one()
    assert user.office_id == office.id and "a long enough password" not in user.password_hash
    res = runner.invoke(
        args=["mscore", "create-user", "--email", "p@x.vn", "--name", "P", "--role", "analyst"],
        input="another long password\nanother long password\n",
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(
        args=[
            "mscore",
            "create-user",
            "--email",
            "q@x.vn",
            "--name",
            "Q",
            "--role",
            "analyst",
            "--password",
            "on the command line",
        ],
    )
    assert res.exit_code == 2 and "No such option" in res.output
    res = runner.invoke(
        args=[
            "mscore",
            "create-user",
            "--email",
            "s@x.vn",
            "--name",
            "S",
            "--role",
            "analyst",
            "--password-stdin",
        ],
        input="short\n",
    )
    assert res.exit_code == 2 and "at least 12" in res.output


def test_demo_users_print_working_sign_ins(runner, client, make_office):
    make_office("DONGHA", "UBND thành phố Đông Hà")
    res = runner.invoke(args=["mscore", "demo-users"])
    assert res.exit_code == 0, res.output
    lines = [line.split() for line in res.output.splitlines() if "@demo.mscore.vn" in line]
    assert [line[0] for line in lines] == ["admin", "analyst", "office_manager"]
    for _role, email, password, *_rest in lines:
        assert sign_in(client, email, password).status_code == 302
        client.post("/logout", data={"csrf_token": csrf_of(client, "/logout")})
    again = runner.invoke(args=["mscore", "demo-users"])
    assert sign_in(client, lines[0][1], lines[0][2]).status_code == 400  # a new password
    assert again.exit_code == 0


def test_excel_link_in_a_browser_asks_to_sign_in_first(client, admin):
    url = "/reports/satisfaction.xlsx?from=2025-03-01&to=2025-03-31"
    res = client.get(url, headers={"Accept": "text/html,application/xhtml+xml"})
    assert res.status_code == 302 and res.headers["Location"].startswith("/login?next=")
    assert client.get(url).status_code == 401  # an API client still gets the JSON 401
    sign_in(client, "admin@example.vn")
    res = client.get(url, headers={"Accept": "text/html"})
    assert res.status_code == 200 and res.data[:2] == b"PK"
