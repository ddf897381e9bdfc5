"""SQL GROUP BYs that reduce the raw responses (or the rollup) to cell counts as numpy arrays.

Every count is keyed by office, service (0: not stated), channel and, for responses and answers,
integrity and the SMS sampling probability (1 for other channels), so that one weight fits every
respondent of a cell. The same raw SELECTs fill the rollup (grouped by local day) and read today
live; a report adds the rollup's days and the live part in one UNION ALL.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
from sqlalchemy import BigInteger, and_, case, cast, func, literal, or_, select, union_all

from ..extensions import db
from ..models import Answer, Dossier, Invitation, Response
from ..models.rollups import NOT_STATED, RollupAnswer, RollupDossier, RollupResponse
from .periods import Period, local_day

CHANNELS = ("qr_web", "sms", "kiosk")
INTEGRITIES = ("valid", "flagged", "excluded")
RESPONSE_KEYS = ("office_id", "service_id", "channel", "integrity", "probability")
ANSWER_KEYS = RESPONSE_KEYS + ("question_id", "value")
DOSSIER_KEYS = ("office_id", "service_id")


def _dialect() -> str:
    return db.engine.dialect.name


def _code(column, labels):
    """Small integer code of a string column (its position in ``labels``)."""
    return case({label: i for i, label in enumerate(labels)}, value=column, else_=-1)


def _response_columns(day: bool):
    probability = case((and_(Response.channel == "sms",
                             Invitation.sampling_probability.is_not(None)),
                        Invitation.sampling_probability), else_=1.0)  # fmt: skip
    cols = [Response.office_id.label("office_id"),
            func.coalesce(Response.service_id, NOT_STATED).label("service_id"),
            Response.channel.label("channel"), Response.integrity.label("integrity"),
            probability.label("probability")]  # fmt: skip
    if day:
        cols.insert(0, local_day(Response.submitted_at, _dialect()).label("day"))
    return cols


def raw_responses(start: datetime, end: datetime, day: bool = False):
    """Respondents per key (and local day) submitted in [start, end)."""
    cols = _response_columns(day)
    return (select(*cols, func.count().label("count"))
            .select_from(Response)
            .outerjoin(Invitation, Invitation.dossier_id == Response.dossier_id)
            .where(Response.submitted_at >= start, Response.submitted_at < end)
            .group_by(*[c.element for c in cols]))  # fmt: skip


def raw_answers(start: datetime, end: datetime, day: bool = False):
    """Answers with a value per key, question and value (and local day) in [start, end)."""
    cols = _response_columns(day) + [Answer.question_id.label("question_id"),
                                     Answer.value.label("value")]  # fmt: skip
    return (select(*cols, func.count().label("count"))
            .select_from(Answer).join(Response, Response.id == Answer.response_id)
            .outerjoin(Invitation, Invitation.dossier_id == Response.dossier_id)
            .where(Response.submitted_at >= start, Response.submitted_at < end,
                   Answer.value.is_not(None))
            .group_by(*[c.element for c in cols]))  # fmt: skip


def raw_dossiers(start: datetime, end: datetime, day: bool = False):
    """Dossiers returned and SMS invitations sent per office and service in [start, end)."""
    dialect = _dialect()
    service = func.coalesce(Dossier.service_id, NOT_STATED)
    returned = select(*([local_day(Dossier.returned_at, dialect).label("day")] if day else []),
                      Dossier.office_id.label("office_id"), service.label("service_id"),
                      literal(1).label("returned"), literal(0).label("sms_sent")).where(
        Dossier.returned_at >= start, Dossier.returned_at < end)  # fmt: skip
    sent = select(*([local_day(Invitation.sent_at, dialect).label("day")] if day else []),
                  Invitation.office_id.label("office_id"), service.label("service_id"),
                  literal(0).label("returned"), literal(1).label("sms_sent")).join(
        Dossier, Dossier.id == Invitation.dossier_id).where(
        Invitation.sent_at >= start, Invitation.sent_at < end)  # fmt: skip
    both = union_all(returned, sent).subquery()
    keys = [both.c.office_id, both.c.service_id]
    if day:
        keys.insert(0, both.c.day)
    return select(*keys, func.sum(both.c.returned).label("returned"),
                  func.sum(both.c.sms_sent).label("sms_sent")).group_by(*keys)


def _rollup(model, keys, values, tiles):
    """Rollup rows of the (grain, first day) buckets that tile the past part of a period."""
    cols = [getattr(model, k).label(k) for k in keys]
    by_grain: dict[int, list] = {}
    for grain, day in tiles:
        by_grain.setdefault(grain, []).append(day)
    return select(*cols, *[getattr(model, v).label(v) for v in values]).where(or_(*[
        and_(model.grain == grain, model.day.in_(days)) for grain, days in by_grain.items()]))


def _coded(stmt, keys, values, where=None):
    """The part's rows with channel and integrity as codes and the office filter applied."""
    sub = stmt.subquery()
    cols = []
    for key in keys:
        col = sub.c[key]
        if key == "channel":
            col = _code(col, CHANNELS)
        elif key == "integrity":
            col = _code(col, INTEGRITIES)
        cols.append(col.label(key))
    query = select(*cols, *[cast(sub.c[v], BigInteger).label(v) for v in values])
    return query.where(*where(sub.c)) if where is not None else query


