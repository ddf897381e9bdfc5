"""Submission tokens: issued by the server with every form it renders, signed, bound to the office
and the time of issue, valid SURVEY_FORM_HOURS, and accepted once.

A token is itsdangerous's TimestampSigner over `<office id>-<random nonce>` (about 50 characters,
within the 64 of `responses.submission_token`): the signature proves the server issued it, the
office id binds it to the form it came with, the timestamp limits its age. "Once" is the unique
`responses.submission_token`: a second submission with the same token stores nothing (the first
counts, and the citizen who pressed Send twice is thanked). Signed with SECRET_KEY; tokens signed
with a key of SECRET_KEY_FALLBACKS are still read, so a key rotation spoils no open form.

Any channel that sends the web form's answers (the poster's form, the rating links, a kiosk that
collects them offline and sends them later) asks `issue` for a token with each form and `check`
when the answers come back.
"""

from __future__ import annotations

import enum
import secrets
from datetime import datetime

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner

SALT = "mscore.submission-token"


class TokenCheck(enum.Enum):
    """What `check` made of a token."""

    VALID = "valid"
    EXPIRED = "expired"  # issued here, for this office, longer ago than SURVEY_FORM_HOURS
    FORGED = "forged"  # not issued here, or for another office


def _signer() -> TimestampSigner:
    fallbacks = current_app.config.get("SECRET_KEY_FALLBACKS") or []
    return TimestampSigner([*fallbacks, current_app.secret_key], salt=SALT)


def issue(office_id: int) -> str:
    """A new token for a form of this office."""
    return _signer().sign(f"{office_id}-{secrets.token_urlsafe(9)}").decode()


def max_age_seconds() -> int:
    """How long a token is accepted after it was issued (SURVEY_FORM_HOURS)."""
    return round(float(current_app.config["SURVEY_FORM_HOURS"]) * 3600)


def check(token: str, office_id: int, max_age: int | None = None) -> TokenCheck:
    """Whether a token sent back with a form of this office was issued here and is still valid
    (`max_age` seconds, SURVEY_FORM_HOURS unless given: a kiosk that keeps answers offline may
    allow its own tokens longer)."""
    if not isinstance(token, str) or not 0 < len(token) <= 64:
        return TokenCheck.FORGED
    try:
        value = _signer().unsign(token, max_age=max_age or max_age_seconds())
    except SignatureExpired as expired:
        value, state = expired.payload, TokenCheck.EXPIRED
    except BadSignature:
        return TokenCheck.FORGED
    else:
        state = TokenCheck.VALID
    office, _, _nonce = (value or b"").decode("ascii", "replace").partition("-")
    return state if office == str(office_id) else TokenCheck.FORGED


def issued_at(token: str) -> datetime | None:
    """When the server issued a token (UTC, to the second); None when it did not issue it. A
    kiosk's rating kept offline cannot have been made before its token was issued."""
    if not isinstance(token, str) or not 0 < len(token) <= 64:
        return None
    try:
        _value, timestamp = _signer().unsign(token, return_timestamp=True)
    except BadSignature:
        return None
    return timestamp
