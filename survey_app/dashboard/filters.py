"""What a dashboard page shows, read from its URL (so a view can be shared and bookmarked): the
period (a month, a quarter, a year or custom dates) and the ranking group."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from flask import request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from ..extensions import db
from ..models import Office, Role
from ..reporting import NOT_GROUPED, Period, local_today

GROUP_ORDER = ("departments", "districts", "communes", NOT_GROUPED)
GROUP_LABELS = {
    "departments": _l("Departments and agencies"),
    "districts": _l("Districts, towns and cities"),
    "communes": _l("Communes, wards and townships"),
    NOT_GROUPED: _l("Offices without a group"),
}
MAX_CUSTOM_DAYS = 3 * 366
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)  # as the report API accepts
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")


def group_label(name: str | None) -> str:
    """A ranking group's name for people (the code itself for a group a province added)."""
    return str(GROUP_LABELS.get(name or NOT_GROUPED, name))


def month_period(year: int, month: int) -> Period:
    """The days of a calendar month."""
    start = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    return Period(start, following - timedelta(days=1))


def period_of(key: str) -> Period | None:
    """The period a key names ('2025-06', '2025-Q2', '2025'), or None if it names none."""
    try:
        if m := _MONTH.match(key):
            return month_period(int(m[1]), int(m[2]))
        if m := _QUARTER.match(key):
            year, quarter = int(m[1]), int(m[2])
            first, last = month_period(year, 3 * quarter - 2), month_period(year, 3 * quarter)
            return Period(first.start, last.end)
        if m := _YEAR.match(key):
            return Period(date(int(m[1]), 1, 1), date(int(m[1]), 12, 31))
    except ValueError:
        return None
    return None


def period_label(key: str, period: Period) -> str:
    """'Tháng 6/2025', 'Quý 2/2025', 'Năm 2025' or the dates of a custom period."""
    if m := _MONTH.match(key):
        return _("Month %(month)d/%(year)s", month=int(m[2]), year=m[1])
    if m := _QUARTER.match(key):
        return _("Quarter %(quarter)s/%(year)s", quarter=m[2], year=m[1])
    if _YEAR.match(key):
        return _("Year %(year)s", year=key)
    return f"{period.start:%d/%m/%Y} – {period.end:%d/%m/%Y}"


def period_choices(today: date) -> list[tuple[str, str]]:
    """The periods offered in the selector: the last 13 months, 8 quarters and 3 years."""
    return [(key, period_label(key, period_of(key))) for key in choice_keys(today)]


def choice_keys(today: date) -> list[str]:
    """The keys of :func:`period_choices`."""
    out = []
    year, month = today.year, today.month
    for _i in range(13):
        out.append(f"{year}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    quarter = (today.month - 1) // 3 + 1
    year = today.year
    for _i in range(8):
        out.append(f"{year}-Q{quarter}")
        year, quarter = (year, quarter - 1) if quarter > 1 else (year - 1, 4)
    return out + [str(today.year - k) for k in range(3)]


def ended_choice_keys(today: date) -> list[str]:
    """The keys of the selector's periods that have ended (what `warm-reports` stores the
    office pages of, as an official who sees every office gets them)."""
    return [key for key in choice_keys(today) if period_of(key).end < today]


def default_period_key(today: date) -> str:
    """The last complete month."""
    first = today.replace(day=1) - timedelta(days=1)
    return f"{first.year}-{first.month:02d}"


def ended_period_keys(today: date) -> list[str]:
    """The last complete month, quarter and year (what `warm-reports` stores each office
    manager's page of)."""
    quarter = (today.month - 1) // 3  # quarters of this year that have ended
    last_quarter = f"{today.year}-Q{quarter}" if quarter else f"{today.year - 1}-Q4"
    return [default_period_key(today), last_quarter, str(today.year - 1)]


@dataclass
class Filters:
    """A page's period and ranking group, with what was wrong in the URL (shown, never a 500)."""

    key: str
    period: Period
    group: str
    groups: list[str]
    errors: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """The period for people."""
        return period_label(self.key, self.period)

    @property
    def group_label(self) -> str:
        """The ranking group for people."""
        return group_label(self.group)

    def args(self, **extra) -> dict:
        """The URL query that gives this view back (plus ``extra``)."""
        out = {"period": self.key, "group": self.group}
        if self.key == "custom":
            out.update({"from": self.period.start.isoformat(), "to": self.period.end.isoformat()})
        out.update({k: v for k, v in extra.items() if v is not None})
        return out

    @property
    def slug(self) -> str:
        """Period and group for a file name."""
        return f"{self.group}_{self.period.start.isoformat()}_{self.period.end.isoformat()}"


def groups_in_scope(scope: set[int] | None) -> list[str]:
    """The ranking groups of the offices an official may see, in the usual order."""
    query = select(Office.group).distinct()
    if scope is not None:
        query = query.where(Office.id.in_(scope))
    found = {str(g) if g else NOT_GROUPED for g in db.session.scalars(query)}
    return sorted(found, key=lambda g: (GROUP_ORDER.index(g) if g in GROUP_ORDER else 99, g))


def read_filters(scope: set[int] | None, group_hint: str | None = None) -> Filters:
    """The period and group of the request's URL; bad values are reported and replaced by the
    defaults."""
    today, errors = local_today(), []
    key = request.args.get("period") or default_period_key(today)
    period = None
    if key == "custom":
        try:
            start = date.fromisoformat(request.args.get("from", ""))
            end = date.fromisoformat(request.args.get("to", ""))
            period = Period(start, end) if start <= end else None
            if period is None:
                errors.append(_("The end date must be on or after the start date."))
            elif start < FIRST_DAY or end > LAST_DAY:
                errors.append(_("Enter dates between 2000 and 2099."))
                period = None
            elif period.days > MAX_CUSTOM_DAYS:
                errors.append(_("A custom period can be at most three years long."))
                period = None
        except ValueError:
            errors.append(_("Enter the start and end dates as dates, for example 2025-06-30."))
    else:
        period = period_of(key)
        if period is not None and (period.start < FIRST_DAY or period.end > LAST_DAY):
            period = None
        if period is None:
            errors.append(_("The period was not recognised; the last complete month is shown."))
    if period is None:
        key = default_period_key(today)
        period = period_of(key)
    groups = groups_in_scope(scope)
    group = request.args.get("group") or group_hint
    if group and group not in groups:
        errors.append(_("That ranking group has no office you can see; another is shown."))
        group = None
    if not group:
        group = groups[0] if groups else GROUP_ORDER[0]
    return Filters(key, period, group, groups, errors)


def scope_label(scoped: bool) -> str:
    """Whose offices a page shows: all, or the official's office and those under it."""
    if scoped and current_user.office is not None:
        return _("%(office)s and the offices under it", office=current_user.office.name)
    return _("all offices")


def own_group() -> str | None:
    """An office manager's own office's group, the page's default."""
    if current_user.role == Role.OFFICE_MANAGER and current_user.office is not None:
        group = current_user.office.group
        return str(group) if group else NOT_GROUPED
    return None
