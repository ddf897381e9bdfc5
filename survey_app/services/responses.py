"""Recording web survey responses: validation, binding to a dossier (verified through its rating
link) or a claim of one (a typed code), duplicate and burst checks."""

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
    Invitation,
    InvitationStatus,
    QuestionKind,
    Response,
    ResponseKey,
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


def normalize_dossier_code(code: str) -> str:
    """A dossier code as the offices' software writes it: no spaces, upper case."""
    return "".join(code.split()).upper()


def find_dossier(office_id: int, code: str) -> Dossier | None:
    """The office's dossier with this code (case and spaces forgiven), or None."""
    if not code:
        return None
    return db.session.scalar(
        select(Dossier).where(
            Dossier.office_id == office_id,
            func.upper(Dossier.code) == normalize_dossier_code(code),
        )
    )


def dossier_has_response(dossier: Dossier) -> bool:
    """Whether the dossier already has its verified response (one response per dossier)."""
    return db.session.scalar(select(func.count()).where(ResponseKey.dossier_id == dossier.id)) > 0


def token_used(submission_token: str) -> bool:
    """Whether a response was already stored for this rendered form (a double tap or a refresh)."""
    used = select(func.count()).where(ResponseKey.submission_token == submission_token)
    return db.session.scalar(used) > 0


@dataclass(frozen=True)
class BurstRules:
    """When a new response is flagged as part of a burst: when its device (address and browser)
    already sent `device_limit` responses to the office within `device_minutes`, or its address
    (whatever the browser) `address_limit` within `address_minutes` (docs/operations.md)."""

    device_limit: int = 3
    device_minutes: int = 10
    address_limit: int = 20
    address_minutes: int = 60

    @classmethod
    def from_config(cls, config) -> BurstRules:
        """The rules of the SURVEY_*BURST* settings."""
        return cls(
            config["SURVEY_BURST_LIMIT"],
            config["SURVEY_BURST_MINUTES"],
            config["SURVEY_ADDRESS_BURST_LIMIT"],
            config["SURVEY_ADDRESS_BURST_MINUTES"],
        )

    def device_reason(self) -> str:
        """The integrity reason of a response flagged for its device."""
        return (
            f"burst: more than {self.device_limit} responses from one client within "
            f"{self.device_minutes} min"
        )

    def address_reason(self) -> str:
        """The integrity reason of a response flagged for its address."""
        return (
            f"burst: more than {self.address_limit} responses from one address within "
            f"{self.address_minutes} min"
        )


def _recent(column):
    """How many responses with this column's value the office had since a time, up to a limit."""
    return select(func.count()).select_from(
        select(Response.id)
        .where(
            column == bindparam("key"),
            Response.office_id == bindparam("office"),
            Response.submitted_at >= bindparam("since", type_=Response.submitted_at.type),
        )
        .limit(bindparam("limit"))
        .subquery()
    )


_RECENT_FROM_CLIENT = _recent(Response.client_hash)
_RECENT_FROM_ADDRESS = _recent(Response.address_hash)


def burst_reason(
    office_id: int, client_hash: str, address_hash: str | None, rules: BurstRules
) -> str | None:
    """Why a new response from this device and address looks like a burst, or None.

    Each count stops at its limit, so a flood costs no more per request than a trickle.
    """
    connection, now = db.session.connection(), utcnow()
    params = {
        "key": client_hash,
        "office": office_id,
        "since": now - timedelta(minutes=rules.device_minutes),
        "limit": rules.device_limit,
    }
    if connection.scalar(_RECENT_FROM_CLIENT, params) >= rules.device_limit:
        return rules.device_reason()
    if address_hash is None:
        return None
    params |= {
        "key": address_hash,
        "since": now - timedelta(minutes=rules.address_minutes),
        "limit": rules.address_limit,
    }
    if connection.scalar(_RECENT_FROM_ADDRESS, params) >= rules.address_limit:
        return rules.address_reason()
    return None


_INSERT_RESPONSE = Response.__table__.insert().returning(Response.__table__.c.id)
# An answer carries its response's submitted_at: the month of its partition, and half of its
# foreign key (survey_app/partitions.py).
_ANSWER_COLUMNS = ("response_id", "submitted_at", "question_id", "value", "text")


@lru_cache(maxsize=64)
def _insert_answers(count: int) -> TextClause:
    """A multi-row INSERT for `count` answers of one response. SQLAlchemy never caches a Core
    VALUES list (it is recompiled on every call); a text() statement is cached by its SQL, once
    per count."""
    rows = ", ".join(
        f"(:response_id, :submitted_at, :question_id_{i}, :value_{i}, :text_{i})"
        for i in range(count)
    )
    return text(f"INSERT INTO answers ({', '.join(_ANSWER_COLUMNS)}) VALUES {rows}").bindparams(
        bindparam("submitted_at", type_=Response.submitted_at.type)  # stored as the response's
    )


