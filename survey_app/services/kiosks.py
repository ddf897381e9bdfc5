"""Kiosks: enrolment, pairing a tablet, revocation (each with its audit event), and the
credential a tablet holds afterwards.

An official enrols a kiosk for an office (and counter) and gets a pairing code: 8 characters
from an alphabet without look-alikes (0/O, 1/I/L), about 39 bits, valid KIOSK_PAIRING_MINUTES
and used once. The same code travels in a signed URL (itsdangerous, timestamped) for a tablet
that scans a QR code instead of typing. Only a keyed hash of the code is kept. Pairing gives
the tablet a random 256-bit credential (a cookie) of which only the SHA-256 is kept, as for API
tokens; revoking the kiosk refuses it from then on. A new pairing code for an active kiosk
replaces its tablet: the old credential stops working when the new tablet pairs.

Functions flush and never commit: the request or command that calls them commits once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from ..extensions import db
from ..models import Counter, Kiosk, KioskStatus, Office, utcnow
from ..models.audit import record
from ..protection import keyed_hash

PAIRING_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud, typed right
PAIRING_LENGTH = 8
PAIRING_SALT = "mscore.kiosk-pairing"
CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
MAX_NAME = 100


class KioskError(ValueError):
    """An enrolment that cannot be made as asked; the message says why."""


@dataclass(frozen=True)
class Pairing:
    """A pairing code just issued (its plain value exists only here), and its signed URL."""

    kiosk: Kiosk
    code: str
    url: str
    expires_at: datetime

    @property
    def display_code(self) -> str:
        """The code as people read it: two groups of four."""
        return format_code(self.code)


def format_code(code: str) -> str:
    """ABCDEFGH as ABCD-EFGH."""
    return f"{code[:4]}-{code[4:]}"


def normalize_code(typed: str) -> str:
    """A typed pairing code without spaces or dashes, in capitals."""
    return "".join(ch for ch in (typed or "")[:40] if ch.isalnum()).upper()


def _pairing_hash(code: str) -> str:
    return keyed_hash(code, "kiosk-pairing")


def credential_hash(credential: str) -> str:
    """The SHA-256 under which a tablet's credential is kept (random: no key needed)."""
    return hashlib.sha256(credential.encode()).hexdigest()


def _serializer() -> URLSafeTimedSerializer:
    fallbacks = current_app.config.get("SECRET_KEY_FALLBACKS") or []
    return URLSafeTimedSerializer([*fallbacks, current_app.secret_key], salt=PAIRING_SALT)


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def enrol(office: Office, counter: Counter | None, name: str, actor: str) -> Pairing:
    """A new kiosk for an office (and one of its counters), with its first pairing code."""
    if not office.is_active:
        raise KioskError(f"office {office.code} is closed")
    if counter is not None and (counter.office_id != office.id or not counter.is_active):
        raise KioskError(f"counter {counter.code} is not an open counter of office {office.code}")
    name = " ".join((name or "").split()) or (counter.name if counter else office.name)
    name = name[:MAX_NAME]
    kiosk = Kiosk(
        code=_random(CODE_ALPHABET, 8),
        name=name,
        office=office,
        counter=counter,
        created_by=actor,
    )
    db.session.add(kiosk)
    db.session.flush()
    record(
        actor,
        "kiosk.enrol",
        "kiosk",
        kiosk.code,
        after={"office": office.code, "counter": counter.code if counter else None, "name": name},
    )
    return issue_pairing(kiosk, actor, audit=False)


