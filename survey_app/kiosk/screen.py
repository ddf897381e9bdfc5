"""The kiosk screen at /k/: the survey form of the kiosk's office and counter in large type, and
the thank-you that makes way for the next citizen.

With JavaScript (static/kiosk.js) a rating goes to the tablet's outbox and from there to
/k/api/ratings (sync.py), so that ratings made offline are kept and sent later, and the screen
resets in place. Without it the form posts here, as the phone form does, and the thank-you page
goes back to the form after KIOSK_RESET_SECONDS (an HTTP Refresh header): online only.
"""

from __future__ import annotations

import logging

from flask import (
    abort,
    current_app,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import gettext as _
from flask_wtf.csrf import validate_csrf
from sqlalchemy.exc import IntegrityError
from wtforms.validators import ValidationError

from ..errors import friendly_abort
from ..extensions import csrf, db, limiter
from ..i18n import current_language
from ..models import Kiosk, utcnow
from ..services import submission_tokens
from ..services.kiosk_ratings import KioskBurstRules, store, token_max_age, used_by
from ..services.kiosks import seen
from ..services.questionnaires import current_snapshot
from ..services.responses import BadSubmission, parse_submission
from ..services.submission_tokens import TokenCheck
from ..survey.views import FORM_ERROR, next_step, render_form
from . import bp
from .credentials import current_kiosk, problem, rate_key, rate_limit, renew_credential

log = logging.getLogger(__name__)


def page_kiosk() -> Kiosk:
    """The kiosk of a page request; an unknown tablet goes to the pairing page, a revoked or
    closed one gets the friendly 403 page that says what to do."""
    kiosk = current_kiosk()
    why = problem(kiosk)
    if why == "unknown":
        abort(redirect(url_for("kiosk.pair_with_code"), code=303))
    if why is not None:
        abort(make_response(render_template("kiosk/unavailable.html", reason=why), 403))
    return kiosk


def _render(kiosk: Kiosk, questionnaire, **kwargs):
    """The kiosk's form (with a new submission token)."""
    config = current_app.config
    return render_form(
        kiosk.office,
        kiosk.counter,
        questionnaire,
        template="kiosk/screen.html",
        kiosk=kiosk,
        reset_seconds=config["KIOSK_RESET_SECONDS"],
        token_days=round(float(config["KIOSK_TOKEN_HOURS"]) / 24, 1),
        **kwargs,
    )


@bp.route("/", methods=["GET", "POST"])
@limiter.limit(rate_limit, key_func=rate_key, methods=["POST"])
def screen():
    """The rating form of this tablet's kiosk, or the recording of a rating sent without
    JavaScript."""
    kiosk = page_kiosk()
    questionnaire = current_snapshot()
    if request.method == "POST":
        return _submit(kiosk, questionnaire)
    seen(kiosk)
    db.session.commit()
    page, status = _render(kiosk, questionnaire)
    return renew_credential(make_response(page, status))


# The form checks its CSRF token itself, after its submission token, as the phone form does: an
# expired form comes back with the citizen's answers instead of an error page.
csrf.exempt(screen)


def _csrf_valid() -> bool:
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        return False
    return True


def _submit(kiosk: Kiosk, questionnaire):
    """Record a rating posted by the form: checks in order of cost, then one response."""
    form = request.form
    token = form.get("submission_token", "")
    max_age = token_max_age(current_app.config)
    checked = submission_tokens.check(token, kiosk.office_id, max_age=max_age)
    if checked is TokenCheck.FORGED:
        friendly_abort(400, _("The form is incomplete. Please start again from the kiosk screen."))
    thanks = redirect(url_for("kiosk.thanks", lang=current_language()), code=303)
    if form.get("website"):  # the honeypot: only bots fill a field people cannot see
        return thanks
    if used_by(token)[0]:
        return thanks  # the same form sent again (a double tap, a refresh)
    if checked is TokenCheck.EXPIRED or not _csrf_valid():
        expired = _("This form was open for a long time. Check your answers and send it again.")
        return _render(
            kiosk, questionnaire, values=form.to_dict(), errors={FORM_ERROR: expired}, status=400
        )
    try:
        submission = parse_submission(form, questionnaire, kiosk.office_id)
    except BadSubmission as exc:
        friendly_abort(400, str(exc))
    if submission.errors:
        return _render(
            kiosk, questionnaire, values=form.to_dict(), errors=submission.errors, status=400
        )
    try:
        store(
            kiosk,
            questionnaire,
            submission,
            token=token,
            language=current_language(),
            submitted_at=utcnow(),
            rules=KioskBurstRules.from_config(current_app.config),
        )
        seen(kiosk)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()  # a concurrent double tap: the first one counts
        if used_by(token)[0]:
            return thanks
        raise
    return thanks


@bp.get("/thanks")
def thanks():
    """The thank-you page after a rating sent without JavaScript; back to the form (in
    Vietnamese, for the next citizen) after KIOSK_RESET_SECONDS."""
    kiosk = page_kiosk()
    seconds = current_app.config["KIOSK_RESET_SECONDS"]
    home = url_for("kiosk.screen", lang="vi")
    page = render_template(
        "kiosk/thanks.html", kiosk=kiosk, home=home, seconds=seconds, **next_step(kiosk.office)
    )
    response = make_response(page)
    response.headers["Refresh"] = f"{seconds}; url={home}"
    return response


@bp.get("/sw.js")
def service_worker():
    """The kiosk's service worker, served under /k/ so that its scope is the kiosk's pages."""
    response = send_from_directory(
        current_app.static_folder, "kiosk-sw.js", mimetype="text/javascript", max_age=0
    )
    response.headers["Cache-Control"] = "no-cache"  # a new version reaches the tablets at once
    return response


@bp.get("/manifest.webmanifest")
def manifest():
    """The web app manifest: a tablet that adds the kiosk to its home screen opens it full
    screen."""
    response = jsonify(
        name=_("Citizen satisfaction"),
        short_name=_("Rate the service"),
        start_url=url_for("kiosk.screen", lang="vi"),
        scope=url_for("kiosk.screen"),
        display="fullscreen",
        background_color="#f3f5f7",
        theme_color="#b3261e",
        icons=[{"src": url_for("static", filename="kiosk-icon.svg"), "sizes": "any"}],
    )
    response.mimetype = "application/manifest+json"
    return response
