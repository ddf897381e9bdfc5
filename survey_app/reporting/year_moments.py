"""A year's indices' variance rows (`rollup_moments`): its months' answer patterns summed per key.

With the real questionnaire (16 element items, skips) nearly every respondent has a pattern of
their own, so a year's `rollup_patterns` held about 0.65 rows per respondent and a year's report
spent most of its time reading and linearising them. A year's key (office × service × channel
× integrity × sampling probability × questionnaire) with many patterns holds instead the sums
that the variance needs (`analysis.moments`): one row, however many respondents. Keys with few
patterns keep them (a moment row is 2K(2K+1)/2 + 5 numbers), as do days and months (few
respondents per key). Moments are computed here in numpy from the year's patterns, since SQL
cannot add up the products of bits compactly.
"""

from __future__ import annotations

from datetime import date

import numpy as np
from sqlalchemy import (
    Column,
    Double,
    Integer,
    MetaData,
    Table,
    delete,
    exists,
    insert,
    select,
    text,
)

from analysis.moments import from_patterns, pairs

from ..extensions import db
from ..models import Question, QuestionKind
from ..models.rollups import INTEGRITIES, YEAR, RollupMoment, RollupPattern
from ..models.surveys import SIPAS_ELEMENTS
from .counts import PATTERN_KEYS, RESPONSE_KEYS
from .fetch import _fetch, _typed
from .weighting import group_rows

N_ELEMENTS = len(SIPAS_ELEMENTS)
SUM_DTYPE = np.dtype("<i4")
PATTERN_ROW_BYTES = 48  # a pattern row in the rollup: key, masks and count (about)


