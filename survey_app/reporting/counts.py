"""SQL GROUP BYs that reduce the raw responses (or the rollup) to cell counts as numpy arrays.

Every count is keyed by office, service (0: not stated), channel and, for responses and answers,
integrity and the SMS sampling probability (1 for other channels), so that one weight fits every
respondent of a cell; channel and integrity are small-integer codes (CHANNELS, INTEGRITIES). An
answer row counts each value of its question (n0 … n5: a fifth of the rows to send). The same raw
SELECTs fill the rollup (grouped by local day) and read today live; a report adds up the
rollup's buckets and the live part in numpy. Patterns count respondents by the bit masks of the
SIPAS element items they answered and rated satisfied (bit = the question's position in its
questionnaire), what the indices' variance needs beyond the per-question counts.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

import numpy as np
from sqlalchemy import (
    BigInteger,
    Double,
    Integer,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
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
    RollupAnswer,
    RollupDossier,
    RollupPattern,
    RollupResponse,
)
from ..models.surveys import SIPAS_ELEMENTS
from .periods import Period, local_day
from .readers import read_all
from .weighting import group_rows

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


def _rollup(model, keys, values, tiles, by_tile=False):
    """Rollup rows of the (grain, first day) buckets that tile the past part of a period; with
    ``by_tile``, each with its bucket's position in ``tiles`` first (``tile``)."""
    cols = [getattr(model, k).label(k) for k in keys]
    if by_tile:
        whens = [(and_(model.grain == g, model.day == d), i) for i, (g, d) in enumerate(tiles)]
        cols.insert(0, case(*whens).label("tile"))
    by_grain: dict[int, list] = {}
    for grain, day in tiles:
        by_grain.setdefault(grain, []).append(day)
    return select(*cols, *[getattr(model, v).label(v) for v in values]).where(
        or_(*[and_(model.grain == grain, model.day.in_(days)) for grain, days in by_grain.items()])
    )


def _typed(stmt, keys, values, where=None):
    """The part's rows in fixed-width types (PostgreSQL's binary COPY is read straight into
    numpy), with the office and integrity filters applied."""
    sub = stmt.subquery()
    types = {"probability": Double, **dict.fromkeys(MASKS, BigInteger)}
    cols = [cast(sub.c[k], types.get(k, Integer)).label(k) for k in keys]
    query = select(*cols, *[cast(sub.c[v], BigInteger).label(v) for v in values])
    return query.where(*where(sub.c)) if where is not None else query


def _sum_by_keys(parts: list[dict], keys, values) -> dict[str, np.ndarray]:
    """Concatenate the parts and add up the values of equal keys (rollup tiles, live rows)."""
    data = {k: np.concatenate([p[k] for p in parts]) for k in (*keys, *values)}
    if not data[values[0]].size:
        return data
    group, first = group_rows([data[name] for name in keys])
    out = {k: data[k][first] for k in keys}
    out.update({v: np.bincount(group, data[v], first.size) for v in values})
    return out


def _dtype(name: str):
    """Bit masks stay 64-bit integers; every other count column is read as float."""
    return np.int64 if name in MASKS else float


def _fetch(session, stmt, names) -> dict[str, np.ndarray]:
    """Run a counts query into numpy columns (float, masks int64); on PostgreSQL as one packed
    value (fast)."""
    return _fetch_on(session.connection(), stmt, names)


def _fetch_on(conn, stmt, names) -> dict[str, np.ndarray]:
    """:func:`_fetch` on a connection."""
    if conn.dialect.name == "postgresql":
        # JIT compilation costs more than these short aggregations take (0.1–0.3 s a query).
        conn.exec_driver_sql("SET LOCAL jit = off")
        conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")
        if conn.dialect.driver == "psycopg":
            parsed = _packed(conn, stmt, names)
            if parsed is not None:
                return parsed
        sub = stmt.subquery()
        row = conn.execute(select(*[func.array_agg(sub.c[name]) for name in names])).one()
        return {
            name: np.asarray(col if col is not None else [], dtype=_dtype(name))
            for name, col in zip(names, row, strict=True)
        }
    rows = conn.execute(stmt).all()
    if not rows:
        return {name: np.zeros(0, dtype=_dtype(name)) for name in names}
    columns = list(zip(*rows, strict=True))
    return {
        name: np.asarray(col, dtype=_dtype(name)) for name, col in zip(names, columns, strict=True)
    }


_WIDE = ("count", *DOSSIER_VALUES, *VALUE_COUNTS, *MASKS)  # cast to BigInteger by _typed
_SEND = {"i4": "int4send", "i8": "int8send", "f8": "float8send"}  # PostgreSQL's binary forms


PACKED_CHUNKS = 16  # bytea values per query: one value holds at most 1 GB (~15 M records)


def _packed(conn, stmt, names) -> dict[str, np.ndarray] | None:
    """The rows packed by PostgreSQL into bytea values of fixed-width big-endian records and
    read with numpy.frombuffer: no Python object per row or value (psycopg 3, binary results).

    The records are split by office (the first key) into up to PACKED_CHUNKS values, since
    PostgreSQL refuses a value over 1 GB: a national year's answer cells are ~15 M records of
    ~70 bytes. None if some value was NULL (its record would be missing): the caller takes the
    slow path.
    """
    kinds = ["f8" if name == "probability" else "i8" if name in _WIDE else "i4" for name in names]
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    # The subquery's columns are renamed by position (c0, c1, ...), whatever their labels.
    record = " || ".join(f"{_SEND[kind]}(s.c{i})" for i, kind in enumerate(kinds))
    aliases = ", ".join(f"c{i}" for i in range(len(kinds)))
    chunk = f"mod(s.c0, {PACKED_CHUNKS})" if kinds[0] == "i4" else "0"
    dtype = np.dtype([(name, ">" + kind) for name, kind in zip(names, kinds, strict=True)])
    with conn.connection.driver_connection.cursor(binary=True) as cursor:
        cursor.execute(
            f"SELECT count(*), string_agg({record}, ''::bytea) "
            f"FROM ({compiled}) AS s({aliases}) GROUP BY {chunk}",
            compiled.params,
        )
        chunks = cursor.fetchall()
    rows = sum(n for n, _ in chunks)
    data = b"".join(value or b"" for _, value in chunks)
    if len(data) != rows * dtype.itemsize:
        return None
    packed = np.frombuffer(data, dtype=dtype)
    return {name: packed[name].astype(_dtype(name)) for name in names}