def issue_pairing(kiosk: Kiosk, actor: str, *, audit: bool = True) -> Pairing:
    """A new pairing code for a kiosk (the previous one stops working)."""
    if kiosk.status == KioskStatus.REVOKED:
        raise KioskError(f"kiosk {kiosk.code} is revoked: enrol a new one")
    code = _random(PAIRING_ALPHABET, PAIRING_LENGTH)
    expires_at = utcnow() + timedelta(minutes=current_app.config["KIOSK_PAIRING_MINUTES"])
    kiosk.pairing_hash = _pairing_hash(code)
    kiosk.pairing_expires_at = expires_at
    db.session.flush()
    if audit:
        record(
            actor,
            "kiosk.pairing_code",
            "kiosk",
            kiosk.code,
            before={"status": str(kiosk.status)},
            after={"expires_at": expires_at.isoformat()},
        )
    token = _serializer().dumps([kiosk.id, code])
    url = current_app.config["PUBLIC_BASE_URL"].rstrip("/") + f"/k/pair/{token}"
    return Pairing(kiosk, code, url, expires_at)


def _open_pairing(kiosk: Kiosk | None, code: str) -> Kiosk | None:
    if kiosk is None or kiosk.status == KioskStatus.REVOKED or kiosk.pairing_hash is None:
        return None
    if kiosk.pairing_hash != _pairing_hash(code) or kiosk.pairing_expires_at <= utcnow():
        return None
    return kiosk


def kiosk_for_code(typed: str) -> Kiosk | None:
    """The kiosk whose unexpired, unused pairing code this is (typed on the tablet)."""
    code = normalize_code(typed)
    if len(code) != PAIRING_LENGTH:
        return None
    kiosk = db.session.scalar(select(Kiosk).where(Kiosk.pairing_hash == _pairing_hash(code)))
    return _open_pairing(kiosk, code)


def kiosk_for_pairing_token(token: str) -> Kiosk | None:
    """The kiosk of a signed pairing URL that is still open (signature, age, unused code)."""
    max_age = current_app.config["KIOSK_PAIRING_MINUTES"] * 60
    try:
        kiosk_id, code = _serializer().loads(token, max_age=max_age)
    except (BadSignature, TypeError, ValueError):
        return None
    if not isinstance(kiosk_id, int) or not isinstance(code, str):
        return None
    return _open_pairing(db.session.get(Kiosk, kiosk_id), code)


def pair(kiosk: Kiosk) -> str:
    """Give the tablet its credential (returned plain, once) and close the pairing code."""
    before = str(kiosk.status)
    credential = secrets.token_urlsafe(32)
    kiosk.credential_hash = credential_hash(credential)
    kiosk.pairing_hash = None
    kiosk.pairing_expires_at = None
    kiosk.paired_at = kiosk.last_seen_at = utcnow()
    db.session.flush()
    record(
        f"kiosk:{kiosk.code}",
        "kiosk.pair",
        "kiosk",
        kiosk.code,
        before={"status": before},
        after={"status": str(kiosk.status)},
    )
    return credential


def revoke(kiosk: Kiosk, actor: str) -> bool:
    """Revoke a kiosk: its tablet's credential and pairing code are refused from now on.
    False when it was already revoked (nothing changes, nothing is recorded)."""
    if kiosk.status == KioskStatus.REVOKED:
        return False
    before = str(kiosk.status)
    kiosk.revoked_at = utcnow()
    kiosk.pairing_hash = None
    kiosk.pairing_expires_at = None
    db.session.flush()
    record(
        actor,
        "kiosk.revoke",
        "kiosk",
        kiosk.code,
        before={"status": before},
        after={"status": "revoked"},
    )
    return True


def kiosk_for_credential(credential: str | None) -> Kiosk | None:
    """The kiosk (whatever its status) whose tablet holds this credential."""
    if not credential or len(credential) > 100:
        return None
    return db.session.scalar(
        select(Kiosk).where(Kiosk.credential_hash == credential_hash(credential))
    )


SEEN_EVERY = timedelta(minutes=5)


def seen(kiosk: Kiosk) -> None:
    """Note that the tablet is in use (at most every few minutes: no write per page)."""
    now = utcnow()
    if kiosk.last_seen_at is None or now - kiosk.last_seen_at >= SEEN_EVERY:
        kiosk.last_seen_at = now
