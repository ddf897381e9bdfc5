"""A scoped official's trend: each month's entries of its own offices, computed over them alone,
and its groups' benchmarks under disclosure control (disclosure.py), read from the group's
month that officials who see every office keep and store (dashboard/data.py), instead of the
group's report: a commune's manager would otherwise compute its group's twelve reports of 3,347
offices on a first view."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from flask import g

from .catalogue import universe_ids
from .comparisons import group_report
from .disclosure import BENCHMARK_BAND, group_gates, own_report
from .report import Params
from .source import report_session
from .tables import trend_json


def scoped_trend(params: Params, month: dict) -> dict:
    """What a trend reads of :func:`disclosure.scoped_document` for an ended period: the office
    entries of :func:`tables.trend_json` (names, responses, index) computed over the caller's
    offices alone, and its groups' benchmarks under the same rules, read from ``month``, the
    trend entries of the report over the whole group (``trend_json`` of the report of
    ``comparisons.group_params``, with each index's value, interval and ``n``) instead of that
    report."""
    scope, _visible, own = own_report(params)
    document = trend_json(own)
    offices = _universe_ids(params)
    if [o["code"] for o in offices] == [e["code"] for e in month["offices"]]:
        for office, entry in zip(offices, month["offices"], strict=True):
            office["group"] = entry["group"]
        full = _group_month(month, offices)
    else:  # the catalogue changed since the month was written
        full = group_report(params)
    gates = group_gates(params, full, scope)
    groups = sorted({entry["group"] for entry in document["offices"]})
    document["groups"] = [gates.benchmark(name) for name in groups]
    return document


def _universe_ids(params: Params) -> list[dict]:
    """:func:`catalogue.universe_ids` of the group, read once per request (a trend's twelve
    months: 20 ms each for a commune group)."""
    read = g.setdefault("disclosure_universe_ids", {})
    session = report_session([params.period])
    key = (str(session.get_bind().url), params.group)
    if key not in read:
        read[key] = universe_ids(session, params.group)
    return [dict(office) for office in read[key]]


def _group_month(month: dict, offices: list[dict]) -> SimpleNamespace:
    """What disclosure's gates read of the report over a whole group for an office's index and
    its group's benchmark (offices, groups, responses, the index's blocks), from that report's
    trend entries (``month``; ``offices``: its offices' ids, codes and groups, in its order)."""

    def column(entries: list[dict], key: str) -> np.ndarray:
        values = [(entry.get("index") or {}).get(key) for entry in entries]
        return np.array([np.nan if v is None else v for v in values], dtype=float)

    entries, groups = month["offices"], month["groups"]
    return SimpleNamespace(
        offices=offices,
        groups=[entry["group"] for entry in groups],
        current=SimpleNamespace(
            stats={"responses": np.array([e["responses"] for e in entries], dtype=np.int64)},
            overall_question=None,
        ),
        office_blocks={"index": {"value": column(entries, "value"), "n": column(entries, "n")}},
        group_blocks={"index": {key: column(groups, key) for key in BENCHMARK_BAND}},
    )
