"""SQL GROUP BYs that reduce the raw responses (or the rollup) to cell counts as numpy arrays.

Every count is keyed by office, service (0: not stated), channel and, for responses and answers,
integrity and the SMS sampling probability (1 for other channels), so that one weight fits every
respondent of a cell; channel and integrity are small-integer codes (CHANNELS, INTEGRITIES). An
answer row counts each value of its question (n0 … n5: a fifth of the rows to send). The same raw
SELECTs fill the rollup (grouped by local day) and read today live; a report adds up the
rollup's buckets and the live part in numpy (fetch.py). Patterns count respondents by the bit
masks of the SIPAS element items they answered and rated satisfied (bit = the question's
position in its questionnaire), what the indices' variance needs beyond the per-question counts.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    and_,
    case,
    cast,
    func,
    literal,
    select,
    union_all,
)

from analysis import SATISFIED_FROM

from ..extensions import db
from ..models import Answer, Dossier, Invitation, Question, QuestionKind, Response
from ..models.rollups import (
    CHANNELS,
    INTEGRITIES,
    NOT_STATED,
    VALUES,
)
from ..models.surveys import SIPAS_ELEMENTS
from .periods import local_day

# The SMS channel's answers to its invitations, weighted with their sampling probability: replies
# to the conversation, and the web form opened from the invitation's link
SMS_CHANNELS = ("sms", "sms_link")
RESPONSE_KEYS = ("office_id", "service_id", "channel", "integrity", "probability")
ANSWER_KEYS = RESPONSE_KEYS + ("question_id",)
VALUE_COUNTS = tuple(f"n{v}" for v in VALUES)  # answers per value, one column each
DOSSIER_KEYS = ("office_id", "service_id")
#: Dossiers returned, invitations sent, and per SMS mode those sent in link mode and those
#: answered (an invitation is counted answered on the day it was sent: a response rate per mode).
DOSSIER_VALUES = ("returned", "sms_sent", "link_sent", "reply_answered", "link_answered")
MASKS = ("answered", "satisfied")  # bit masks, read as 64-bit integers
PATTERN_KEYS = RESPONSE_KEYS + ("questionnaire_id",) + MASKS


def _dialect() -> str:
    return db.engine.dialect.name


def _code(column, labels):
    """Small integer code of a string column (its position in ``labels``)."""
    return case({label: i for i, label in enumerate(labels)}, value=column, else_=-1)


def _response_columns(day: bool):
    probability = case(
        (
            and_(Response.channel.in_(SMS_CHANNELS), Invitation.sampling_probability.is_not(None)),
            Invitation.sampling_probability,
        ),
        else_=1.0,
    )
    cols = [
        Response.office_id.label("office_id"),
        func.coalesce(Response.service_id, NOT_STATED).label("service_id"),
        _code(Response.channel, CHANNELS).label("channel"),
        _code(Response.integrity, INTEGRITIES).label("integrity"),
        probability.label("probability"),
    ]
    if day:
        cols.insert(0, local_day(Response.submitted_at, _dialect()).label("day"))
    return cols


def raw_responses(start: datetime, end: datetime, day: bool = False):
    """Respondents per key (and local day) submitted in [start, end)."""
    cols = _response_columns(day)
    return (
        select(*cols, func.count().label("count"))
        .select_from(Response)
        .outerjoin(Invitation, Invitation.dossier_id == Response.dossier_id)
        .where(Response.submitted_at >= start, Response.submitted_at < end)
        .group_by(*[c.element for c in cols])
    )


# An answer's response by the whole foreign key, and bounds on both tables: PostgreSQL prunes each
# partitioned table by its own conditions only (survey_app/partitions.py).
_answers_response = (Response.id == Answer.response_id) & (
    Response.submitted_at == Answer.submitted_at
)


def _answered_within(start: datetime, end: datetime) -> tuple:
    at = (Response.submitted_at, Answer.submitted_at)
    return tuple(c >= start for c in at) + tuple(c < end for c in at)


def raw_answers(start: datetime, end: datetime, day: bool = False):
    """Answers with a value per key and question (and local day) in [start, end): one count
    column per value (n0 … n5)."""
    cols = _response_columns(day) + [Answer.question_id.label("question_id")]
    per_value = [func.count().filter(Answer.value == v).label(f"n{v}") for v in VALUES]
    return (
        select(*cols, *per_value)
        .select_from(Answer)
        .join(Response, _answers_response)
        .outerjoin(Invitation, Invitation.dossier_id == Response.dossier_id)
        .where(*_answered_within(start, end), Answer.value.is_not(None))
        .group_by(*[c.element for c in cols])
    )


def pattern_masks():
    """Per response and questionnaire, the bit masks of the SIPAS element items answered and
    rated 4 or 5 (bit = the question's position); join the responses to choose which. Each
    question is answered at most once per response, so the sums are bitwise ORs."""
    bit = cast(literal(1), BigInteger).op("<<")(Question.position)
    return (
        select(
            Answer.response_id.label("response_id"),
            Answer.submitted_at.label("submitted_at"),
            Question.questionnaire_id.label("questionnaire_id"),
            cast(func.sum(bit), BigInteger).label("answered"),
            cast(func.sum(case((Answer.value >= SATISFIED_FROM, bit), else_=0)), BigInteger).label(
                "satisfied"
            ),
        )
        .select_from(Answer)
        .join(Question, Question.id == Answer.question_id)
        .where(
            Answer.value.is_not(None),
            Question.kind == QuestionKind.LIKERT5,
            Question.dimension.in_(SIPAS_ELEMENTS),
        )
        .group_by(Answer.response_id, Answer.submitted_at, Question.questionnaire_id)
    )


def raw_patterns(start: datetime, end: datetime, day: bool = False):
    """Respondents per key, questionnaire and pattern (and local day) in [start, end): the bit
    masks of the SIPAS element items each answered and rated 4 or 5 (a respondent who answered
    none of them has no row)."""
    # The masks are grouped by response alone (a narrow key); the response's own keys join after.
    masks = (
        pattern_masks().join(Response, _answers_response).where(*_answered_within(start, end))
    ).subquery()
    cols = _response_columns(day)
    patterns = [masks.c.questionnaire_id, masks.c.answered, masks.c.satisfied]
    return (
        select(*cols, *patterns, func.count().label("count"))
        .select_from(masks)
        .join(
            Response,
            and_(Response.id == masks.c.response_id, Response.submitted_at == masks.c.submitted_at),
        )
        .outerjoin(Invitation, Invitation.dossier_id == Response.dossier_id)
        .where(Response.submitted_at >= start, Response.submitted_at < end)
        .group_by(*[c.element for c in cols], *patterns)
    )


def raw_dossiers(start: datetime, end: datetime, day: bool = False):
    """Dossiers returned and SMS invitations sent (with DOSSIER_VALUES' split by mode) per office
    and service in [start, end)."""
    dialect = _dialect()
    service = func.coalesce(Dossier.service_id, NOT_STATED)
    link = Invitation.mode == "link"
    answered = Invitation.status == "answered"
    returned = select(
        *([local_day(Dossier.returned_at, dialect).label("day")] if day else []),
        Dossier.office_id.label("office_id"),
        service.label("service_id"),
        literal(1).label("returned"),
        *[literal(0).label(name) for name in DOSSIER_VALUES[1:]],
    ).where(Dossier.returned_at >= start, Dossier.returned_at < end)
    sent = (
        select(
            *([local_day(Invitation.sent_at, dialect).label("day")] if day else []),
            Invitation.office_id.label("office_id"),
            service.label("service_id"),
            literal(0).label("returned"),
            literal(1).label("sms_sent"),
            case((link, 1), else_=0).label("link_sent"),
            case((and_(answered, ~link), 1), else_=0).label("reply_answered"),
            case((and_(answered, link), 1), else_=0).label("link_answered"),
        )
        .join(Dossier, Dossier.id == Invitation.dossier_id)
        .where(Invitation.sent_at >= start, Invitation.sent_at < end)
    )
    both = union_all(returned, sent).subquery()
    keys = [both.c.office_id, both.c.service_id]
    if day:
        keys.insert(0, both.c.day)
    return select(*keys, *[func.sum(both.c[n]).label(n) for n in DOSSIER_VALUES]).group_by(*keys)
