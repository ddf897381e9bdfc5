"""Shared helpers of the officials' web app tests: accounts per role and signing in."""

from __future__ import annotations

import re

PASSWORD = "correct horse battery staple"


def csrf_of(client, path: str = "/login") -> str:
    """The CSRF token of a page's form (Flask-WTF, as a browser would send it back)."""
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)[1]


def sign_in(client, email: str, password: str = PASSWORD, **kw):
    """Post the sign-in form with its CSRF token."""
    token = csrf_of(client)
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        **kw,
    )


def make_user(db, email: str, role: str, office=None, password: str = PASSWORD):
    """An official with a known password."""
    from survey_app.dashboard.users import create_user

    user = create_user(email, email.split("@")[0], role, office.code if office else None, password)
    db.session.commit()
    return user
