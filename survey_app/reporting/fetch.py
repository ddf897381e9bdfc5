"""Reading cell counts into numpy: the rollup's buckets and the live days' GROUP BYs
(counts.py) of a period, read side by side (readers.py), on PostgreSQL packed into bytea values
read with numpy.frombuffer, and added up by key; with ``by_tile``, several periods' buckets at
once, each period's rows then taken apart (:func:`tile_counts`)."""

from __future__ import annotations

from functools import partial

import numpy as np
from sqlalchemy import BigInteger, Double, Integer, and_, case, cast, func, or_, select

from ..models.rollups import (
    INTEGRITIES,
    VALUES,
    RollupAnswer,
    RollupDossier,
    RollupPattern,
    RollupResponse,
)
from .counts import (
    ANSWER_KEYS,
    DOSSIER_KEYS,
    DOSSIER_VALUES,
    MASKS,
    PATTERN_KEYS,
    RESPONSE_KEYS,
    VALUE_COUNTS,
    raw_answers,
    raw_dossiers,
    raw_patterns,
    raw_responses,
)
from .periods import Period
from .readers import read_all
from .weighting import group_rows


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
