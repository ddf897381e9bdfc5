"""Personal rating links: a short signed token that opens the web form bound to one dossier.

Two kinds share one format, told apart by their purpose:
- RECEIPT ("r"): printed on the citizen's receipt by the one-stop software, from the URL that
  `POST /api/v1/dossiers` returns for each dossier;
- SMS ("s"): sent in the SMS invitation when SMS_MODE is `link` (Vietnam, where a citizen cannot
  reply to a brand-name sender).

A token is base64url(purpose, dossier id, HMAC-SHA256 tag truncated to 80 bits): 22 characters for
any dossier id below 2**40, so that `<PUBLIC_BASE_URL>/r/<token>` keeps an SMS within two GSM-7
segments. itsdangerous's tokens carry a full 160-bit signature and a timestamp (over 40 characters
for the same id), which is why the tag is cut here; 80 bits cannot be guessed through a
rate-limited form. The token carries no expiry: whether a link is still open is decided from the
database (the dossier's return, the invitation's window), so it can change without reissuing
links. The key is derived from SECRET_KEY; links signed with a key of SECRET_KEY_FALLBACKS are
still read, so a key rotation does not break printed receipts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re

from flask import current_app

RECEIPT = "r"
SMS = "s"
PURPOSES = (RECEIPT, SMS)
TAG_BYTES = 10
PATH_PREFIX = "/r/"
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,32}$")


def _tag(secret: str | bytes, payload: bytes) -> bytes:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, b"mscore.rating-link:" + payload, hashlib.sha256).digest()[:TAG_BYTES]


def _secrets() -> list[str | bytes]:
    """The current signing key first, then the fallbacks a rotation keeps readable."""
    config = current_app.config
    return [config["SECRET_KEY"], *(config.get("SECRET_KEY_FALLBACKS") or ())]


def make_token(dossier_id: int, purpose: str) -> str:
    """The signed token of a dossier's rating link for a purpose (RECEIPT or SMS)."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown rating-link purpose {purpose!r}")
    if not 0 < dossier_id < 2**63:
        raise ValueError("a dossier id is a positive 63-bit integer")
    payload = purpose.encode() + dossier_id.to_bytes((dossier_id.bit_length() + 7) // 8, "big")
    raw = payload + _tag(_secrets()[0], payload)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def read_token(token: str) -> tuple[int, str] | None:
    """(dossier id, purpose) of a token this app signed, or None for anything else."""
    if not isinstance(token, str) or not TOKEN_PATTERN.fullmatch(token):
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    payload, tag = raw[:-TAG_BYTES], raw[-TAG_BYTES:]
    if len(payload) < 2 or payload[:1].decode("latin-1") not in PURPOSES:
        return None
    if not any(hmac.compare_digest(tag, _tag(secret, payload)) for secret in _secrets()):
        return None
    return int.from_bytes(payload[1:], "big"), payload[:1].decode()


def rating_url(dossier_id: int, purpose: str) -> str:
    """The public URL of a dossier's rating link (PUBLIC_BASE_URL + /r/<token>)."""
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return f"{base}{PATH_PREFIX}{make_token(dossier_id, purpose)}"