def fetch_counts(
    session,
    tiles,
    live: Period | None,
    *,
    integrity=("valid",),
    office_ids=None,
    also=None,
    by_tile=False,
) -> dict[str, dict[str, np.ndarray]]:
    """Answer, respondent and dossier counts of the rollup's buckets (``tiles``: (grain, first
    day) pairs) plus the live days, as arrays, read through ``session`` (the primary's
    ``db.session`` or the read replica's, reporting/source.py).

    Channel and integrity come back as codes into CHANNELS and INTEGRITIES; answers as one
    row per key, question and value with a count; patterns as one row per key, questionnaire
    and pair of masks with a count (a year's keys with many patterns hold moments instead, read
    by year_moments.fetch_moments). ``also``: more reads by name (functions of a connection),
    read beside these (readers.read_all) and returned under their names. With ``by_tile`` (no
    live days), the rows of each bucket apart, with its position in ``tiles`` (``tile``, a
    key): several periods' rows read at once, each period's taken by :func:`tile_counts`.
    """
    if by_tile and live is not None:
        raise ValueError("by_tile reads the rollup's buckets alone")
    first = ("tile",) if by_tile else ()

    def parts(raw, model, keys, values):
        out = []
        if tiles:
            out.append(_rollup(model, keys, values, tiles, by_tile))
        if live is not None:
            out.append(raw(*live.utc_bounds))
        return out

    def where(extra=()):
        def build(c):
            conds = [c.office_id.in_(office_ids)] if office_ids is not None else []
            return conds + [cond(c) for cond in extra]

        return build

    codes = tuple(INTEGRITIES.index(i) for i in integrity)
    keep = [lambda c: c.integrity.in_(codes)]
    kinds = (
        ("answers", raw_answers, RollupAnswer, ANSWER_KEYS, VALUE_COUNTS, keep),
        ("patterns", raw_patterns, RollupPattern, PATTERN_KEYS, ("count",), keep),
        ("responses", raw_responses, RollupResponse, RESPONSE_KEYS, ("count",), ()),
        ("dossiers", raw_dossiers, RollupDossier, DOSSIER_KEYS, DOSSIER_VALUES, ()),
    )
    reads = [
        (name, _typed(stmt, first + keys, values, where(extra)), first + keys + values)
        for name, raw, model, keys, values, extra in kinds
        for stmt in parts(raw, model, keys, values)
    ]
    also = dict(also or {})
    read = read_all(
        session,
        [*also.values(), *[partial(_fetch_on, stmt=stmt, names=names) for _, stmt, names in reads]],
    )
    result = dict(zip(also, read[: len(also)], strict=True))
    read = read[len(also) :]
    for name, _raw, _model, keys, values, _extra in kinds:
        fetched = [part for (of, _s, _n), part in zip(reads, read, strict=True) if of == name]
        if not fetched:
            fetched = [{k: np.zeros(0, dtype=_dtype(k)) for k in first + keys + values}]
        # A single rollup bucket, or the live days alone, has unique keys already (each
        # bucket's, with ``by_tile``).
        unique = len(fetched) == 1 and (live is None or not tiles) and len(tiles or ()) <= 1
        if by_tile or unique:
            result[name] = fetched[0]
        else:
            result[name] = _sum_by_keys(fetched, keys, values)
    result["answers"] = _by_value(result["answers"])
    return result


#: Each kind of count's keys and values as :func:`fetch_counts` returns them (the answers one
#: row per value).
KINDS = {
    "answers": (ANSWER_KEYS + ("value",), ("count",)),
    "patterns": (PATTERN_KEYS, ("count",)),
    "responses": (RESPONSE_KEYS, ("count",)),
    "dossiers": (DOSSIER_KEYS, DOSSIER_VALUES),
}


def tile_counts(counts: dict, tiles: list[int]) -> dict[str, dict[str, np.ndarray]]:
    """The counts of a period from :func:`fetch_counts`' with ``by_tile``: the rows of the
    buckets at these positions, added up by key where there are several, as
    :func:`fetch_counts` of that period's buckets alone returns them (other reads as they are)."""
    out = {}
    for name, part in counts.items():
        if name not in KINDS:
            out[name] = part
            continue
        keep = np.isin(part["tile"], tiles)
        rows = {k: v[keep] for k, v in part.items() if k != "tile"}
        keys, values = KINDS[name]
        out[name] = rows if len(tiles) <= 1 else _sum_by_keys([rows], keys, values)
    return out


def _by_value(part: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One row per key, question and answer value with its count (rows of zero left out)."""
    counts = np.stack([part[n] for n in VALUE_COUNTS], axis=1)
    row, col = np.nonzero(counts)
    out = {k: part[k][row] for k in ("tile",) * ("tile" in part) + ANSWER_KEYS}
    out["value"] = np.asarray(VALUES, dtype=float)[col]
    out["count"] = counts[row, col]
    return out