def _sum_by_keys(parts: list[dict], keys, values) -> dict[str, np.ndarray]:
    """Concatenate the parts and add up the values of equal keys (rollup tiles, live rows)."""
    data = {k: np.concatenate([p[k] for p in parts]) for k in (*keys, *values)}
    if not data[values[0]].size:
        return data
    key = np.zeros(data[values[0]].size, dtype=np.int64)
    for name in keys:  # mixed radix over the codes present: never overflows
        _, codes = np.unique(data[name], return_inverse=True)
        key = key * (int(codes.max()) + 1) + codes.ravel()
    uniq, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    out = {k: data[k][first] for k in keys}
    out.update({v: np.bincount(inverse.ravel(), data[v], uniq.size) for v in values})
    return out


def _fetch(stmt, names) -> dict[str, np.ndarray]:
    """Run a counts query into numpy columns; on PostgreSQL as one row of arrays (fast)."""
    conn = db.session.connection()
    if conn.dialect.name == "postgresql":
        # JIT compilation costs more than these short aggregations take (0.1–0.3 s a query).
        conn.exec_driver_sql("SET LOCAL jit = off")
        conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")
        sub = stmt.subquery()
        row = conn.execute(select(*[func.array_agg(sub.c[name]) for name in names])).one()
        return {name: np.asarray(col if col is not None else [], dtype=float)
                for name, col in zip(names, row, strict=True)}  # fmt: skip
    rows = conn.execute(stmt).all()
    if not rows:
        return {name: np.zeros(0) for name in names}
    columns = list(zip(*rows, strict=True))
    return {name: np.asarray(col, dtype=float) for name, col in zip(names, columns, strict=True)}


def fetch_counts(tiles, live: Period | None, *, integrity=("valid",),
                 office_ids=None) -> dict[str, dict[str, np.ndarray]]:
    """Answer, respondent and dossier counts of the rollup's buckets (``tiles``: (grain, first
    day) pairs) plus the live days, as arrays.

    Channel and integrity come back as codes into CHANNELS and INTEGRITIES.
    """
    def parts(raw, model, keys, values):
        out = []
        if tiles:
            out.append(_rollup(model, keys, values, tiles))
        if live is not None:
            out.append(raw(*live.utc_bounds))
        return out

    def where(extra=()):
        def build(c):
            conds = [c.office_id.in_(office_ids)] if office_ids is not None else []
            return conds + [cond(c) for cond in extra]
        return build

    keep = [lambda c: c.integrity.in_(tuple(integrity))]
    result = {}
    for name, raw, model, keys, values, extra in (
        ("answers", raw_answers, RollupAnswer, ANSWER_KEYS, ("count",), keep),
        ("responses", raw_responses, RollupResponse, RESPONSE_KEYS, ("count",), ()),
        ("dossiers", raw_dossiers, RollupDossier, DOSSIER_KEYS, ("returned", "sms_sent"), ()),
    ):
        fetched = [_fetch(_coded(stmt, keys, values, where(extra)), keys + values)
                   for stmt in parts(raw, model, keys, values)]  # fmt: skip
        if not fetched:
            fetched = [{k: np.zeros(0) for k in keys + values}]
        result[name] = _sum_by_keys(fetched, keys, values)
    return result
