"""What disclosure control (disclosure.py) reads of the report over a whole ranking group: its
offices and groups, each office's responses, and per measure the fields that compare an office
with its group (value, n, reliability, tier, ranks, group size, previous rank, empirical-Bayes
estimate) and the group's benchmark. A process that keeps that report reads it; one that does
not (a new web worker) reads these arrays, kept and stored as a binary text (NumPy's ``.npz``,
no pickles) under a key of the report's tag, instead of computing the report: a commune group's
month with the previous one and every question takes 1-1.5 s to compute at national scale; its
arrays (10.4 MB) are read from the store in about 0.1 s and loaded in 10 ms.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import orjson

from .kept import kept_report, kept_text, peek_report, tag
from .report import Params, Report
from .tables import RANK_FIELDS
from .text_store import ensure_stored

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
    processes), else what disclosure control reads of it (:func:`dump`), from this process's
    memory, the database's store, or computed (and the report kept) and stored."""
    whole = group_params(params)
    stored_key = arrays_key(params)
    report = _peek(whole)
    if report is not None:
        if stored_key is not None:  # for the processes that do not keep it
            ensure_stored(stored_key, lambda: dump(report))
        return report
    if stored_key is None:
        return kept_report(whole)
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
    return None if key is None else _digest(f"comparisons {key}")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def dump(report: Report) -> bytes:
    """The arrays disclosure control reads of ``report``, as ``.npz`` bytes: the office blocks'
    and the group blocks' fields stacked by kind of value (a few members, read at once, instead
    of one member per field)."""
    rows: dict[str, list] = {}  # "office f" (floats of office blocks), "group f", ...
    names = []
    for kind, blocks, fields in (
        ("office", report.office_blocks, OFFICE_FIELDS),
        ("group", report.group_blocks, GROUP_FIELDS),
    ):
        for measure, block in blocks.items():
            for field in fields:
                if field in block:
                    values = np.asarray(block[field])
                    stack = f"{kind} {values.dtype.kind}"
                    rows.setdefault(stack, []).append(values)
                    names.append((kind, measure, field, stack, len(rows[stack]) - 1))
    meta = {
        "offices": [[o["id"], o["group"]] for o in report.offices],
        "groups": report.groups,
        "overall_question": report.current.overall_question,
        "arrays": names,
        "stacks": list(rows),
    }
    arrays = {f"s{i}": np.stack(rows[stack]) for i, stack in enumerate(rows)}
    buffer = io.BytesIO()
    np.savez(
        buffer,
        meta=np.frombuffer(orjson.dumps(meta), dtype=np.uint8),
        responses=np.asarray(report.current.stats["responses"]),
        **arrays,
    )
    return buffer.getvalue()


def load(body: bytes) -> SimpleNamespace:
    """What :func:`dump` wrote, in the report's shape: ``offices`` (id and group), ``groups``,
    ``current`` (responses and the overall question), ``office_blocks`` and ``group_blocks``."""
    blocks: dict[str, dict] = {"office": {}, "group": {}}
    with np.load(io.BytesIO(body), allow_pickle=False) as data:
        meta = orjson.loads(data["meta"].tobytes())
        stacks = {stack: data[f"s{i}"] for i, stack in enumerate(meta["stacks"])}
        responses = data["responses"]
    for kind, measure, field, stack, row in meta["arrays"]:
        blocks[kind].setdefault(measure, {})[field] = stacks[stack][row]
    return SimpleNamespace(
        offices=[{"id": office_id, "group": group} for office_id, group in meta["offices"]],
        groups=meta["groups"],
        current=SimpleNamespace(
            stats={"responses": responses}, overall_question=meta["overall_question"]
        ),
        office_blocks=blocks["office"],
        group_blocks=blocks["group"],
    )
