"""The report documents behind the officials' pages, for the signed-in official's scope.

The scope is resolved as the API resolves it (`api.reports.authenticate` / `report_params`,
`visible=`), so a page shows what the API would give the same official, and the report's own
rules (disclosure control of small groups included) apply to every figure.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import orjson
from flask import current_app
from flask_babel import gettext as _
from marshmallow import ValidationError

from ..api.report_schemas import SatisfactionQueryIn
from ..api.reports import REPORTS_READ, QueryError, authenticate, report_params
from ..errors import friendly_abort
from ..reporting import Period, local_today
from ..reporting.comparisons import group_params
from ..reporting.disclosure import own_params
from ..reporting.documents import satisfaction_document, trend_document
from ..reporting.kept import Kept, keep_reports, kept_document, one_commit, tag
from ..reporting.once import made_once
from ..reporting.periods import zone
from ..reporting.scoped_trend import month_columns, scoped_trend
from ..reporting.text_store import (
    document_key,
    store_documents,
    stored_keys,
)
from .filters import Filters, month_period

QUIET_DAYS = 14  # an office with no response for this long is highlighted
_cache = Kept()  # report tag, or (params, breakdowns, "live", day) -> document


def _keep(key, document: dict, size: int) -> None:
    """Keep a document in this process's cache, counted by the length of its JSON text, within
    DASHBOARD_CACHE_MB (default 128) of text: parsed, a document takes about 3.2 times its
    text (a commune group's 33 MB text, 105 MB; measured), so about 400 MB a process."""
    limit = int(float(current_app.config.get("DASHBOARD_CACHE_MB", 128)) * 1_000_000)
    _cache.put(key, document, limit, weight=max(size, 1))


def clear_cache() -> None:
    """Forget every cached document (this process's)."""
    _cache.clear()


def official_scope() -> set[int] | None:
    """The office ids the signed-in official may see (None: all)."""
    try:
        return authenticate(REPORTS_READ)
    except QueryError:
        friendly_abort(403, _("You are not allowed to see these reports."))


def _query(period: Period, group: str | None, office: str | None = None, **extra) -> dict:
    values = {"from": period.start.isoformat(), "to": period.end.isoformat()}
    if group:
        values["group"] = group
    if office:
        values["office"] = office
    values.update({k: v for k, v in extra.items() if v is not None})
    return SatisfactionQueryIn().load(values)


def document(
    scope: set[int] | None,
    period: Period,
    group: str | None,
    *,
    office: str | None = None,
    compare: bool = False,
    questions: bool = False,
    breakdowns: bool = False,
    part: str | None = None,
    trend: bool = False,
) -> dict:
    """The satisfaction report of a period and group, within the scope (one office's subtree
    with ``office``); with ``part`` (an office's code), only what that office's page reads of
    it (:func:`office_part`); with ``trend``, only what a trend reads of it
    (:func:`trend_part`)."""
    params = _params(scope, period, group, office, compare, questions, breakdowns)
    past = _past_trend(params, office) if trend else _past_document(params, breakdowns, part)
    if past is not None:
        return past
    if trend:
        return trend_part(_live_document(params, False) or trend_document(params))
    doc = _live_document(params, breakdowns) or satisfaction_document(params, breakdowns)
    return doc if part is None else office_part(doc, part)


def _params(scope, period, group, office=None, compare=False, questions=False, breakdowns=False):
    """The report's parameters of a :func:`document`, as the API resolves them; within a page's
    documents (once.made_once), once (a page resolves its office's subtree for each of its
    thirteen months)."""
    made = made_once("params")
    key = (None if scope is None else frozenset(scope), period, group, office)
    key += (compare, questions, breakdowns)
    if made is None:
        return _resolve(*key)
    if key not in made:
        made[key] = _resolve(*key)
    return made[key]


def _resolve(scope, period, group, office, compare, questions, breakdowns):
    try:
        query = _query(period, group, office, compare="previous" if compare else None)
    except ValidationError:
        friendly_abort(400, _("This period or group cannot be reported on."))
    try:
        return report_params(query, scope, breakdowns=breakdowns, questions=questions)
    except QueryError:
        friendly_abort(403, _("This office is outside what your account may see."))


def office_parts(doc: dict) -> dict[str, dict]:
    """:func:`office_part` of every office of the document, by code, in one pass over it."""
    rest = {k: v for k, v in doc.items() if k not in ("offices", "breakdowns")}
    entries: dict[str, list] = {}
    for entry in doc.get("offices") or []:
        entries.setdefault(entry.get("code"), []).append(entry)
    rows: dict[str, dict[str, list]] = {}
    names = list(doc["breakdowns"]) if "breakdowns" in doc else []
    for name in names:
        for row in doc["breakdowns"][name] or []:
            rows.setdefault(row.get("office_code"), {}).setdefault(name, []).append(row)
    parts = {}
    for code, own in entries.items():
        parts[code] = {**rest, "offices": own}
        if "breakdowns" in doc:
            parts[code]["breakdowns"] = {n: rows.get(code, {}).get(n, []) for n in names}
    return parts


def office_part(doc: dict, code: str) -> dict:
    """What an office's page reads of its group's document: all of it but the other offices'
    entries and breakdown rows (a group of a country's 3,321 communes is a 31 MB document, the
    office's part of it 20 KB)."""
    part = {k: v for k, v in doc.items() if k not in ("offices", "breakdowns")}
    part["offices"] = [e for e in doc.get("offices") or [] if e.get("code") == code]
    if "breakdowns" in doc:
        part["breakdowns"] = {
            name: [r for r in rows or [] if r.get("office_code") == code]
            for name, rows in doc["breakdowns"].items()
        }
    return part


def _live_document(params, breakdowns: bool) -> dict | None:
    """A document of a period that includes today, from this process's cache for at most
    DASHBOARD_LIVE_SECONDS (default 60; 0: always computed), with ``as_of``, when it was
    computed (local time, shown on the page): a page viewed again a moment later does not
    compute the whole report again for the few answers that came in meanwhile (a page's
    downloads show the page's figures). The report API is always computed afresh."""
    if params.period.end < local_today():
        return None
    seconds = float(current_app.config.get("DASHBOARD_LIVE_SECONDS", 60))
    key = (params, breakdowns, "live", local_today())
    hit = _cache.get(key, seconds) if seconds > 0 else None
    if hit is not None:
        return hit
    as_of = datetime.now(zone()).strftime("%H:%M")
    doc = {**satisfaction_document(params, breakdowns), "as_of": as_of}
    if seconds > 0:
        _keep(key, doc, len(orjson.dumps(doc)))
    return doc


def _seconds() -> float:
    return float(current_app.config.get("DASHBOARD_CACHE_SECONDS", 600))


def _kept(key: str, seconds: float, compute) -> dict:
    """The document of ``key`` from this process's cache, else from the database's store, else
    ``compute()``'s, stored (kept.py) and kept."""
    hit = _cache.get(key, seconds)
    if hit is None:
        hit, size = kept_document(key, compute)
        _keep(key, hit, size)
    return hit


def _past_document(params, breakdowns: bool, part: str | None = None) -> dict | None:
    """A document of a period that has ended, from this process's cache while the rollup rows
    and the catalogue it was computed from are unchanged (its key is the report's tag,
    reporting/kept.py: a late answer marks its day stale, the rollup redoes it with a new time,
    which is a new tag) and for at most DASHBOARD_CACHE_SECONDS, else from the database's store
    of report texts (computed by another process or before a restart), else computed and
    stored. With ``part`` (an office's code), the office's part of it (:func:`office_part`),
    kept and stored in the same way under the tag and the office, every office's part at once
    (:func:`office_parts`; the whole document is neither kept nor stored): a new process shows
    any office's page of the group without reading and parsing the whole group's document."""
    seconds = _seconds()
    key = tag(params, breakdowns) if seconds > 0 else None
    if key is None:
        return None

    def whole() -> dict:
        return _kept(key, seconds, lambda: satisfaction_document(params, breakdowns))

    def every_office() -> dict:
        # every office's part is stored at once, not the whole: the group's next office a
        # process shows (in this process or another) reads its own 20 KB instead of the
        # group's 31 MB
        doc = satisfaction_document(params, breakdowns)
        parts = office_parts(doc)
        store_documents({f"{key} office {c}": p for c, p in parts.items() if c != part})
        return parts.get(part) or office_part(doc, part)

    return whole() if part is None else _kept(f"{key} office {part}", seconds, every_office)


def _past_trend(params, office: str | None) -> dict | None:
    """What a trend reads of a month that has ended (:func:`trend_part`), kept and stored as
    :func:`_past_document` keeps a document. A trend asks for twelve months on every page
    view; each would cost a report. Without a scope an office's entry is the same in its
    group's month as in a month of the office alone (the report is computed over the group
    either way, reporting/kept.py), so the group's month is computed once for all its offices
    (its offices' and groups' names, index and responses alone: `trend_document`), and each
    office's slice of it is stored at once: a new process shows an office's trend from twelve
    slices of a few hundred bytes. A scoped official's offices are computed over themselves
    (disclosure.py): its months are its own, keyed by its scope; their groups' benchmarks,
    under disclosure control, are read from the columns of the group's month that they need
    (`month_columns`, stored beside the month: a commune group's month is 0.68 MB of JSON, its
    columns a fifth of it), never from an office's slice."""
    seconds = _seconds()
    whole = group_params(params)  # without a scope: the same report, every office visible
    key = tag(whole if params.scope is None else params, False) if seconds > 0 else None
    if key is None:
        return None

    def group_month(group_key: str = key) -> dict:
        return _kept(f"{group_key} trend", seconds, lambda: trend_part(trend_document(whole)))

    def own_month() -> dict:
        group_key = tag(whole, False)
        columns = _kept(
            f"{group_key} trend columns", seconds, lambda: month_columns(group_month(group_key))
        )
        return trend_part(scoped_trend(params, columns))

    if params.scope is not None:
        return _kept(f"{key} trend", seconds, own_month)
    if office is None:
        return group_month()

    def every_office() -> dict:
        month = group_month()
        slices = {e["code"]: {**month, "offices": [e]} for e in month["offices"]}
        parts = {f"{key} trend {c}": d for c, d in slices.items() if c != office}
        store_documents({**parts, f"{key} trend columns": month_columns(month)})  # scoped read
        return slices.get(office) or {**month, "offices": []}

    return _kept(f"{key} trend {office}", seconds, every_office)


def page_document(scope, filters: Filters, **kwargs) -> dict:
    """The document of a dashboard page's period and group, with the previous period."""
    return document(scope, filters.period, filters.group, compare=True, **kwargs)


def quiet_document(scope, group: str | None) -> dict:
    """The :data:`QUIET_DAYS` days before today: offices without a response in them (whole days,
    so the document comes from the rollup and the cache)."""
    yesterday = local_today() - timedelta(days=1)
    return document(scope, Period(yesterday - timedelta(days=QUIET_DAYS - 1), yesterday), group)


def office_page_documents(scope, period: Period, group: str, code: str) -> tuple[dict, list]:
    """What an office's page reads: its part of its group's document of the period (with the
    previous period, the questions and the breakdowns) and the months of its trend, those it
    computes stored with one commit."""
    with one_commit():
        doc = document(
            scope, period, group, compare=True, questions=True, breakdowns=True, part=code
        )
        return doc, monthly_documents(scope, period, group, office=code)


def months_of(period: Period, at_least: int = 12) -> list[Period]:
    """Calendar months covering a period, going back to at least ``at_least`` months."""
    year, month = period.end.year, period.end.month
    out = []
    while year >= 2000:  # the report API's first year
        m = month_period(year, month)
        out.append(m)
        if len(out) >= at_least and m.start <= period.start:
            break
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out[::-1]


#: What a trend reads of an office's or a group's entry: index (with its interval and
#: reliability) and responses, with the names the group's trend lists the offices by.
TREND_FIELDS = ("code", "name", "group", "benchmark", "responses")
TREND_INDEX = ("value", "low", "high", "n", "reliable")  # n: reporting/scoped_trend.py


def trend_part(doc: dict) -> dict:
    """What a trend reads of a month's document (:data:`TREND_FIELDS`, :data:`TREND_INDEX`):
    a commune group's month at national scale, 0.68 MB of JSON."""

    def slim(entry: dict) -> dict:
        out = {k: entry[k] for k in TREND_FIELDS if k in entry}
        index = entry.get("index")
        out["index"] = {k: index.get(k) for k in TREND_INDEX} if index else index
        return out

    return {k: [slim(e) for e in doc.get(k) or []] for k in ("offices", "groups")}


def monthly_documents(scope, period: Period, group: str | None, office: str | None = None):
    """(month, what the trend reads of its document) for each month of the trend ending with
    the period's last month (:func:`_past_trend`), those it computes stored with one commit;
    a scoped official's own reports of the months to compute, computed first in one pass
    (:func:`_own_months`)."""
    months = months_of(period)
    with one_commit():
        if scope is not None:
            _own_months(scope, months, group, office)
        return [(m, document(scope, m, group, office=office, trend=True)) for m in months]


def _own_months(scope, months: list[Period], group: str | None, office: str | None) -> None:
    """The reports over a scoped official's own offices (disclosure.own_params) of the ended
    trend months that this process does not keep and the store does not hold, computed together
    (kept.keep_reports: the catalogue and the months' rollup rows read once, not twelve times),
    so that :func:`_past_trend` finds them kept."""
    seconds = _seconds()
    wanted: dict[str, object] = {}
    for month in months:
        params = _params(scope, month, group, office)
        key = tag(params, False) if seconds > 0 else None
        if key is not None and _cache.get(f"{key} trend", seconds) is None:
            wanted[document_key(f"{key} trend")] = own_params(params)
    stored = stored_keys(wanted) if len(wanted) > 1 else set()
    keep_reports([params for key, params in wanted.items() if key not in stored])
