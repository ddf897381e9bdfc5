"""The one bridge from the database to `analysis`: SQL GROUP BY into cell counts, weights,
estimates, and the daily rollup that keeps a year's report fast.

    from survey_app.reporting import Params, Period, build_report
    report = build_report(Params(Period(date(2025, 1, 1), date(2025, 12, 31)), group="districts"))

periods.py (local dates ↔ UTC), counts.py (the GROUP BYs), rollup.py (the daily rollup),
weighting.py (base weights, post-stratification), report.py and estimates.py (analysis calls),
tables.py (rows for the API and the exports), commands.py (`flask mscore report`,
`rebuild-rollup`, `update-rollup`).
"""

from __future__ import annotations

from flask import Flask

from .periods import Period, local_today
from .report import NOT_GROUPED, Params, Report, build_report

__all__ = ["NOT_GROUPED", "Params", "Period", "Report", "build_report", "init_app", "local_today"]


def init_app(app: Flask) -> None:
    """Register the rollup's staleness listener, the report commands, the downloads and the
    API's OpenAPI document and docs page (outside /api/v1)."""
    from .. import reports_web
    from ..api.openapi import docs_bp
    from . import commands
    from .rollup import mark_stale_on_flush

    mark_stale_on_flush()
    commands.register()
    app.register_blueprint(reports_web.bp)
    app.register_blueprint(docs_bp)
