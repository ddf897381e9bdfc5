"""Signed rating links: short, bound to one dossier and purpose, refused when altered."""

from __future__ import annotations

import base64

import pytest

from survey_app.services.rating_links import (
    RECEIPT,
    SMS,
    make_token,
    rating_url,
    read_token,
)


@pytest.mark.parametrize("dossier_id", [1, 255, 256, 65_537, 2**31 + 5, 2**40 - 1])
@pytest.mark.parametrize("purpose", [RECEIPT, SMS])
def test_a_token_reads_back_as_its_dossier_and_purpose(app, dossier_id, purpose):
    token = make_token(dossier_id, purpose)
    assert read_token(token) == (dossier_id, purpose)
    assert len(token) <= 22  # an SMS keeps its two GSM-7 segments


def test_the_url_is_the_public_base_and_a_short_path(app):
    url = rating_url(42, SMS)
    assert url.startswith(app.config["PUBLIC_BASE_URL"] + "/r/")
    assert len(url) - len(app.config["PUBLIC_BASE_URL"]) <= 25


def test_an_altered_token_is_refused(app):
    token = make_token(1234, RECEIPT)
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    for i in range(len(raw)):
        changed = bytearray(raw)
        changed[i] ^= 0x01
        forged = base64.urlsafe_b64encode(bytes(changed)).rstrip(b"=").decode()
        assert read_token(forged) is None, f"byte {i} changed and the token still reads"


@pytest.mark.parametrize(
    "token", ["", "AAAAAAAAAAAAAAAAAAAAAA", "not a token!", "A" * 200, "x" * 15, "%00" * 8]
)
def test_tokens_the_app_did_not_sign_are_refused(app, token):
    assert read_token(token) is None


def test_another_key_signs_other_tokens_and_a_fallback_key_still_reads(app):
    token = make_token(7, RECEIPT)
    old_key = app.config["SECRET_KEY"]
    app.config["SECRET_KEY"] = "a-new-secret-key-0123456789abcdef0123456789"
    try:
        assert read_token(token) is None
        app.config["SECRET_KEY_FALLBACKS"] = [old_key]
        assert read_token(token) == (7, RECEIPT)
        assert make_token(7, RECEIPT) != token  # new links are signed with the new key
    finally:
        app.config["SECRET_KEY"] = old_key
        app.config.pop("SECRET_KEY_FALLBACKS", None)


def test_an_unknown_purpose_or_id_cannot_be_signed(app):
    with pytest.raises(ValueError):
        make_token(1, "x")
    with pytest.raises(ValueError):
        make_token(0, SMS)
