"""What disclosure control (disclosure.py) reads of the report over a whole ranking group: its
offices and groups, each office's responses, and per measure the fields that compare an office
with its group (value, n, reliability, tier, ranks, group size, previous rank, empirical-Bayes
estimate) and the group's benchmark. A process that keeps that report reads it; one that does
not (a new web worker) reads these arrays, kept and stored as a binary text under a key of the
report's tag, instead of computing the report: a commune group's month with the previous one
and every question takes 1-1.5 s to compute at national scale.

The text (:func:`dump`) is a head and the offices' rows. The head (NumPy's ``.npz``, no
pickles) holds what the gates count over every office: the offices and groups, each office's
responses, per measure and kind of comparison which offices take part in it
(:func:`taking_part`, packed bits), and the groups' fields. The rows hold each office's fields,
one office after another. A caller limited to a few offices reads the head and its own rows
(:func:`stored_part`: three slices of the stored text, 0.14 MB of a commune group's 10.4 MB,
5 ms against 0.1 s to read and load it whole); a caller with many offices reads the whole text.
"""

from __future__ import annotations

import hashlib
import io
import struct
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import orjson

from .kept import kept_report, kept_text, peek_report, tag
from .report import Params, Report
from .tables import RANK_FIELDS
from .text_store import ensure_stored, stored_slices

#: Fields of an office's estimate that disclosure control compares or gates on.
OFFICE_FIELDS = ("value", "n", "reliable", "tier", *RANK_FIELDS, "previous_rank")
OFFICE_FIELDS += ("eb_value", "eb_low", "eb_high", "shrinkage")
GROUP_FIELDS = ("value", "low", "high")  # a group's benchmark


def group_params(params: Params) -> Params:
    """The parameters of the report over the whole ranking group (every office, no scope) that a
    scoped document's comparisons come from."""
    return replace(params, visible=None, universe=None, scope=None, breakdowns=False)


def group_report(params: Params) -> Report | SimpleNamespace:
    """The report over ``params``' whole group where this process keeps it (with or without its
    breakdowns; what disclosure control reads of it is then stored, once, for the other
    processes), else what disclosure control reads of it for ``params.scope``: from the
    database's store (:func:`stored_part`), else from this process's memory, or computed (and
    the report kept) and stored."""
    whole = group_params(params)
    stored_key = arrays_key(params)
    report = _peek(whole)
    if report is not None:
        if stored_key is not None:  # for the processes that do not keep it
            ensure_stored(stored_key, lambda: dump(report))
        return report
    if stored_key is None:
        return kept_report(whole)
    part = stored_part(stored_key, params.scope)
    if part is not None:
        return part
    return load(kept_text(stored_key, lambda: dump(kept_report(whole))))


def store_arrays(params: Params) -> None:
    """Store what disclosure control reads of ``params``' group report unless it is stored
    (``warm-reports``, after the group's pages: any scoped official's first view of the period,
    in any process, then reads it instead of computing the group's report; a commune group's
    year takes 20 s at 10 M responses): from the report this process keeps, else computed."""
    key = arrays_key(params)
    if key is not None:
        whole = group_params(params)
        ensure_stored(key, lambda: dump(_peek(whole) or kept_report(whole)))


def _peek(whole: Params) -> Report | None:
    """The group's report where this process keeps it: an official's page keeps the same
    report computed with its breakdowns, the same figures."""
    for kept in (whole, replace(whole, breakdowns=True)):
        report = peek_report(kept)
        if report is not None:
            return report
    return None


def arrays_key(params: Params) -> str | None:
    """The store's key of what disclosure control reads of ``params``' group report (None: a
    running period, computed and never stored)."""
    key = tag(group_params(params), False)
    return None if key is None else _digest(f"comparisons rows {key}")  # the rows format


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:40]


