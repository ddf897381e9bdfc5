"""The citizen's survey page: GET shows the form for an office (and counter), POST records it.

One form for every way in: the poster's QR code (`/s/<office>[/<counter>]`) and a dossier's own
rating link (`/r/<token>`, links.py), which binds the response to that dossier.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import validate_csrf
from sqlalchemy.exc import IntegrityError
from wtforms.validators import ValidationError

from ..errors import friendly_abort
from ..extensions import db
from ..i18n import current_language
from ..models import Channel, Dossier, Invitation, Office
from ..services import submission_tokens
from ..services.questionnaires import current_snapshot
from ..services.responses import (
    BadSubmission,
    BurstRules,
    parse_submission,
    record_web_response,
    token_used,
)
from ..services.submission_tokens import TokenCheck
from . import bp
from .devices import address_hash, client_hash, rated_today, remember_rated
from .targets import OfficeRef, forget_targets, office_and_counter

log = logging.getLogger(__name__)
LIKERT_LABELS = {
    1: _l("Very dissatisfied"),
    2: _l("Dissatisfied"),
    3: _l("Neutral"),
    4: _l("Satisfied"),
    5: _l("Very satisfied"),
}
FORM_ERROR = "form"  # the errors key of a problem with the whole form (it expired)


@dataclass(frozen=True)
class Link:
    """A dossier's own rating link, opened: the response it sends is bound to the dossier."""

    token: str
    dossier: Dossier
    channel: Channel  # qr_web (a receipt's link) or sms_link (an SMS invitation's)
    invitation: Invitation | None = None  # the invitation an sms_link response answers


def render_form(
    office: Office,
    counter,
    questionnaire,
    *,
    values=None,
    errors=None,
    link: Link | None = None,
    status=200,
    template="survey/form.html",
    **context,
):
    """The form page, with a new submission token; answers and errors kept on a second try.
    (The kiosk screen is this page in another `template`, with its own `context`.)"""
    return render_template(
        template,
        office=office,
        counter=counter,
        questionnaire=questionnaire,
        labels=LIKERT_LABELS,
        values=values or {},
        errors=errors or {},
        link=link,
        submission_token=submission_tokens.issue(office.id),
        lang=current_language(),
        **context,
    ), status


@bp.route("/s/<office_code>", methods=["GET", "POST"])
@bp.route("/s/<office_code>/<counter_code>", methods=["GET", "POST"])
def survey_form(office_code: str, counter_code: str | None = None):
    """Show the survey for an office, or record a submission of it."""
    office, counter = office_and_counter(office_code, counter_code, light=request.method == "POST")
    questionnaire = current_snapshot()
    if request.method == "POST":
        return submit(office, counter, questionnaire)
    if rated_today(office.code):
        return render_template("survey/already.html", office=office, reason="today")
    return render_form(office, counter, questionnaire)


def _rerender(office, counter, questionnaire, link: Link | None, **kwargs):
    """The form again, with the citizen's answers and what to fix (loads the full office)."""
    if link is None:
        office, counter = office_and_counter(office.code, counter.code if counter else None)
    else:
        office = link.dossier.office
    return render_form(office, counter, questionnaire, link=link, status=400, **kwargs)


def _csrf_valid() -> bool:
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        return False
    return True


def submit(office: OfficeRef, counter, questionnaire, link: Link | None = None):
    """Record a posted form: checks in order of cost, then one insert (or an answer that says
    why not: the friendly 400 page, the form again with what to fix, or "already rated")."""
    form = request.form
    token = form.get("submission_token", "")
    checked = submission_tokens.check(token, office.id)
    if checked is TokenCheck.FORGED:
        friendly_abort(400, _("The form is incomplete. Please open it again from the QR code."))
    thanks = redirect(url_for("survey.thanks", office_code=office.code), code=303)
    if form.get("website"):  # the honeypot: only bots fill a field people cannot see
        log.info("honeypot filled at office %s; nothing stored", office.code)
        return thanks
    if checked is TokenCheck.EXPIRED or not _csrf_valid():
        if token_used(token):
            return thanks  # the recorded form sent again, long after (a refresh)
        # a form left open too long, or a browser that lost its session: nothing is lost
        expired = _("This form was open for a long time. Check your answers and send it again.")
        return _rerender(
            office,
            counter,
            questionnaire,
            link,
            values=form.to_dict(),
            errors={FORM_ERROR: expired},
        )
    if link is None and rated_today(office.code):
        if token_used(token):
            return thanks  # the same form sent again after it was recorded (a refresh)
        return render_template("survey/already.html", office=office, reason="today")
    try:
        submission = parse_submission(form, questionnaire, office.id)
    except BadSubmission as exc:
        friendly_abort(400, str(exc))
    if submission.errors:
        return _rerender(
            office, counter, questionnaire, link, values=form.to_dict(), errors=submission.errors
        )
    try:
        record_web_response(
            office_id=office.id,
            counter_id=counter.id if counter else None,
            questionnaire=questionnaire,
            submission=submission,
            language=current_language(),
            client_hash=client_hash(),
            address_hash=address_hash(),
            submission_token=token,
            burst=BurstRules.from_config(current_app.config),
            dossier=link.dossier if link else None,
            channel=link.channel if link else Channel.QR_WEB,
            invitation=link.invitation if link else None,
        )
    except IntegrityError:
        db.session.rollback()  # a concurrent double tap, or a dossier rated a moment ago
        if token_used(token):
            return thanks  # a concurrent double tap: the first submission counts
        if link is not None:
            return render_template("survey/already.html", office=office, reason="dossier"), 409
        forget_targets()  # a cached office or counter removed since: the friendly 404
        office_and_counter(office.code, counter.code if counter else None)
        raise
    return remember_rated(thanks, office.code)


def next_step(office: Office) -> dict[str, str]:
    """The hotline and complaint route the thank-you page gives: the office's own, else its
    nearest parent's (the province's), else the deployment's PROVINCE_* settings."""
    found = {"hotline": "", "complaint_route": ""}
    node, depth = office, 0
    while node is not None and depth < 20 and not all(found.values()):
        for name in found:
            found[name] = found[name] or (getattr(node, name) or "")
        node, depth = node.parent, depth + 1
    config = current_app.config
    found["hotline"] = found["hotline"] or config.get("PROVINCE_HOTLINE", "")
    found["complaint_route"] = found["complaint_route"] or config.get(
        "PROVINCE_COMPLAINT_ROUTE", ""
    )
    return found


@bp.get("/s/<office_code>/thanks")
def thanks(office_code: str):
    """The thank-you page after a submission: what happens next, and where to turn."""
    office, _counter = office_and_counter(office_code, None)
    return render_template("survey/thanks.html", office=office, **next_step(office))
