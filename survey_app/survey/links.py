"""A dossier's own rating link, `/r/<token>` (services/rating_links.py makes the tokens): the form
bound to that dossier, and `/r/<token>.png`, its QR code for the receipt; `/r/<token>/stop` stops
survey texts to the dossier's number (in link mode the citizen cannot reply STOP).

Whether a link is still open is decided here, from the database: a receipt's link until
RATING_LINK_RECEIPT_DAYS after the dossier's return (and before it: the receipt is printed when
the dossier is received); an SMS invitation's link for its conversation window
(SMS_CONVERSATION_HOURS after sending). A receipt's response is a verified binding of channel
qr_web; an SMS link's is channel sms_link, the SMS channel's answer to the invitation, weighted
with its sampling probability like a reply would be. One response per dossier: a second visit
finds the "already rated" page.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Response, current_app, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import validate_csrf
from wtforms.validators import ValidationError

from ..errors import friendly_abort
from ..extensions import db, limiter
from ..models import Channel, Dossier, InvitationStatus, utcnow
from ..qr import qr_png
from ..services import rating_links
from ..services.opt_outs import set_opt_out
from ..services.questionnaires import current_snapshot
from ..services.responses import dossier_has_response
from . import bp
from .targets import OfficeRef
from .views import Link, render_form, submit


def _not_valid():
    friendly_abort(404, _("This rating link is not valid. Please check the address."))


def _expired():
    friendly_abort(
        410,
        _(
            "This rating link has expired. You can still rate the office with the QR code on "
            "the posters at its counters."
        ),
    )


def open_link(token: str) -> Link:
    """The dossier of a rating link that is open now; the friendly 404 or 410 page otherwise."""
    read = rating_links.read_token(token)
    if read is None:
        _not_valid()
    dossier_id, purpose = read
    dossier = db.session.get(Dossier, dossier_id)
    if dossier is None or not dossier.office.is_active:
        _not_valid()
    config, now = current_app.config, utcnow()
    if purpose == rating_links.RECEIPT:
        days = timedelta(days=config["RATING_LINK_RECEIPT_DAYS"])
        if dossier.returned_at is not None and now > dossier.returned_at + days:
            _expired()
        return Link(token, dossier, Channel.QR_WEB)
    invitation = dossier.invitation
    sent = invitation and (invitation.sent_at or invitation.claimed_at)
    if not sent or invitation.status == InvitationStatus.OPTED_OUT:
        _not_valid()
    if now > sent + timedelta(hours=config["SMS_CONVERSATION_HOURS"]):
        _expired()
    return Link(token, dossier, Channel.SMS_LINK, invitation)


@bp.route("/r/<token>", methods=["GET", "POST"])
def rating_link(token: str):
    """The form bound to the link's dossier, or the recording of it."""
    link = open_link(token)
    office = link.dossier.office
    if dossier_has_response(link.dossier):
        return render_template("survey/already.html", office=office, reason="dossier")
    questionnaire = current_snapshot()
    if request.method == "POST":
        return submit(OfficeRef(office.id, office.code, office.name), None, questionnaire, link)
    return render_form(office, None, questionnaire, link=link)


@bp.get("/r/<token>.png")
@limiter.limit("60 per minute")
def rating_link_qr(token: str):
    """The QR code of a rating link, for the one-stop software to print on the receipt."""
    read = rating_links.read_token(token)
    if read is None:
        _not_valid()
    url = current_app.config["PUBLIC_BASE_URL"].rstrip("/") + rating_links.PATH_PREFIX + token
    response = Response(qr_png(url), mimetype="image/png")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@bp.route("/r/<token>/stop", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])
def stop_texts(token: str):
    """Stop survey texts to the number of a rating link's dossier: a page that asks (a link
    checker's GET changes nothing), and its form. In link mode a citizen cannot reply STOP, so
    this is how a number opts out there; it stays possible after the link's window closes."""
    read = rating_links.read_token(token)
    dossier = db.session.get(Dossier, read[0]) if read else None
    if dossier is None:
        _not_valid()
    if request.method != "POST":  # GET and HEAD
        return render_template("survey/stop.html", office=dossier.office, token=token, done=False)
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        friendly_abort(400, _("This page has expired. Please open the link again."))
    invitation = dossier.invitation
    phone_hash = (invitation.phone_hash if invitation else None) or dossier.phone_hash
    if phone_hash:  # none held (never given, or erased): nothing to stop
        set_opt_out(phone_hash, True, "link_page", utcnow())
        db.session.commit()
    return render_template("survey/stop.html", office=dossier.office, token=token, done=True)
