"""The tablet's credential: a cookie set at pairing, renewed on every visit, refused once the
kiosk is revoked; and the key its limits are counted under."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from flask import current_app, g, request

from ..models import Kiosk, KioskStatus
from ..services.kiosks import kiosk_for_credential

COOKIE = "mscore_kiosk"
#: Browsers keep a cookie at most 400 days; every visit of the screen renews it.
COOKIE_AGE = timedelta(days=400)


def current_kiosk() -> Kiosk | None:
    """The kiosk whose credential this request carries (whatever its status), or None."""
    if "kiosk" not in g:
        g.kiosk = kiosk_for_credential(request.cookies.get(COOKIE))
    return g.kiosk


def problem(kiosk: Kiosk | None) -> str | None:
    """Why a tablet may not take ratings now: unknown, revoked, closed (office or counter);
    None when it may."""
    if kiosk is None:
        return "unknown"
    if kiosk.status == KioskStatus.REVOKED:
        return "revoked"
    if not kiosk.office.is_active or (kiosk.counter is not None and not kiosk.counter.is_active):
        return "closed"
    return None


def set_credential(response, credential: str):
    """Give the tablet its credential (or renew it): HttpOnly, for the kiosk's pages only."""
    response.set_cookie(
        COOKIE,
        credential,
        max_age=COOKIE_AGE,
        path="/k/",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )
    return response


def renew_credential(response):
    """Renew the cookie the tablet sent (a kiosk in daily use never loses it)."""
    credential = request.cookies.get(COOKIE)
    return set_credential(response, credential) if credential else response


def rate_key() -> str:
    """Limits count per kiosk (several citizens in a row at one tablet is normal), by a hash of
    its credential; a request without one counts for its address."""
    credential = request.cookies.get(COOKIE)
    if credential:
        return "kiosk:" + hashlib.sha256(credential.encode()).hexdigest()[:32]
    return f"address:{request.remote_addr}"


def rate_limit() -> str:
    """KIOSK_RATE_LIMIT, for the kiosk's posts."""
    return current_app.config["KIOSK_RATE_LIMIT"]
