"""The one bridge from the database to `analysis`: SQL GROUP BY into cell counts, weights,
estimates, and the daily rollup that keeps a year's report fast.

    from survey_app.reporting import Params, Period, build_report
    report = build_report(Params(Period(date(2025, 1, 1), date(2025, 12, 31)), group="districts"))

periods.py (local dates ↔ UTC), counts.py (the GROUP BYs), rollup.py (the daily rollup),
weighting.py (base weights, post-stratification, the design), catalogue.py (the report's
offices, questions and service groups), report.py, indices.py (answer patterns → indices),
year_moments.py (a year's moments) and estimates.py (analysis calls),
tables.py (rows for the API and the exports), documents.py (the report's JSON documents),
kept.py (ended periods' reports kept while their rollup and catalogue are unchanged).
It imports no web, API or CLI module: those call it (survey_app/api/reports.py,
survey_app/reports_web.py, survey_app/exports.py, survey_app/report_commands.py), and the app
factory registers them.
"""

from __future__ import annotations

from .catalogue import NOT_GROUPED
from .periods import Period, local_today
from .report import Params, Report, build_report

__all__ = ["NOT_GROUPED", "Params", "Period", "Report", "build_report", "local_today"]