#: Kinds of taking part in a comparison (disclosure.py's gates): ranked, ranked in the previous
#: period, reliable with a value (the tier's group mean), answered (the benchmark's band and
#: the empirical-Bayes estimate).
TAKING_PART = ("rank", "previous_rank", "tier", "answered")
#: A caller with more offices than this in the group reads the whole text, not its rows.
MAX_ROWS = 64
_PREFIX = struct.Struct("<Q")  # the head's length


def taking_part(block: dict | None, kind: str, n_offices: int) -> np.ndarray:
    """Per office of a group's report: whether it takes part in a kind of comparison of a
    measure (``block``: the measure's office fields; :data:`TAKING_PART`)."""
    block = block or {}
    none = np.zeros(n_offices, dtype=bool)
    if kind in ("rank", "previous_rank"):  # ranked: a rank that is not NaN
        return _present(block.get(kind), none)
    if "value" not in block:
        return none
    if kind == "tier":  # the group mean is over reliable offices
        return np.asarray(block["reliable"], dtype=bool) & _present(block["value"], none)
    return (np.asarray(block["n"]) > 0) & _present(block["value"], none)  # answered


def _present(values, none: np.ndarray) -> np.ndarray:
    """Where an array holds a number (not NaN); ``none`` when there is no such array."""
    if values is None:
        return none
    return ~np.isnan(np.asarray(values, dtype=float))


def dump(report: Report) -> bytes:
    """What disclosure control reads of ``report``: the head's length, the head (``.npz``) and
    the offices' rows, each office's fields of a kind of value one after another (a stack's
    office is one slice)."""
    n_offices = len(report.offices)
    stacks: dict[str, list] = {}  # "office f" (floats of office blocks), "group f", ...
    names = []
    for kind, blocks, fields in (
        ("office", report.office_blocks, OFFICE_FIELDS),
        ("group", report.group_blocks, GROUP_FIELDS),
    ):
        for measure, block in blocks.items():
            for field in fields:
                if field in block:
                    values = np.asarray(block[field])
                    if values.dtype.hasobject:  # rows are the arrays' bytes: never pointers
                        raise TypeError(f"{measure} {field}: an object array")
                    stack = f"{kind} {values.dtype.kind}"
                    stacks.setdefault(stack, []).append(values)
                    names.append((kind, measure, field, stack, len(stacks[stack]) - 1))
    rows, layout, at = [], [], 0
    for stack, columns in stacks.items():
        if stack.startswith("office"):
            table = np.ascontiguousarray(np.stack(columns, axis=1))  # offices × fields
            layout.append([stack, table.dtype.str, table.shape[1], at])
            rows.append(table.tobytes())
            at += table.nbytes
    masks = [
        (measure, kind) for measure, block in report.office_blocks.items() for kind in TAKING_PART
    ]
    meta = {
        "groups": report.groups,
        "overall_question": report.current.overall_question,
        "arrays": names,
        "rows": layout,
        "masks": masks,
    }
    taking = [taking_part(report.office_blocks[m], k, n_offices) for m, k in masks]
    buffer = io.BytesIO()
    np.savez(
        buffer,
        meta=np.frombuffer(orjson.dumps(meta), dtype=np.uint8),
        ids=np.array([o["id"] for o in report.offices], dtype=np.int64),
        group_of=np.array([report.groups.index(o["group"]) for o in report.offices], np.int64),
        responses=np.asarray(report.current.stats["responses"]),
        masks=np.packbits(np.array(taking, dtype=bool).reshape(len(masks), n_offices), axis=1),
        **{s.replace(" ", "_"): np.stack(c) for s, c in stacks.items() if s.startswith("group")},
    )
    head = buffer.getvalue()
    return _PREFIX.pack(len(head)) + head + b"".join(rows)


def load(body: bytes) -> SimpleNamespace:
    """What :func:`dump` wrote, in the report's shape, every office's rows."""
    (length,) = _PREFIX.unpack_from(body)
    head, rows_at = _head(body[_PREFIX.size : _PREFIX.size + length]), _PREFIX.size + length
    n = len(head.offices)
    tables = {}
    for stack, dtype, width, at in head.meta["rows"]:
        count = n * width
        tables[stack] = np.frombuffer(body, dtype, count, rows_at + at).reshape(n, width)
    return _namespace(head, lambda stack, column: tables[stack][:, column])


