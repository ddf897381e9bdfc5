"""Issue 16 §6 and §7: bad cursors and deeply nested JSON are 4xx; security headers on every
response; templates that the content security policy lets render."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from .scoping import bearer

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


@pytest.fixture
def reader(db):
    return bearer(db, "responses:read")


def test_a_cursor_beyond_32_bits_is_400(client, reader, make_office):
    """A cursor decoding to an id past the INTEGER column was a 500 on PostgreSQL."""
    from survey_app.api.responses import encode_cursor

    make_office("P1")
    for last in (2**31, 2**40, 10**12):
        res = client.get(f"/api/v1/responses?cursor={encode_cursor(last)}", headers=reader)
        assert res.status_code == 400 and res.json["code"] == "bad_cursor", last
    ok = client.get(f"/api/v1/responses?cursor={encode_cursor(2**31 - 1)}", headers=reader)
    assert ok.status_code == 200 and ok.json["responses"] == []


@pytest.mark.parametrize(
    "cursor",
    [
        base64.urlsafe_b64encode(b"r1:4294967296").decode().rstrip("="),  # the old, clear cursor
        base64.urlsafe_b64encode(b"r1:5").decode().rstrip("="),
        "%%%",
        "gAAAAA" + "A" * 90,
        "x" * 200,
    ],
)
def test_malformed_or_forged_cursors_are_400(client, reader, cursor):
    res = client.get(f"/api/v1/responses?cursor={cursor}", headers=reader)
    assert res.status_code == 400 and res.json["code"] == "bad_cursor"


def test_a_cursor_made_with_another_secret_is_400(app, client, reader):
    from survey_app.api.responses import encode_cursor

    cursor = encode_cursor(3)
    app.config["SECRET_KEY"] = "another-secret-" + "Qw9xZ3" * 6
    res = client.get(f"/api/v1/responses?cursor={cursor}", headers=reader)
    assert res.status_code == 400 and res.json["code"] == "bad_cursor"


@pytest.mark.parametrize("depth", [100_000, 1_000, 33])
def test_deeply_nested_json_is_a_clear_400(client, db, depth):
    """100,000 nested `[` was a RecursionError: a 500."""
    headers = {**bearer(db, "dossiers:write"), "Content-Type": "application/json"}
    res = client.post("/api/v1/dossiers", data="[" * depth + "]" * depth, headers=headers)
    assert res.status_code == 400 and res.json["code"] == "bad_json"


def test_json_within_the_depth_limit_is_read(app):
    from survey_app.security import MAX_JSON_DEPTH

    text = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert app.json.loads(text) is not None
    with pytest.raises(ValueError, match="nested"):
        app.json.loads("[" + text + "]")


def _pages(client):
    """One response of each kind: a page, an error page, JSON, a JSON error, a static file."""
    return {
        "page": client.get("/api/docs"),
        "404": client.get("/s/NOPE"),
        "json": client.get("/healthz"),
        "json-error": client.get("/api/v1/offices"),
        "static": client.get("/static/mscore.css"),
        "405": client.put("/healthz"),
    }


def test_security_headers_on_every_response(client):
    for name, res in _pages(client).items():
        assert res.headers["Content-Security-Policy"] == CSP, name
        assert res.headers["X-Content-Type-Options"] == "nosniff", name
        assert res.headers["X-Frame-Options"] == "DENY", name
        assert res.headers["Referrer-Policy"] == "same-origin", name
        assert "Strict-Transport-Security" not in res.headers, name  # not in development


def test_hsts_in_production_only(app, client):
    app.config["MSCORE_ENV"] = "production"
    for name, res in _pages(client).items():
        assert res.headers["Strict-Transport-Security"].startswith("max-age="), name
        max_age = int(res.headers["Strict-Transport-Security"].split("=")[1].split(";")[0])
        assert max_age >= 180 * 24 * 3600


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "an inline <script>"),
    (re.compile(r"<style\b", re.I), "a <style> block"),
    (re.compile(r"\sstyle\s*=", re.I), "a style= attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "an on…= event handler"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
]


def test_templates_need_nothing_the_policy_refuses():
    """What the content security policy blocks in a browser: no template may rely on it."""
    root = Path(__file__).resolve().parents[2] / "templates"
    found = [
        f"{path.relative_to(root)}: {what}"
        for path in sorted(root.rglob("*.html"))
        for pattern, what in INLINE
        if pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert not found, "move these to survey_app/static/: " + "; ".join(found)
