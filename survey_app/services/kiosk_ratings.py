"""Recording a kiosk's ratings: posted by its form (a tablet without JavaScript), or sent from
the tablet's outbox, where ratings made while it was offline waited.

Every rating carries a submission token the server issued (services/submission_tokens.py),
accepted for KIOSK_TOKEN_HOURS rather than the phone form's hours: a token used once is never
counted again, so a rating sent twice (the answer to the first send was lost) is stored once.
A rating's time is the time it was made on the tablet, kept within what the server knows: not
before its token was issued, not after it arrived. Bursts are counted per kiosk at those times,
so a backlog sent at once after an outage is not a burst.

Kiosk ratings are few (one tablet, one citizen at a time): they go through the ORM, whose
flush also marks a past day's rollup stale when an offline rating arrives the next day.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import bindparam, func, select

from ..extensions import db
from ..models import Answer, Channel, Integrity, Kiosk, Response, ResponseKey, utcnow
from . import submission_tokens
from .questionnaires import QuestionnaireSnapshot
from .responses import (
    BadSubmission,
    Submission,
    find_dossier,
    normalize_dossier_code,
    parse_submission,
)
from .submission_tokens import TokenCheck

log = logging.getLogger(__name__)


def token_max_age(config) -> int:
    """Seconds a kiosk's submission token is accepted (KIOSK_TOKEN_HOURS)."""
    return round(float(config["KIOSK_TOKEN_HOURS"]) * 3600)


@dataclass(frozen=True)
class KioskBurstRules:
    """A kiosk rating is flagged when its kiosk already took `short_limit` ratings in the
    `short_minutes` before it, or `long_limit` in the `long_minutes` before it
    (docs/operations.md, "Kiosks at the counters")."""

    short_limit: int = 15
    short_minutes: int = 10
    long_limit: int = 60
    long_minutes: int = 60

    @classmethod
    def from_config(cls, config) -> KioskBurstRules:
        """The rules of the KIOSK_*BURST* settings."""
        return cls(
            config["KIOSK_BURST_LIMIT"],
            config["KIOSK_BURST_MINUTES"],
            config["KIOSK_LONG_BURST_LIMIT"],
            config["KIOSK_LONG_BURST_MINUTES"],
        )

    def windows(self) -> tuple[tuple[int, int], ...]:
        """(limit, minutes) of each rule, the short one first."""
        return ((self.short_limit, self.short_minutes), (self.long_limit, self.long_minutes))


_RECENT_AT_KIOSK = select(func.count()).select_from(
    select(Response.id)
    .where(
        Response.kiosk_id == bindparam("kiosk"),
        Response.submitted_at > bindparam("since", type_=Response.submitted_at.type),
        Response.submitted_at <= bindparam("until", type_=Response.submitted_at.type),
    )
    .limit(bindparam("limit"))
    .subquery()
)


def burst_reason(kiosk_id: int, at: datetime, rules: KioskBurstRules) -> str | None:
    """Why a rating made at `at` on this kiosk looks like a burst, or None (each count stops at
    its limit)."""
    connection = db.session.connection()
    for limit, minutes in rules.windows():
        params = {"kiosk": kiosk_id, "since": at - timedelta(minutes=minutes), "until": at}
        if connection.scalar(_RECENT_AT_KIOSK, params | {"limit": limit}) >= limit:
            return f"burst: more than {limit} responses from one kiosk within {minutes} min"
    return None


def rating_time(token: str, rated_at: datetime | None, now: datetime) -> datetime:
    """When a rating was made: the tablet's time, within [token issued, now]."""
    if rated_at is None:
        return now
    issued = submission_tokens.issued_at(token) or now
    return min(now, max(rated_at, issued))


def store(
    kiosk: Kiosk,
    questionnaire: QuestionnaireSnapshot,
    submission: Submission,
    *,
    token: str,
    language: str,
    submitted_at: datetime,
    rules: KioskBurstRules,
) -> Response:
    """Add a kiosk response and its answers (flagged when its kiosk is in a burst); flush."""
    claim = find_dossier(kiosk.office_id, submission.dossier_code)
    flag = burst_reason(kiosk.id, submitted_at, rules)
    response = Response(
        office_id=kiosk.office_id,
        counter_id=kiosk.counter_id,
        kiosk_id=kiosk.id,
        service_id=submission.service.id if submission.service else None,
        claimed_dossier_code=normalize_dossier_code(submission.dossier_code) or None,
        claimed_dossier_id=claim.id if claim else None,
        questionnaire_id=questionnaire.id,
        channel=Channel.KIOSK,
        submitted_at=submitted_at,
        stored_at=utcnow(),
        language=language,
        integrity=Integrity.FLAGGED if flag else Integrity.VALID,
        integrity_reason=flag,
        submission_token=token,
    )
    response.answers = [
        Answer(question_id=question_id, text=value)
        if isinstance(value, str)
        else Answer(question_id=question_id, value=value)
        for question_id, value in submission.answers.items()
    ]
    db.session.add(response)
    db.session.flush()
    return response


class Outcome(enum.StrEnum):
    """What became of one rating sent from a tablet's outbox."""

    STORED = "stored"  # counted now
    DUPLICATE = "duplicate"  # counted before (its token was used by this kiosk): drop the copy
    REFUSED = "refused"  # never to be counted: the tablet shows it, with the reason


@dataclass(frozen=True)
class Result:
    """The answer for one rating of a batch."""

    token: str
    status: Outcome
    reason: str | None = None  # expired, forged, used, invalid
    message: str = ""


def used_by(token: str) -> tuple[bool, int | None]:
    """Whether a response already holds this token, and its kiosk."""
    row = db.session.execute(
        select(Response.kiosk_id)
        .join(
            ResponseKey,
            (ResponseKey.response_id == Response.id)
            & (ResponseKey.submitted_at == Response.submitted_at),
        )
        .where(ResponseKey.submission_token == token)
    ).first()
    return (row is not None, row[0] if row else None)


def record_rating(
    kiosk: Kiosk,
    questionnaire: QuestionnaireSnapshot,
    *,
    token: str,
    fields,
    language: str,
    rated_at: datetime | None,
    rules: KioskBurstRules,
    max_age: int,
) -> Result:
    """Check and store one rating of the outbox (`fields`: the form's fields, a MultiDict)."""
    checked = submission_tokens.check(token, kiosk.office_id, max_age=max_age)
    if checked is TokenCheck.FORGED:
        return Result(
            token,
            Outcome.REFUSED,
            "forged",
            _("This rating's form was not issued for this office."),
        )
    used, by_kiosk = used_by(token)
    if used:
        if by_kiosk == kiosk.id:
            return Result(token, Outcome.DUPLICATE)
        return Result(token, Outcome.REFUSED, "used", _("This rating's form was already used."))
    if checked is TokenCheck.EXPIRED:
        return Result(
            token,
            Outcome.REFUSED,
            "expired",
            _("This rating was kept on the tablet too long to be counted."),
        )
    try:
        submission = parse_submission(fields, questionnaire, kiosk.office_id)
    except BadSubmission as exc:
        return Result(token, Outcome.REFUSED, "invalid", str(exc))
    if submission.errors:
        return Result(token, Outcome.REFUSED, "invalid", next(iter(submission.errors.values())))
    store(
        kiosk,
        questionnaire,
        submission,
        token=token,
        language=language,
        submitted_at=rating_time(token, rated_at, utcnow()),
        rules=rules,
    )
    return Result(token, Outcome.STORED)
