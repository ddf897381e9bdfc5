"""Pairing a tablet: the code an official gives (typed at /k/pair) or the signed URL that
carries it (/k/pair/<token>, opened by scanning the QR code on the official's page). Either
gives the tablet its credential and opens the kiosk screen. Opening the URL only asks to
confirm: a link previewer that fetches it uses nothing up.
"""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..errors import friendly_abort
from ..extensions import db, limiter
from ..services.kiosks import kiosk_for_code, kiosk_for_pairing_token, pair
from . import bp
from .credentials import set_credential

#: Wrong codes per address: a code of 31^8 (about 39 bits) valid for half an hour cannot be
#: guessed at this pace; only failures count, so a room of tablets enrolled at once is fine.
PAIRING_LIMIT = "10 per 10 minutes"


def _failed(response) -> bool:
    return response.status_code != 303


def _paired(kiosk):
    """Pair the tablet and open its screen (in Vietnamese)."""
    credential = pair(kiosk)
    db.session.commit()
    response = redirect(url_for("kiosk.screen", lang="vi"), code=303)
    return set_credential(response, credential)


@bp.route("/pair", methods=["GET", "POST"])
@limiter.limit(PAIRING_LIMIT, methods=["POST"], deduct_when=_failed)
def pair_with_code():
    """The page where a tablet's code is typed; a right code pairs the tablet."""
    error = None
    if request.method == "POST":
        kiosk = kiosk_for_code(request.form.get("code", ""))
        if kiosk is not None:
            return _paired(kiosk)
        error = _("This code is not valid or has expired. Ask the office's manager for a new code.")
    return render_template("kiosk/pair.html", error=error), 400 if error else 200


@bp.route("/pair/<token>", methods=["GET", "POST"])
def pair_with_link(token: str):
    """A signed pairing URL: GET asks to confirm, POST pairs."""
    kiosk = kiosk_for_pairing_token(token)
    if kiosk is None:
        friendly_abort(
            404, _("This enrolment link is not valid or has expired. Ask for a new code.")
        )
    if request.method == "POST":
        return _paired(kiosk)
    return render_template("kiosk/pair_confirm.html", kiosk=kiosk)
