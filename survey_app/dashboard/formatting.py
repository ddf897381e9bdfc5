"""Numbers as people read them in the page's language (76,4% in Vietnamese, 76.4% in English),
and the other template helpers of the officials' pages."""

from __future__ import annotations

import math
from numbers import Real

from flask import Flask
from flask_babel import format_decimal, format_percent

from ..reporting import local_today
from .filters import group_label, period_choices
from .pages import TIER_LABELS


def _missing(value) -> bool:
    """No number to show: None, a field the document does not carry (withheld from a scoped
    caller, so Jinja's Undefined), or NaN."""
    return not isinstance(value, Real) or isinstance(value, bool) or math.isnan(value)


def pct(value) -> str:
    """A share as a percentage with one decimal."""
    return "–" if _missing(value) else format_percent(value, "#,##0.0%")


def points(value) -> str:
    """A change of a share, in percentage points with a sign."""
    return "–" if _missing(value) else format_decimal(100 * value, "+#,##0.0;-#,##0.0") + " pp"


def number(value) -> str:
    """A count."""
    return "–" if _missing(value) else format_decimal(value, "#,##0")


def decimal1(value) -> str:
    """A number with one decimal."""
    return "–" if _missing(value) else format_decimal(value, "#,##0.0")


def decimal2(value) -> str:
    """A number with two decimals (PAR points)."""
    return "–" if _missing(value) else format_decimal(value, "#,##0.00")


def tier_label(tier) -> str:
    """A tier for people."""
    return str(TIER_LABELS.get(tier or "unreliable", tier))


def init_app(app: Flask) -> None:
    """Register the filters and helpers in Jinja."""
    for f in (pct, points, number, decimal1, decimal2):
        app.jinja_env.filters[f.__name__] = f
    app.jinja_env.globals.update(
        group_label=group_label,
        tier_label=tier_label,
        period_choices=lambda: period_choices(local_today()),
    )
