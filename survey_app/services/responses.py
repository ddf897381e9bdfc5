"""Recording web survey responses: validation, binding to a dossier, duplicate and burst checks."""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import TextClause, bindparam, func, select, text

from ..extensions import db
from ..models import (
    KIND_VALUES,
    Channel,
    Dossier,
    Integrity,
    QuestionKind,
    Response,
    Service,
    office_services,
    utcnow,
)
from .questionnaires import QUESTION_PREFIX, QuestionnaireSnapshot

MAX_TEXT = 1000  # characters of a comment
MAX_CODE = 64  # characters of a dossier code


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


# Field names in messages (lazy: translated when a message is made, in the page's language)
THE_COMMENT, AN_ANSWER = _l("The comment"), _l("An answer")
THE_SERVICE, THE_DOSSIER_CODE = _l("The service"), _l("The dossier code")


# Each kind's values exactly as the form's radio buttons send them: the common case, checked
# with one dict look-up instead of normalising and range-checking the text.
_PLAIN_VALUES = {kind: {str(v): v for v in KIND_VALUES.get(kind, ())} for kind in QuestionKind}


def parse_submission(form, questionnaire: QuestionnaireSnapshot, office_id: int) -> Submission:
    """Check a posted form against the questionnaire; BadSubmission for what no form can send."""
    questions = questionnaire.by_field
    sent: dict[str, str] = {}
    for key, values in form.lists():
        if key.startswith(QUESTION_PREFIX) and key not in questions:
            raise BadSubmission(_("Unknown question: %(code)s.", code=key[len(QUESTION_PREFIX) :]))
        if len(values) > 1:
            raise BadSubmission(_("The field %(name)s was sent more than once.", name=key))
        sent[key] = values[0]
    submission = Submission(answers={})
    for field_name, question in questions.items():
        raw = sent.get(field_name, "")
        value = _PLAIN_VALUES[question.kind].get(raw)
        if value is not None:  # a plain "1".."5" as the form sends it: nothing to clean
            submission.answers[question.id] = value
            continue
        if question.kind == QuestionKind.TEXT:
            text = clean_text(raw, MAX_TEXT, THE_COMMENT)
            if text:
                submission.answers[question.id] = text
            continue
        raw = clean_text(raw, 4, AN_ANSWER)
        if raw == "":
            if question.is_required:
                submission.errors[question.code] = _("Please choose a rating.")
            continue
        if not raw.isdigit() or int(raw) not in KIND_VALUES[question.kind]:
            raise BadSubmission(_("The answer to %(code)s is out of range.", code=question.code))
        submission.answers[question.id] = int(raw)
    service_code = clean_text(sent.get("service", ""), MAX_CODE, THE_SERVICE)
    if service_code:
        submission.service = office_service(office_id, service_code)
        if submission.service is None:
            raise BadSubmission(
                _("This office does not offer the service %(code)s.", code=service_code)
            )
    submission.dossier_code = clean_text(sent.get("dossier_code", ""), MAX_CODE, THE_DOSSIER_CODE)
    return submission


def office_service(office_id: int, code: str) -> Service | None:
    """The active service with this code, if the office offers it."""
    return db.session.scalar(
        select(Service)
        .join(office_services, office_services.c.service_id == Service.id)
        .where(office_services.c.office_id == office_id, Service.code == code, Service.is_active)
    )


def find_dossier(office_id: int, code: str) -> Dossier | None:
    """The office's dossier with this code (case and spaces forgiven), or None."""
    if not code:
        return None
    normalized = "".join(code.split()).upper()
    return db.session.scalar(
        select(Dossier).where(
            Dossier.office_id == office_id, func.upper(Dossier.code) == normalized
        )
    )


def dossier_has_response(dossier: Dossier) -> bool:
    """Whether someone already rated this dossier (one response per dossier)."""
    return db.session.scalar(select(func.count()).where(Response.dossier_id == dossier.id)) > 0


def token_used(submission_token: str) -> bool:
    """Whether a response was already stored for this rendered form (a double tap or a refresh)."""
    return (
        db.session.scalar(select(func.count()).where(Response.submission_token == submission_token))
        > 0
    )


_RECENT_FROM_CLIENT = select(func.count()).select_from(
    select(Response.id)
    .where(
        Response.client_hash == bindparam("client"),
        Response.office_id == bindparam("office"),
        Response.submitted_at >= bindparam("since", type_=Response.submitted_at.type),
    )
    .limit(bindparam("limit"))
    .subquery()
)


def burst_reason(office_id: int, client_hash: str, limit: int, minutes: int) -> str | None:
    """Why a new response from this client looks like a burst, or None: too many recently.

    The count stops at `limit`, so a flood costs no more per request than a trickle.
    """
    since = utcnow() - timedelta(minutes=minutes)
    params = {"client": client_hash, "office": office_id, "since": since, "limit": limit}
    recent = db.session.connection().scalar(_RECENT_FROM_CLIENT, params)
    return burst_rule(limit, minutes) if recent >= limit else None


_INSERT_RESPONSE = Response.__table__.insert().returning(Response.__table__.c.id)
_ANSWER_COLUMNS = ("response_id", "question_id", "value", "text")


