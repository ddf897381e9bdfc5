"""What the survey knows of the device that sends a form: keyed hashes of its address (and
browser), and a signed cookie of the offices it rated today."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeSerializer

from ..protection import keyed_hash

RATED_COOKIE = "mscore_rated"  # the offices this device rated today: signed, gone at midnight
MAX_REMEMBERED = 20  # offices per device per day: keeps the cookie small


def local_now() -> datetime:
    """The time in the deployment's zone (the day a device's ratings count for)."""
    return datetime.now(ZoneInfo(current_app.config["TIMEZONE"]))


def client_hash() -> str:
    """A keyed hash of the client's address and browser: no raw IP is kept."""
    agent = request.headers.get("User-Agent", "")[:200]
    return keyed_hash(f"{request.remote_addr}|{agent}", "client")


def address_hash() -> str:
    """A keyed hash of the client's address alone (as the trusted proxies give it)."""
    return keyed_hash(str(request.remote_addr), "address")


def rated_serializer() -> URLSafeSerializer:
    """Signs the rated cookie with SECRET_KEY, and still reads one that a key now in
    SECRET_KEY_FALLBACKS signed (itsdangerous signs with the last key and accepts any)."""
    fallbacks = current_app.config.get("SECRET_KEY_FALLBACKS") or []
    return URLSafeSerializer([*fallbacks, current_app.secret_key], salt=RATED_COOKIE)


def rated_offices(today: str) -> list[str]:
    """The codes of the offices this device rated today ([] when none, stale or forged).

    A cookie of its own, not the session: recording a rating then leaves the session as it was,
    and Flask does not sign and send it again.
    """
    value = request.cookies.get(RATED_COOKIE)
    if not value:
        return []
    try:
        day, codes = rated_serializer().loads(value)
    except (BadSignature, TypeError, ValueError):
        return []
    return codes if day == today and isinstance(codes, list) else []


def rated_today(office_code: str) -> bool:
    """Whether this device already rated the office today."""
    # no cookie (a device's first rating of the day): no need to work out the local date
    return RATED_COOKIE in request.cookies and office_code in rated_offices(
        local_now().date().isoformat()
    )


def remember_rated(response, office_code: str):
    """Add the office to this device's rated cookie, which the browser drops at local midnight."""
    now = local_now()
    today = now.date()
    codes = [code for code in rated_offices(today.isoformat()) if code != office_code]
    codes = [*codes[-(MAX_REMEMBERED - 1) :], office_code]
    midnight = datetime.combine(today + timedelta(days=1), datetime.min.time(), now.tzinfo)
    response.set_cookie(
        RATED_COOKIE,
        rated_serializer().dumps([today.isoformat(), codes]),
        expires=midnight,
        path="/s/",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )
    return response
