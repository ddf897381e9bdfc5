"""The citizen's survey page: GET shows the form for an office (and counter), POST records it."""

from __future__ import annotations

import logging
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import (
    current_app,
    has_app_context,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import bindparam, event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import friendly_abort
from ..extensions import db
from ..i18n import current_language
from ..models import Counter, Office
from ..protection import keyed_hash
from ..services.questionnaires import current_snapshot
from ..services.responses import (
    BadSubmission,
    dossier_has_response,
    find_dossier,
    parse_submission,
    record_web_response,
    token_used,
)
from . import bp

log = logging.getLogger(__name__)
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
LIKERT_LABELS = {
    1: _l("Very dissatisfied"),
    2: _l("Dissatisfied"),
    3: _l("Neutral"),
    4: _l("Satisfied"),
    5: _l("Very satisfied"),
}


@dataclass(frozen=True)
class OfficeRef:
    """What a submission needs of its office, without loading the ORM object."""

    id: int
    code: str
    name: str


@dataclass(frozen=True)
class CounterRef:
    id: int
    code: str
    name: str


_ON_COUNTER = (
    (Counter.office_id == Office.id) & (Counter.code == bindparam("counter")) & (Counter.is_active)
)
_FULL_TARGET = (
    select(Office, Counter)
    .outerjoin(Counter, _ON_COUNTER)
    .where(Office.code == bindparam("office"), Office.is_active)
)
_LIGHT_TARGET = (
    select(Office.id, Office.code, Office.name, Counter.id, Counter.code, Counter.name)
    .outerjoin(Counter, _ON_COUNTER)
    .where(Office.code == bindparam("office"), Office.is_active)
)


def _office_and_counter(office_code: str, counter_code: str | None, *, light: bool = False):
    """The active office and counter of a QR URL, in one query; a friendly 404 otherwise.

    `light` gives plain OfficeRef/CounterRef values for the submission path, which needs no
    relationships, from a short per-process cache; pages that render the form get ORM objects.
    """
    if light:
        return _light_target(office_code, counter_code)
    params = {"office": office_code, "counter": counter_code or ""}
    row = db.session.execute(_FULL_TARGET, params).first()
    if row is None:
        friendly_abort(404, _("We could not find this office. Please check the QR poster."))
    office, counter = row
    if counter_code is not None and counter is None:
        friendly_abort(404, _("We could not find this counter. Please check the QR poster."))
    return office, counter


TARGET_TTL = 30.0  # seconds a worker may go on accepting a poster's office after it is closed
TARGETS = "mscore.survey_targets"  # app.extensions key: {(office, counter): (time, refs)}


def _light_target(office_code: str, counter_code: str | None):
    """OfficeRef and CounterRef of a QR URL. Found ones are kept TARGET_TTL seconds per process
    (changes made in this process clear them at once); unknown codes always ask the database."""
    cache = current_app.extensions.setdefault(TARGETS, {})
    key = (office_code, counter_code)
    hit = cache.get(key)
    if hit is not None and time.monotonic() - hit[0] < TARGET_TTL:
        return hit[1]
    params = {"office": office_code, "counter": counter_code or ""}
    # plain columns: run on the connection, without the ORM's execution machinery
    row = db.session.connection().execute(_LIGHT_TARGET, params).first()
    if row is None:
        friendly_abort(404, _("We could not find this office. Please check the QR poster."))
    office = OfficeRef(*row[:3])
    counter = CounterRef(*row[3:]) if row[3] is not None else None
    if counter_code is not None and counter is None:
        friendly_abort(404, _("We could not find this counter. Please check the QR poster."))
    if len(cache) >= 10_000:  # every poster of a province fits; never grows without bound
        cache.clear()
    cache[key] = (time.monotonic(), (office, counter))
    return office, counter


@event.listens_for(Session, "after_flush")
def _forget_changed_targets(session: Session, _context) -> None:
    """An office or counter changed in this process: its submissions see it at once."""
    if not has_app_context() or TARGETS not in current_app.extensions:
        return
    if any(
        isinstance(obj, (Office, Counter))
        for obj in (*session.new, *session.dirty, *session.deleted)
    ):
        current_app.extensions[TARGETS].clear()


def _now() -> datetime:
    return datetime.now(ZoneInfo(current_app.config["TIMEZONE"]))


def _today() -> str:
    return _now().date().isoformat()


RATED_COOKIE = "mscore_rated"  # the offices this device rated today: signed, gone at midnight
MAX_REMEMBERED = 20  # offices per device per day: keeps the cookie small


def _rated_serializer() -> URLSafeSerializer:
    """Signs the rated cookie with SECRET_KEY, and still reads one that a key now in
    SECRET_KEY_FALLBACKS signed (itsdangerous signs with the last key and accepts any)."""
    fallbacks = current_app.config.get("SECRET_KEY_FALLBACKS") or []
    return URLSafeSerializer([*fallbacks, current_app.secret_key], salt=RATED_COOKIE)


def _rated_offices(today: str) -> list[str]:
    """The codes of the offices this device rated today ([] when none, stale or forged).

    A cookie of its own, not the session: recording a rating then leaves the session as it was,
    and Flask does not sign and send it again.
    """
    value = request.cookies.get(RATED_COOKIE)
    if not value:
        return []
    try:
        day, codes = _rated_serializer().loads(value)
    except (BadSignature, TypeError, ValueError):
        return []
    return codes if day == today and isinstance(codes, list) else []


def _rated_today(office: Office | OfficeRef) -> bool:
    # no cookie (a device's first rating of the day): no need to work out the local date
    return RATED_COOKIE in request.cookies and office.code in _rated_offices(_today())


def _remember_rated(response, office_code: str):
    """Add the office to this device's rated cookie, which the browser drops at local midnight."""
    now = _now()
    today = now.date()
    codes = [code for code in _rated_offices(today.isoformat()) if code != office_code]
    codes = [*codes[-(MAX_REMEMBERED - 1) :], office_code]
    midnight = datetime.combine(today + timedelta(days=1), datetime.min.time(), now.tzinfo)
    response.set_cookie(
        RATED_COOKIE,
        _rated_serializer().dumps([today.isoformat(), codes]),
        expires=midnight,
        path="/s/",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )
    return response


def _client_hash() -> str:
    """A keyed hash of the client's address and browser: no raw IP is kept."""
    agent = request.headers.get("User-Agent", "")[:200]
    return keyed_hash(f"{request.remote_addr}|{agent}", "client")


def _render_form(
    office,
    counter,
    questionnaire,
    *,
    values=None,
    errors=None,
    notice=None,
    token=None,
    confirm_no_dossier=False,
    status=200,
):
    return render_template(
        "survey/form.html",
        office=office,
        counter=counter,
        questionnaire=questionnaire,
        labels=LIKERT_LABELS,
        values=values or {},
        errors=errors or {},
        notice=notice,
        submission_token=token or secrets.token_urlsafe(24),
        confirm_no_dossier=confirm_no_dossier,
        lang=current_language(),
    ), status


@bp.route("/s/<office_code>", methods=["GET", "POST"])
@bp.route("/s/<office_code>/<counter_code>", methods=["GET", "POST"])
def survey_form(office_code: str, counter_code: str | None = None):
    """Show the survey for an office, or record a submission of it."""
    office, counter = _office_and_counter(office_code, counter_code, light=request.method == "POST")
    questionnaire = current_snapshot()
    if request.method == "GET":
        if _rated_today(office):
            return render_template("survey/already.html", office=office, reason="today")
        return _render_form(office, counter, questionnaire)
    return _submit(office, counter, questionnaire)


def _rerender(office_code, counter_code, questionnaire, **kwargs):
    """The form again, with the citizen's answers and a message (loads the full office)."""
    office, counter = _office_and_counter(office_code, counter_code)
    return _render_form(office, counter, questionnaire, **kwargs)


def _submit(office: OfficeRef, counter: CounterRef | None, questionnaire):
    form = request.form
    token = form.get("submission_token", "")
    if not TOKEN_PATTERN.match(token):
        friendly_abort(400, _("The form is incomplete. Please open it again from the QR code."))
    thanks = redirect(url_for("survey.thanks", office_code=office.code), code=303)
    if form.get("website"):  # the honeypot: only bots fill a field people cannot see
        log.info("honeypot filled at office %s; nothing stored", office.code)
        return thanks
    if _rated_today(office):
        if token_used(token):
            return thanks  # the same form sent again after it was recorded (a refresh)
        return render_template("survey/already.html", office=office, reason="today")
    try:
        submission = parse_submission(form, questionnaire, office.id)
    except BadSubmission as exc:
        friendly_abort(400, str(exc))
    counter_code = counter.code if counter else None
    if submission.errors:
        return _rerender(
            office.code,
            counter_code,
            questionnaire,
            values=form.to_dict(),
            token=token,
            errors=submission.errors,
            status=400,
        )
    dossier = find_dossier(office.id, submission.dossier_code)
    if submission.dossier_code and dossier is None and not form.get("confirm_no_dossier"):
        notice = _(
            "We could not find dossier %(code)s at this office. Check the code, or send "
            "your answers without it.",
            code=submission.dossier_code,
        )
        return _rerender(
            office.code,
            counter_code,
            questionnaire,
            values=form.to_dict(),
            token=token,
            errors={"dossier_code": notice},
            confirm_no_dossier=True,
        )
    if dossier is not None and dossier_has_response(dossier):
        return render_template("survey/already.html", office=office, reason="dossier"), 409
    config = current_app.config
    try:
        record_web_response(
            office_id=office.id,
            counter_id=counter.id if counter else None,
            questionnaire=questionnaire,
            submission=submission,
            dossier=dossier,
            language=current_language(),
            client_hash=_client_hash(),
            submission_token=token,
            burst_limit=config.get("SURVEY_BURST_LIMIT", 3),
            burst_minutes=config.get("SURVEY_BURST_MINUTES", 10),
        )
    except IntegrityError:
        db.session.rollback()  # a concurrent double tap, or a dossier rated a moment ago
        if token_used(token):
            return thanks  # a concurrent double tap: the first submission counts
        if dossier is not None:
            return render_template("survey/already.html", office=office, reason="dossier"), 409
        current_app.extensions.get(TARGETS, {}).clear()  # a cached office or counter removed
        _office_and_counter(office.code, counter_code)  # since: the friendly 404
        raise
    return _remember_rated(thanks, office.code)


@bp.get("/s/<office_code>/thanks")
def thanks(office_code: str):
    """The thank-you page after a submission."""
    office, _counter = _office_and_counter(office_code, None)
    return render_template("survey/thanks.html", office=office)
