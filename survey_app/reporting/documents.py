"""The satisfaction report as documents: the JSON the API, the downloads and the CLI give."""

from __future__ import annotations

from .report import Params, build_report
from .tables import breakdown_rows, report_json, report_text


def satisfaction_document(params: Params, breakdowns: bool = False) -> dict:
    """The satisfaction report JSON (with breakdowns by service and channel when asked)."""
    report = build_report(params)
    document = report_json(report)
    if breakdowns:
        document["breakdowns"] = _breakdowns(report)
    return document


def satisfaction_text(params: Params, breakdowns: bool = False) -> str:
    """:func:`satisfaction_document` as JSON text, written without building its dicts; without
    the per-question estimates unless ``params.questions``."""
    report = build_report(params)
    return report_text(
        report,
        {"breakdowns": _breakdowns(report)} if breakdowns else None,
        questions=params.questions,
    )


def _breakdowns(report) -> dict:
    return {name: breakdown_rows(report, name) for name in ("services", "channels")}
