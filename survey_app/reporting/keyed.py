"""The rollup's day rows from each response's keys computed once (PostgreSQL).

`response_keys` gives each response's id, local day and keys (as counts.py's raw SELECTs compute
them); the rollup stores these rows in a temporary table, and `keyed_counts` groups the answers,
patterns and respondents from it: one join by response id each, no time zone conversion or
string codes per answer, and the answers of a few days' responses read through their key. The
answers are bounded by their own `submitted_at` as well (their response's), so PostgreSQL reads
only the period's partitions. (Joining by (id, submitted_at) would also say so, but PostgreSQL
then multiplies the two columns' selectivities and expects one row: worse plans.)
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from ..models import Answer, Invitation, Response
from ..models.rollups import VALUES
from .counts import RESPONSE_KEYS, _response_columns, pattern_masks


def response_keys(start: datetime, end: datetime):
    """Each response's id, local day and keys in [start, end): what a full rebuild of the
    rollup computes once and groups three times (see keyed_counts)."""
    return (
        select(Response.id.label("response_id"), *_response_columns(True))
        .select_from(Response)
        .outerjoin(Invitation, Invitation.dossier_id == Response.dossier_id)
        .where(Response.submitted_at >= start, Response.submitted_at < end)
    )


def keyed_counts(keys, start: datetime, end: datetime, scan: bool = False) -> tuple:
    """The day rows of answers, patterns and respondents from a table of response_keys' rows
    of [start, end): the same counts as raw_answers, raw_patterns and raw_responses with
    ``day=True``. With ``scan``, the answers' masks are grouped from the answers of the
    period's partitions alone, not joined to the keys first (that join reads a few days'
    answers by their key; for a whole month it is only work)."""
    cols = [keys.c.day, *[keys.c[k] for k in RESPONSE_KEYS]]
    within = (Answer.submitted_at >= start, Answer.submitted_at < end)  # the partitions to read
    per_value = [func.count().filter(Answer.value == v).label(f"n{v}") for v in VALUES]
    answers = (
        select(*cols, Answer.question_id.label("question_id"), *per_value)
        .select_from(Answer)
        .join(keys, keys.c.response_id == Answer.response_id)
        .where(*within, Answer.value.is_not(None))
        .group_by(*cols, Answer.question_id)
    )
    masks = pattern_masks().where(*within)
    if not scan:
        masks = masks.join(keys, keys.c.response_id == Answer.response_id)
    masks = masks.subquery()
    patterns = [masks.c.questionnaire_id, masks.c.answered, masks.c.satisfied]
    return (
        answers,
        select(*cols, *patterns, func.count().label("count"))
        .select_from(masks)
        .join(keys, keys.c.response_id == masks.c.response_id)
        .group_by(*cols, *patterns),
        select(*cols, func.count().label("count")).select_from(keys).group_by(*cols),
    )
