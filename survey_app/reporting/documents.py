"""The satisfaction report as documents: the JSON the API, the downloads and the CLI give.

A caller limited to some offices (``Params.scope`` set) gets its offices only, with the
comparisons with its group under disclosure control (disclosure.py); every format is made from
these documents, so each inherits it.
"""

from __future__ import annotations

import orjson

from .disclosure import scoped_document
from .kept import kept_report
from .report import Params
from .tables import breakdown_rows, report_json, trend_json
from .text import report_text


def satisfaction_document(params: Params, breakdowns: bool = False) -> dict:
    """The satisfaction report JSON (with breakdowns by service and channel when asked)."""
    if params.scope is not None:
        return scoped_document(params, breakdowns)
    report = kept_report(params)
    document = report_json(report)
    if breakdowns:
        document["breakdowns"] = _breakdowns(report)
    return document


def trend_document(params: Params) -> dict:
    """What the officials' trends read of :func:`satisfaction_document`: every office's and
    group's entry with its name, responses and index (more where the document is scoped).
    Without a scope the rest of the document is not written (a commune group's month at
    national scale: 0.3 s of JSON, of which a trend reads a few numbers per office)."""
    if params.scope is not None:
        return satisfaction_document(params)
    return trend_json(kept_report(params))


def satisfaction_text(params: Params, breakdowns: bool = False) -> bytes:
    """:func:`satisfaction_document` as UTF-8 JSON text, written without building its dicts; without
    the per-question estimates unless ``params.questions``."""
    if params.scope is not None:  # a few offices: the dicts are small
        document = scoped_document(params, breakdowns)
        if not params.questions:
            for entry in document["offices"]:
                entry.pop("questions", None)
        return orjson.dumps(document)
    report = kept_report(params)
    return report_text(
        report,
        {"breakdowns": _breakdowns(report)} if breakdowns else None,
        questions=params.questions,
    )


def _breakdowns(report) -> dict:
    return {name: breakdown_rows(report, name) for name in ("services", "channels")}
