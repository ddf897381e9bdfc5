"""Recording web survey responses: validation, binding to a dossier, duplicate and burst checks."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select

from ..extensions import db
from ..models import (
    KIND_VALUES,
    Answer,
    Channel,
    Counter,
    Dossier,
    Integrity,
    Office,
    QuestionKind,
    Questionnaire,
    Response,
    Service,
    utcnow,
)

MAX_TEXT = 1000  # characters of a comment
MAX_CODE = 64  # characters of a dossier code
QUESTION_PREFIX = "q_"


class BadSubmission(ValueError):
    """The request cannot be a survey submission (tampered or broken); answer 400, store nothing."""


@dataclass
class Submission:
    """A validated web submission, ready to be stored."""

    answers: dict[int, int | str]  # question id -> value or text
    service: Service | None = None
    dossier_code: str = ""
    errors: dict[str, str] = field(default_factory=dict)  # field -> message for the citizen


def clean_text(value: str, limit: int, label: str) -> str:
    """NFC-normalise and strip a text field; refuse broken UTF-8 and oversized values."""
    if "\ufffd" in value or "\x00" in value:
        raise BadSubmission(_("%(field)s is not valid text (UTF-8).", field=label))
    value = unicodedata.normalize("NFC", value).strip()
    if len(value) > limit:
        raise BadSubmission(
            _("%(field)s is longer than %(limit)d characters.", field=label, limit=limit)
        )
    return value


def parse_submission(form, questionnaire: Questionnaire, office: Office) -> Submission:
    """Check a posted form against the questionnaire; BadSubmission for what no form can send."""
    questions = {q.code: q for q in questionnaire.questions}
    for key in form:
        if key.startswith(QUESTION_PREFIX) and key[len(QUESTION_PREFIX) :] not in questions:
            raise BadSubmission(_("Unknown question: %(code)s.", code=key[len(QUESTION_PREFIX) :]))
        if len(form.getlist(key)) > 1:
            raise BadSubmission(_("The field %(name)s was sent more than once.", name=key))
    submission = Submission(answers={})
    for code, question in questions.items():
        raw = form.get(QUESTION_PREFIX + code, "")
        if question.kind == QuestionKind.TEXT:
            text = clean_text(raw, MAX_TEXT, _("The comment"))
            if text:
                submission.answers[question.id] = text
            continue
        raw = clean_text(raw, 4, _("An answer"))
        if raw == "":
            if question.is_required:
                submission.errors[code] = _("Please choose a rating.")
            continue
        if not raw.isdigit() or int(raw) not in KIND_VALUES[question.kind]:
            raise BadSubmission(_("The answer to %(code)s is out of range.", code=code))
        submission.answers[question.id] = int(raw)
    service_code = clean_text(form.get("service", ""), MAX_CODE, _("The service"))
    if service_code:
        submission.service = next((s for s in office.services if s.code == service_code), None)
        if submission.service is None:
            raise BadSubmission(_("This office does not offer the service %(code)s.",
                                  code=service_code))  # fmt: skip
    dossier_code = form.get("dossier_code", "")
    submission.dossier_code = clean_text(dossier_code, MAX_CODE, _("The dossier code"))
    return submission


def find_dossier(office: Office, code: str) -> Dossier | None:
    """The office's dossier with this code (case and spaces forgiven), or None."""
    if not code:
        return None
    normalized = "".join(code.split()).upper()
    return db.session.scalar(
        select(Dossier).where(Dossier.office_id == office.id,
                              func.upper(Dossier.code) == normalized)  # fmt: skip
    )


def dossier_has_response(dossier: Dossier) -> bool:
    """Whether someone already rated this dossier (one response per dossier)."""
    return db.session.scalar(select(func.count()).where(Response.dossier_id == dossier.id)) > 0


def token_used(submission_token: str) -> bool:
    """Whether a response was already stored for this rendered form (a double tap or a refresh)."""
    return db.session.scalar(
        select(func.count()).where(Response.submission_token == submission_token)
    ) > 0


def burst_reason(office: Office, client_hash: str, limit: int, minutes: int) -> str | None:
    """Why a new response from this client looks like a burst, or None: too many recently."""
    since = utcnow() - timedelta(minutes=minutes)
    recent = db.session.scalar(
        select(func.count()).where(Response.client_hash == client_hash,
                                   Response.office_id == office.id,
                                   Response.submitted_at >= since)  # fmt: skip
    )
    if recent >= limit:
        return f"burst: {recent + 1} responses from one client within {minutes} min"
    return None


def record_web_response(
    *,
    office: Office,
    counter: Counter | None,
    questionnaire: Questionnaire,
    submission: Submission,
    dossier: Dossier | None,
    language: str,
    client_hash: str,
    submission_token: str,
    flag_reason: str | None,
) -> Response:
    """Add a QR web response with its answers; flush, the caller commits."""
    service = dossier.service if dossier is not None and dossier.service else submission.service
    response = Response(
        office=office, counter=counter, service=service, dossier=dossier,
        questionnaire=questionnaire, channel=Channel.QR_WEB, language=language,
        client_hash=client_hash, submission_token=submission_token,
        integrity=Integrity.FLAGGED if flag_reason else Integrity.VALID,
        integrity_reason=flag_reason,
    )  # fmt: skip
    for question_id, value in submission.answers.items():
        if isinstance(value, str):
            response.answers.append(Answer(question_id=question_id, text=value))
        else:
            response.answers.append(Answer(question_id=question_id, value=value))
    db.session.add(response)
    db.session.flush()
    return response