@lru_cache(maxsize=64)
def _insert_answers(count: int) -> TextClause:
    """A multi-row INSERT for `count` answers. SQLAlchemy never caches a Core VALUES list (it is
    recompiled on every call); a text() statement is cached by its SQL, once per count."""
    rows = ", ".join(
        f"(:response_id_{i}, :question_id_{i}, :value_{i}, :text_{i})" for i in range(count)
    )
    return text(f"INSERT INTO answers ({', '.join(_ANSWER_COLUMNS)}) VALUES {rows}")


_RESPONSE_VALUES = (
    "office_id",
    "counter_id",
    "service_id",
    "dossier_id",
    "questionnaire_id",
    "channel",
    "submitted_at",
    "language",
    "client_hash",
    "submission_token",
    "is_partial",
)
# PostgreSQL: the burst count, the response and its answers in one statement (one round trip).
# Data-modifying CTEs all run, in one snapshot. The answers arrive as one JSON array of
# [question_id, value, text] triples: psycopg dumping three Python lists as arrays cost 0.3 M
# instructions per submission, json.dumps a twentieth of that, and PostgreSQL parses either as fast.
# Driver SQL (psycopg's %(name)s parameters): nothing for SQLAlchemy to compile.
_RECORD_PG = f"""
WITH recent AS (
    SELECT count(*) AS n FROM (
        SELECT 1 FROM responses
        WHERE client_hash = %(client_hash)s AND office_id = %(office_id)s
          AND submitted_at >= %(since)s
        LIMIT %(burst_limit)s) AS r
), response AS (
    INSERT INTO responses ({", ".join(_RESPONSE_VALUES)}, integrity, integrity_reason)
    SELECT {", ".join(f"%({c})s" for c in _RESPONSE_VALUES)},
           CASE WHEN recent.n >= %(burst_limit)s THEN %(flagged)s ELSE %(valid)s END,
           CASE WHEN recent.n >= %(burst_limit)s THEN %(burst_reason)s END
    FROM recent
    RETURNING id
), answers AS (
    INSERT INTO answers ({", ".join(_ANSWER_COLUMNS)})
    SELECT response.id, (a.row->>0)::integer, (a.row->>1)::smallint, a.row->>2
    FROM response, json_array_elements(CAST(%(answers)s AS json)) AS a(row)
)
SELECT id FROM response
"""


def burst_rule(limit: int, minutes: int) -> str:
    """The integrity reason of a response flagged as part of a burst."""
    return f"burst: more than {limit} responses from one client within {minutes} min"


def record_web_response(
    *,
    office_id: int,
    counter_id: int | None,
    questionnaire: QuestionnaireSnapshot,
    submission: Submission,
    dossier: Dossier | None,
    language: str,
    client_hash: str,
    submission_token: str,
    burst_limit: int,
    burst_minutes: int,
) -> int:
    """Insert a QR web response and its answers, flagged when the client is in a burst (more
    than `burst_limit` responses at this office in `burst_minutes`); return its id.

    The response is committed when this returns. This is the hot path of the survey: Core
    statements, no ORM flush. On PostgreSQL it is one statement of driver SQL, atomic on its own,
    run on an autocommit connection (SQLAlchemy's AUTOCOMMIT isolation level): no BEGIN and
    COMMIT round trips. Elsewhere it is a count and two inserts in the session's transaction,
    committed here.
    """
    service = dossier.service if dossier is not None and dossier.service else submission.service
    values = {
        "office_id": office_id,
        "counter_id": counter_id,
        "service_id": service.id if service else None,
        "dossier_id": dossier.id if dossier else None,
        "questionnaire_id": questionnaire.id,
        "channel": Channel.QR_WEB.value,
        "submitted_at": utcnow(),
        "language": language,
        "client_hash": client_hash,
        "submission_token": submission_token,
        "is_partial": False,
    }
    if db.engine.dialect.name == "postgresql":
        answers = submission.answers
        params = values | {
            "since": values["submitted_at"] - timedelta(minutes=burst_minutes),
            "burst_limit": burst_limit,
            "burst_reason": burst_rule(burst_limit, burst_minutes),
            "flagged": Integrity.FLAGGED.value,
            "valid": Integrity.VALID.value,
            "answers": json.dumps(
                [[q, None, v] if isinstance(v, str) else [q, v, None] for q, v in answers.items()],
                ensure_ascii=False,
                separators=(",", ":"),
            ),
        }
        # one statement is atomic on its own: run it in autocommit, without BEGIN and COMMIT
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            return connection.exec_driver_sql(_RECORD_PG, params).scalar_one()
    connection = db.session.connection()  # Core statements: no ORM execution machinery needed
    flag = burst_reason(office_id, client_hash, burst_limit, burst_minutes)
    response_id = connection.execute(
        _INSERT_RESPONSE,
        values
        | {
            "integrity": Integrity.FLAGGED if flag else Integrity.VALID,
            "integrity_reason": flag,
        },
    ).scalar_one()
    if submission.answers:  # one statement, one round trip
        params = {}
        for i, (question_id, value) in enumerate(submission.answers.items()):
            is_text = isinstance(value, str)
            params |= {
                f"response_id_{i}": response_id,
                f"question_id_{i}": question_id,
                f"value_{i}": None if is_text else value,
                f"text_{i}": value if is_text else None,
            }
        connection.execute(_insert_answers(len(submission.answers)), params)
    db.session.commit()
    return response_id