def stored_part(key: str, scope: frozenset[int] | None) -> SimpleNamespace | None:
    """What disclosure control reads of the group's report stored under ``key`` for a caller
    limited to ``scope``: the head and the rows of its offices in the group (three slices of
    the stored text); None where nothing is stored, or for more than :data:`MAX_ROWS` of them
    (:func:`group_report` then reads the whole text, which this process keeps)."""
    prefix = stored_slices(key, [(0, _PREFIX.size)])
    if prefix is None:
        return None
    (length,) = _PREFIX.unpack(prefix[0])
    (head_bytes,) = stored_slices(key, [(_PREFIX.size, length)]) or [None]
    if head_bytes is None:  # deleted meanwhile
        return None
    head = _head(head_bytes)
    row_of = {o["id"]: i for i, o in enumerate(head.offices)}
    wanted = sorted(row_of[i] for i in scope or () if i in row_of)
    if len(wanted) > MAX_ROWS:  # the whole text, kept in this process's memory (kept_text)
        return None
    rows_at = _PREFIX.size + length
    spans, where = [], []
    for stack, dtype, width, at in head.meta["rows"]:
        size = np.dtype(dtype).itemsize * width
        for row in wanted:
            where.append((stack, dtype, row))
            spans.append((rows_at + at + row * size, size))
    parts = stored_slices(key, spans) if spans else []
    if parts is None:
        return None
    values: dict[str, dict[int, np.ndarray]] = {}
    for (stack, dtype, row), part in zip(where, parts, strict=True):
        values.setdefault(stack, {})[row] = np.frombuffer(part, dtype)
    return _namespace(
        head, lambda stack, column: {r: v[column] for r, v in values.get(stack, {}).items()}
    )


def _head(body: bytes) -> SimpleNamespace:
    """The head :func:`dump` wrote: its meta, offices (id and group), responses, masks by
    (measure, kind) and the groups' stacks."""
    with np.load(io.BytesIO(body), allow_pickle=False) as data:
        meta = orjson.loads(data["meta"].tobytes())
        ids, group_of = data["ids"].tolist(), data["group_of"].tolist()
        responses = data["responses"]
        bits = data["masks"]
        group_stacks = {
            name.replace("_", " "): data[name] for name in data.files if name.startswith("group_")
        }
    groups = meta["groups"]
    taking = np.unpackbits(bits, axis=1, count=len(ids)).astype(bool)
    return SimpleNamespace(
        meta=meta,
        offices=[{"id": i, "group": groups[g]} for i, g in zip(ids, group_of, strict=True)],
        responses=responses,
        masks={(m, k): taking[i] for i, (m, k) in enumerate(meta["masks"])},
        group_stacks=group_stacks,
    )


def _namespace(head: SimpleNamespace, office_column) -> SimpleNamespace:
    """The report's shape: ``offices`` (id and group), ``groups``, ``current`` (responses and
    the overall question), ``office_blocks`` (each field's values by office row: every row, or
    the caller's), ``group_blocks`` and ``masks`` (who takes part in each comparison)."""
    meta = head.meta
    blocks: dict[str, dict] = {"office": {}, "group": {}}
    for kind, measure, field, stack, column in meta["arrays"]:
        if kind == "office":
            value = office_column(stack, column)
        else:
            value = head.group_stacks[stack][column]
        blocks[kind].setdefault(measure, {})[field] = value
    return SimpleNamespace(
        offices=head.offices,
        groups=meta["groups"],
        current=SimpleNamespace(
            stats={"responses": head.responses}, overall_question=meta["overall_question"]
        ),
        office_blocks=blocks["office"],
        group_blocks=blocks["group"],
        masks=head.masks,
    )