def element_layout(questionnaire_ids) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per questionnaire, its SIPAS element items' positions (ascending) and elements (indices
    into SIPAS_ELEMENTS)."""
    rows = db.session.execute(
        select(Question.questionnaire_id, Question.position, Question.dimension)
        .where(
            Question.questionnaire_id.in_([int(q) for q in questionnaire_ids]),
            Question.kind == QuestionKind.LIKERT5,
            Question.dimension.in_(SIPAS_ELEMENTS),
        )
        .order_by(Question.questionnaire_id, Question.position)
    ).all()
    layout: dict[int, tuple[list, list]] = {}
    for qn, position, dimension in rows:
        entry = layout.setdefault(qn, ([], []))
        entry[0].append(position)
        entry[1].append(SIPAS_ELEMENTS.index(dimension))
    as_array = np.array
    return {qn: (as_array(p, np.int64), as_array(e, np.int64)) for qn, (p, e) in layout.items()}


def roll_years(first: date, last: date, into: dict | None = None) -> None:
    """Replace the year rows of patterns of the years ``first`` … ``last`` (first days) by
    moments, key by key, where the moments are smaller (:func:`moment_rows`), in the rollup's
    tables (or ``into``'s tables by model)."""
    into = into or {}
    patterns = into.get(RollupPattern, RollupPattern.__table__)
    target = into.get(RollupMoment, RollupMoment.__table__)
    for year in range(first.year, last.year + 1):
        start = date(year, 1, 1)
        stmt = select(*[patterns.c[k] for k in PATTERN_KEYS], patterns.c["count"]).where(
            patterns.c.grain == YEAR, patterns.c.day == start
        )
        names = PATTERN_KEYS + ("count",)
        data = _fetch(db.session, _typed(stmt, PATTERN_KEYS, ("count",)), names)
        rows, _summed = moment_rows(data, start)
        if not rows:
            continue
        db.session.execute(insert(target), rows)
        _drop_patterns(patterns, start, rows)


def _drop_patterns(patterns, year: date, rows: list[dict]) -> None:
    """Delete the year's pattern rows of the keys that now hold moments: the keys go into a
    temporary table, and one DELETE … WHERE EXISTS joins it (a hash join on PostgreSQL)."""
    names = (*RESPONSE_KEYS, "questionnaire_id")
    keys = Table(
        "rollup_moment_keys",
        MetaData(),
        *[Column(k, Double if k == "probability" else Integer) for k in names],
        prefixes=["TEMPORARY"],
    )
    conn = db.session.connection()
    db.session.execute(text("DROP TABLE IF EXISTS rollup_moment_keys"))  # a failed run's
    keys.create(conn)
    db.session.execute(insert(keys), [{k: r[k] for k in names} for r in rows])
    db.session.execute(text("ANALYZE rollup_moment_keys"))  # so PostgreSQL plans a hash join
    match = exists().where(*[keys.c[k] == patterns.c[k] for k in names])
    db.session.execute(
        delete(patterns).where(patterns.c.grain == YEAR, patterns.c.day == year, match)
    )
    keys.drop(conn)


def moment_rows(data: dict, year: date) -> tuple[list[dict], np.ndarray]:
    """The moment rows of one year's keys whose patterns (numpy columns: PATTERN_KEYS and
    ``count``, one row per key and pattern) are more than their moments would be: a pattern row
    holds two masks and a count (PATTERN_ROW_BYTES with its key), a moment row 2K(2K+1)/2 + 5
    int32s whatever the respondents. A province's year (hundreds of respondents per key) is
    mostly moments, a national one with many small keys mostly patterns. Also returns which
    pattern rows the moments replace (a boolean per row)."""
    out = []
    summed = np.zeros(data["count"].size, dtype=bool)
    qns = np.unique(data["questionnaire_id"]).tolist()
    layouts = element_layout(qns) if qns else {}
    for qn in qns:
        if qn not in layouts:
            continue
        positions, element = layouts[qn]
        sel = np.flatnonzero(data["questionnaire_id"] == qn)
        group, first = group_rows([data[k][sel] for k in RESPONSE_KEYS])
        n_pairs = pairs(positions.size)[0].size
        heavy = np.bincount(group) * PATTERN_ROW_BYTES > (N_ELEMENTS + n_pairs) * SUM_DTYPE.itemsize
        if not heavy.any():
            continue
        key_row = sel[first[heavy]]  # a data row of each heavy key
        rows = heavy[group]  # the heavy keys' rows, their keys numbered 0 … H − 1
        sel, group = sel[rows], np.cumsum(heavy)[group[rows]] - 1
        keep = np.ones(key_row.size, dtype=bool)  # keys that hold moments
        masks = [data[m][sel].astype(np.int64) for m in ("answered", "satisfied")]
        bits = [((mask[:, None] >> positions[None, :]) & 1).astype(bool) for mask in masks]
        uniq = {k: data[k][key_row] for k in RESPONSE_KEYS}
        count, members, sums = from_patterns(
            group, data["count"][sel].astype(np.int64), bits[0], bits[1], element
        )
        padded = np.zeros((key_row.size, N_ELEMENTS), dtype=np.int64)
        padded[:, : members.shape[1]] = members
        items = int(np.bitwise_or.reduce(np.left_shift(1, positions))) if positions.size else 0
        for g in np.flatnonzero(count > 0).tolist():
            values = np.concatenate([padded[g], sums[g]])
            if values.max(initial=0) > np.iinfo(SUM_DTYPE).max:
                keep[g] = False  # (2^31 respondents in one key: it keeps its patterns)
                continue
            row = {k: int(uniq[k][g]) for k in RESPONSE_KEYS if k != "probability"}
            row["probability"] = float(uniq["probability"][g])
            row.update(
                grain=YEAR,
                day=year,
                questionnaire_id=qn,
                items=items,
                count=int(count[g]),
                sums=values.astype(SUM_DTYPE).tobytes(),
            )
            out.append(row)
        summed[sel[keep[group] & (count[group] > 0)]] = True
    return out, summed


def fetch_moments(session, years: list[date], integrity, office_ids=None) -> dict:
    """The moment rows of these years (first days), as numpy columns (``sums``: the raw
    values, an object array of bytes), read through ``session`` (or a connection)."""
    cols = [*RESPONSE_KEYS, "questionnaire_id", "items", "count", "sums"]
    if not years:
        return {c: np.zeros(0, dtype=object if c == "sums" else float) for c in cols}
    t = RollupMoment
    codes = [INTEGRITIES.index(i) for i in integrity]
    stmt = select(*[getattr(t, c) for c in cols]).where(
        t.grain == YEAR, t.day.in_(years), t.integrity.in_(codes)
    )
    if office_ids is not None:
        stmt = stmt.where(t.office_id.in_(office_ids))
    rows = session.execute(stmt).all()
    out = {}
    for i, c in enumerate(cols):
        values = [r[i] for r in rows]
        if c == "sums":
            arr = np.empty(len(values), dtype=object)
            arr[:] = [bytes(v) for v in values]
        else:
            arr = np.asarray(values, dtype=np.int64 if c in ("items",) else float)
        out[c] = arr
    return out


def report_layout(part: dict, questions, items: list[int]):
    """The moment rows over the report's element items (columns ``items`` of ``questions``):
    (members (rows, elements), sums (rows, pairs of the report's 2J indicators)); a position
    that is not one of the report's items is left out."""
    n_rows, n_items = part["count"].size, len(items)
    p, q = pairs(n_items)
    index = np.full((2 * n_items, 2 * n_items), -1, dtype=np.int64)
    index[p, q] = np.arange(p.size)
    index[q, p] = np.arange(p.size)
    column_of = {slot: j for j, c in enumerate(items) for slot in questions[c]["slots"]}
    members = np.zeros((n_rows, N_ELEMENTS))
    sums = np.zeros((n_rows, p.size))
    layouts = np.stack([part["questionnaire_id"].astype(np.int64), part["items"]], axis=1)
    if not n_rows:
        return members, sums
    for qn, mask in np.unique(layouts, axis=0).tolist():
        rows = np.flatnonzero((layouts[:, 0] == qn) & (layouts[:, 1] == mask))
        positions = [b for b in range(63) if mask >> b & 1]
        m = len(positions)
        cols = [column_of.get((qn, pos), -1) for pos in positions]
        local = np.array(cols + [c + n_items if c >= 0 else -1 for c in cols], dtype=np.int64)
        lp, lq = pairs(m)
        keep = (local[lp] >= 0) & (local[lq] >= 0)
        raw = np.frombuffer(b"".join(part["sums"][rows]), dtype=SUM_DTYPE)
        raw = raw.reshape(rows.size, N_ELEMENTS + lp.size).astype(float)
        members[rows] = raw[:, :N_ELEMENTS]
        target = index[local[lp[keep]], local[lq[keep]]]
        sums[np.ix_(rows, target)] = raw[:, N_ELEMENTS:][:, keep]
    return members, sums
