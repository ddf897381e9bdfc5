"""Protecting personal data: phone numbers are normalised, encrypted for sending and hashed with a
key for look-ups; IP addresses and devices are kept only as keyed hashes."""

from __future__ import annotations

import hashlib
import hmac
import re
from functools import lru_cache

import phonenumbers
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app
from phonenumbers import PhoneNumberType

from .models import PhoneStatus

_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
#: The usual Vietnamese forms, 0 or +84 and a 9-digit national number: what parse() would make of
#: them is known, so only the (costly, and exact) type look-up runs; a test compares with parse()
_VN_PLAIN = re.compile(r"(?:0|\+84)([1-9][0-9]{8})")


def normalize_phone(raw: str | None, region: str = "VN") -> tuple[str | None, PhoneStatus]:
    """Return the E.164 form of a phone number and what kind of number it is."""
    if raw is None or not str(raw).strip():
        return None, PhoneStatus.MISSING
    plain = _VN_PLAIN.fullmatch(str(raw).strip()) if region == "VN" else None
    if plain:  # is_valid_number is number_type != UNKNOWN for a country of one region
        kind = phonenumbers.number_type(
            phonenumbers.PhoneNumber(country_code=84, national_number=int(plain[1]))
        )
        if kind == PhoneNumberType.UNKNOWN:
            return None, PhoneStatus.INVALID
        e164 = "+84" + plain[1]
        return e164, PhoneStatus.MOBILE if kind in _MOBILE_TYPES else PhoneStatus.NOT_MOBILE
    try:
        parsed = phonenumbers.parse(str(raw).strip(), region)
    except phonenumbers.NumberParseException:
        return None, PhoneStatus.INVALID
    if not phonenumbers.is_valid_number(parsed):
        return None, PhoneStatus.INVALID
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if phonenumbers.number_type(parsed) not in _MOBILE_TYPES:
        return e164, PhoneStatus.NOT_MOBILE
    return e164, PhoneStatus.MOBILE


def keyed_hash(value: str, purpose: str, key: str | None = None) -> str:
    """HMAC-SHA256 of a value under the app's hash key, separated by purpose ('phone', 'client')."""
    secret = (key or current_app.config["PHONE_HASH_KEY"]).encode()
    return hmac.new(secret, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def phone_hash(e164: str, key: str | None = None) -> str:
    """The keyed hash by which a phone number is looked up and opted out."""
    return keyed_hash(e164, "phone", key)


def encryption_keys(setting: str) -> list[str]:
    """The Fernet keys of PHONE_ENCRYPTION_KEY: one key, or several separated by commas, the
    newest first (a rotation: new data uses the first, old data is still read)."""
    return [key.strip() for key in setting.split(",") if key.strip()]


@lru_cache(maxsize=8)
def _fernet(setting: str) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in encryption_keys(setting)])


def _setting(key: str | None) -> str:
    return key or current_app.config["PHONE_ENCRYPTION_KEY"]


def encrypt_phone(e164: str, key: str | None = None) -> str:
    """Encrypt a phone number for storage (Fernet: AES-128-CBC with HMAC), under the first key."""
    return _fernet(_setting(key)).encrypt(e164.encode()).decode()


def decrypt_phone(token: str, key: str | None = None) -> str:
    """Decrypt a stored phone number with any of the keys; ValueError if none fits."""
    try:
        return _fernet(_setting(key)).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("phone number cannot be decrypted with PHONE_ENCRYPTION_KEY") from exc


def is_under_first_key(token: str, key: str | None = None) -> bool:
    """Whether a stored number is encrypted under the first (current) key already."""
    first = encryption_keys(_setting(key))[0]
    try:
        Fernet(first.encode()).decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def reencrypt_phone(token: str, key: str | None = None) -> str:
    """The same number encrypted under the first key (MultiFernet.rotate)."""
    try:
        return _fernet(_setting(key)).rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("phone number cannot be decrypted with PHONE_ENCRYPTION_KEY") from exc


def protect_phone(raw: str | None, region: str | None = None) -> dict:
    """Normalise a raw number and return the columns a dossier stores for it."""
    e164, status = normalize_phone(raw, region or current_app.config["PHONE_DEFAULT_REGION"])
    if e164 is None:
        return {"phone_encrypted": None, "phone_hash": None, "phone_status": status}
    return {
        "phone_encrypted": encrypt_phone(e164),
        "phone_hash": phone_hash(e164),
        "phone_status": status,
    }


def phone_protector():
    """protect_phone with the app's settings read once (for a batch of thousands of numbers)."""
    config = current_app.config
    region, fernet = config["PHONE_DEFAULT_REGION"], _fernet(config["PHONE_ENCRYPTION_KEY"])
    hash_key = config["PHONE_HASH_KEY"].encode()

    def protect(raw: str | None) -> dict:
        e164, status = normalize_phone(raw, region)
        if e164 is None:
            return {"phone_encrypted": None, "phone_hash": None, "phone_status": status}
        return {
            "phone_encrypted": fernet.encrypt(e164.encode()).decode(),
            "phone_hash": hmac.new(hash_key, f"phone:{e164}".encode(), hashlib.sha256).hexdigest(),
            "phone_status": status,
        }

    return protect