_RESPONSE_VALUES = (
    "office_id",
    "counter_id",
    "service_id",
    "dossier_id",
    "claimed_dossier_code",
    "claimed_dossier_id",
    "questionnaire_id",
    "channel",
    "submitted_at",
    "language",
    "client_hash",
    "address_hash",
    "submission_token",
    "is_partial",
)
# PostgreSQL: the burst counts, the response and its answers in one statement (one round trip).
# Data-modifying CTEs all run, in one snapshot. The answers arrive as one JSON array of
# [question_id, value, text] triples: psycopg dumping three Python lists as arrays cost 0.3 M
# instructions per submission, json.dumps a twentieth of that, and PostgreSQL parses either as fast.
# Driver SQL (psycopg's %(name)s parameters): nothing for SQLAlchemy to compile.
_RECORD_PG = f"""
WITH recent AS (
    SELECT (SELECT count(*) FROM (
                SELECT 1 FROM responses
                WHERE client_hash = %(client_hash)s AND office_id = %(office_id)s
                  AND submitted_at >= %(device_since)s
                LIMIT %(device_limit)s) AS d) AS device,
           (SELECT count(*) FROM (
                SELECT 1 FROM responses
                WHERE address_hash = %(address_hash)s AND office_id = %(office_id)s
                  AND submitted_at >= %(address_since)s
                LIMIT %(address_limit)s) AS a) AS address
), response AS (
    INSERT INTO responses ({", ".join(_RESPONSE_VALUES)}, integrity, integrity_reason)
    SELECT {", ".join(f"%({c})s" for c in _RESPONSE_VALUES)},
           CASE WHEN recent.device >= %(device_limit)s OR recent.address >= %(address_limit)s
                THEN %(flagged)s ELSE %(valid)s END,
           CASE WHEN recent.device >= %(device_limit)s THEN %(device_reason)s
                WHEN recent.address >= %(address_limit)s THEN %(address_reason)s END
    FROM recent
    RETURNING id, submitted_at
), answers AS (
    INSERT INTO answers ({", ".join(_ANSWER_COLUMNS)})
    SELECT response.id, response.submitted_at, (a.row->>0)::integer, (a.row->>1)::smallint,
           a.row->>2
    FROM response, json_array_elements(CAST(%(answers)s AS json)) AS a(row)
)
SELECT id FROM response
"""


def record_web_response(
    *,
    office_id: int,
    counter_id: int | None,
    questionnaire: QuestionnaireSnapshot,
    submission: Submission,
    language: str,
    client_hash: str,
    address_hash: str | None,
    submission_token: str,
    burst: BurstRules,
    dossier: Dossier | None = None,
    channel: Channel = Channel.QR_WEB,
    invitation: Invitation | None = None,
) -> int:
    """Insert a web form's response and its answers, flagged when its device or address is in a
    burst (`burst`), and return its id; the response is committed when this returns.

    `dossier` is a verified binding (the dossier's own rating link, with `channel` qr_web for a
    receipt and sms_link for an SMS invitation, whose `invitation` is then marked answered). A
    code the citizen typed is only a claim: kept beside the response, and bound to nothing.

    This is the hot path of the survey: Core statements, no ORM flush. On PostgreSQL a response
    without a verified binding is one statement of driver SQL, atomic on its own, run on an
    autocommit connection (SQLAlchemy's AUTOCOMMIT isolation level): no BEGIN and COMMIT round
    trips. Otherwise it is counts and two inserts (and the invitation's update) in the session's
    transaction, committed here.
    """
    claim = None
    if dossier is None and submission.dossier_code:
        claim = find_dossier(office_id, submission.dossier_code)
    service = dossier.service if dossier is not None and dossier.service else submission.service
    values = {
        "office_id": office_id,
        "counter_id": counter_id,
        "service_id": service.id if service else None,
        "dossier_id": dossier.id if dossier else None,
        "claimed_dossier_code": normalize_dossier_code(submission.dossier_code) or None
        if dossier is None
        else None,
        "claimed_dossier_id": claim.id if claim else None,
        "questionnaire_id": questionnaire.id,
        "channel": channel.value,
        "submitted_at": utcnow(),
        "language": language,
        "client_hash": client_hash,
        "address_hash": address_hash,
        "submission_token": submission_token,
        "is_partial": False,
    }
    if db.engine.dialect.name == "postgresql" and dossier is None:
        answers = submission.answers
        now = values["submitted_at"]
        params = values | {
            "device_since": now - timedelta(minutes=burst.device_minutes),
            "device_limit": burst.device_limit,
            "device_reason": burst.device_reason(),
            "address_since": now - timedelta(minutes=burst.address_minutes),
            "address_limit": burst.address_limit,
            "address_reason": burst.address_reason(),
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
    flag = burst_reason(office_id, client_hash, address_hash, burst)
    response_id = connection.execute(
        _INSERT_RESPONSE,
        values
        | {
            "integrity": Integrity.FLAGGED if flag else Integrity.VALID,
            "integrity_reason": flag,
        },
    ).scalar_one()
    if submission.answers:  # one statement, one round trip
        params = {"response_id": response_id, "submitted_at": values["submitted_at"]}
        for i, (question_id, value) in enumerate(submission.answers.items()):
            is_text = isinstance(value, str)
            params |= {
                f"question_id_{i}": question_id,
                f"value_{i}": None if is_text else value,
                f"text_{i}": value if is_text else None,
            }
        connection.execute(_insert_answers(len(submission.answers)), params)
    if invitation is not None:
        invitation.move_to(InvitationStatus.ANSWERED)  # the SMS channel's answer to it
    db.session.commit()
    return response_id
