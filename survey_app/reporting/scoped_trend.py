"""A scoped official's trend: each month's entries of its own offices, computed over them alone,
and its groups' benchmarks under disclosure control (disclosure.py), read from the columns of
the group's month that officials who see every office keep and store (dashboard/data.py),
instead of the group's report: a commune's manager would otherwise compute its group's twelve
reports of 3,347 offices on a first view."""

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


def month_columns(month: dict) -> dict:
    """What :func:`scoped_trend` reads of ``month``, the trend entries of the report over a whole
    group (``trend_json`` of the report of ``comparisons.group_params``, with each index's value,
    interval and ``n``), column by column: each office's code, group, responses, index and
    ``n``, and each group's name and index band. A commune group's month at national scale is
    0.68 MB of JSON, parsed in about 11 ms; these columns are about a fifth of it."""

    def index(entries: list[dict], key: str) -> list:
        return [(entry.get("index") or {}).get(key) for entry in entries]

    offices, groups = month["offices"], month["groups"]
    return {
        "code": [entry["code"] for entry in offices],
        "group": [entry["group"] for entry in offices],
        "responses": [entry["responses"] for entry in offices],
        "value": index(offices, "value"),
        "n": index(offices, "n"),
        "groups": [entry["group"] for entry in groups],
        "band": {key: index(groups, key) for key in BENCHMARK_BAND},
    }


def scoped_trend(params: Params, columns: dict) -> dict:
    """What a trend reads of :func:`disclosure.scoped_document` for an ended period: the office
    entries of :func:`tables.trend_json` (names, responses, index) computed over the caller's
    offices alone, and its groups' benchmarks under the same rules, read from ``columns``
    (:func:`month_columns` of the group's month) instead of the group's report."""
    scope, _visible, own = own_report(params)
    document = trend_json(own)
    offices = _universe_ids(params)
    if [o["code"] for o in offices] == columns["code"]:
        for office, group in zip(offices, columns["group"], strict=True):
            office["group"] = group
        full = _group_month(columns, offices)
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


def _group_month(columns: dict, offices: list[dict]) -> SimpleNamespace:
    """What disclosure's gates read of the report over a whole group for an office's index and
    its group's benchmark (offices, groups, responses, the index's blocks), from the columns of
    that report's trend entries (:func:`month_columns`; ``offices``: its offices' ids, codes and
    groups, in its order)."""

    def column(values: list) -> np.ndarray:
        return np.array([np.nan if v is None else v for v in values], dtype=float)

    band = columns["band"]
    return SimpleNamespace(
        offices=offices,
        groups=list(columns["groups"]),
        current=SimpleNamespace(
            stats={"responses": np.array(columns["responses"], dtype=np.int64)},
            overall_question=None,
        ),
        office_blocks={"index": {"value": column(columns["value"]), "n": column(columns["n"])}},
        group_blocks={"index": {key: column(band[key]) for key in BENCHMARK_BAND}},
    )
