"""What each dashboard page shows, as plain data taken from report documents (never computed a
second time): headline figures, the office table, the charts' data, response-rate monitoring.

Fields are read defensively (``.get``): the report may withhold a group's benchmark from a scoped
official (small-group disclosure control) or leave an estimate blank, and then the page says so.
"""

from __future__ import annotations

import numpy as np
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

import analysis

from ..i18n import current_language
from . import charts
from .tables import CODE, HIGH, INDEX, LOW, N_EFF, OFFICE, RELIABLE, RESPONSES, C, Table

ELEMENT_LABELS = {
    "access": _l("Access to the service"),
    "procedure": _l("Administrative procedure"),
    "civil_servant": _l("Civil servants"),
    "result": _l("Result"),
    "feedback": _l("Feedback handling"),
}
DIMENSION_LABELS = {
    **ELEMENT_LABELS,
    "overall": _l("Overall"),
    "integrity": _l("Payment outside the rules"),
}
TIER_LABELS = {
    "above": _l("Clearly above"),
    "indistinguishable": _l("Not clearly different"),
    "below": _l("Clearly below"),
    "unreliable": _l("Too few responses"),
    "withheld": _l("Not shown (too few other offices)"),
}
CHANNEL_LABELS = {
    "qr_web": _l("QR code (web)"),
    "sms": _l("SMS reply"),
    "sms_link": _l("SMS link"),
    "kiosk": _l("Kiosk"),
}
SORTS = ("rank", "name", "responses", "value", "change")


def group_entry(doc: dict, group: str) -> dict | None:
    """The group's own entry (its benchmark), or None where the report withholds it from a
    scoped official (small-group disclosure control: ``"benchmark": "withheld"``)."""
    for entry in doc.get("groups") or []:
        if entry.get("group") != group:
            continue
        if entry.get("benchmark") == "withheld" or not entry.get("index"):
            return None
        return entry
    return None


def withheld_reason(doc: dict, group: str) -> str | None:
    """The report's own words on why a group's figures are withheld, in the page's language."""
    rule = (doc.get("disclosure") or {}).get("rule")
    if isinstance(rule, dict):
        return rule.get(current_language()) or rule.get("vi")
    return str(rule) if rule else None


def _estimate(entry: dict | None, *path) -> dict:
    item = entry or {}
    for part in path:
        item = (item or {}).get(part) or {}
    return item


def headline(doc: dict, group: str) -> dict | None:
    """The group's index, PAR points, responses by channel, SMS rate and change."""
    entry = group_entry(doc, group)
    if entry is None:
        return None
    index = _estimate(entry, "index")
    return {
        "index": index,
        "par": index.get("par_points") or {},
        "change": index.get("change") or {},
        "responses": entry.get("responses"),
        "dossiers": entry.get("dossiers"),
        "by_channel": entry.get("responses_by_channel") or {},
        "sms": entry.get("sms") or {},
        "offices": entry.get("offices"),
    }


def _office_row(entry: dict) -> dict:
    index = _estimate(entry, "index")
    change = index.get("change") or {}
    reliable = bool(index.get("reliable"))
    return {
        "code": entry.get("code"),
        "name": entry.get("name"),
        "responses": entry.get("responses"),
        "value": index.get("value"),
        "low": index.get("low"),
        "high": index.get("high"),
        "n_eff": index.get("n_eff"),
        "reliable": reliable,
        "rank": index.get("rank") if reliable else None,
        "rank_low": index.get("rank_low") if reliable else None,
        "rank_high": index.get("rank_high") if reliable else None,
        "group_size": index.get("group_size"),
        "tier": _tier(index, reliable),
        "tier_label": str(TIER_LABELS[_tier(index, reliable)]),
        "par": (index.get("par_points") or {}).get("value"),
        "change": change.get("diff"),
        "change_significant": change.get("significant"),
        "unreliable": not reliable,
    }


def _tier(index: dict, reliable: bool) -> str:
    """The office's tier; a reliable office's tier that the report withholds is 'withheld'."""
    tier = index.get("tier")
    if tier in TIER_LABELS:
        return tier
    return "withheld" if reliable else "unreliable"


def _sort_key(sort: str):
    def key(row):
        value = row.get(sort)
        missing = value is None
        if sort == "name":
            return (missing, (value or "").casefold())
        return (missing, value if not missing else 0)

    return key


def office_rows(doc: dict, group: str, sort: str = "rank", descending: bool = False) -> list[dict]:
    """The group's visible offices, ranked first (by rank), the unreliable after them."""
    rows = [_office_row(e) for e in doc.get("offices") or [] if e.get("group") == group]
    sort = sort if sort in SORTS else "rank"
    rows.sort(key=lambda r: (r["value"] is None, -(r["value"] or 0)))
    rows.sort(key=_sort_key(sort), reverse=descending)
    if descending:  # missing values stay last
        rows.sort(key=lambda r: r.get(sort) is None)
    return rows


def office_table(rows: list[dict], filters) -> Table:
    """The office table of the dashboard."""
    return Table(
        "offices",
        _(
            "Offices of the group: %(group)s, %(period)s",
            group=filters.group_label,
            period=filters.label,
        ),
        [
            C("rank", _l("Rank"), "rank", True),
            OFFICE,
            CODE,
            RESPONSES,
            INDEX,
            LOW,
            HIGH,
            RELIABLE,
            C("rank_low", _l("Best possible rank"), "int"),
            C("rank_high", _l("Worst possible rank"), "int"),
            C("tier_label", _l("Compared with the group")),
            C("par", _l("PAR Index points"), "pts"),
            C("change", _l("Change from the previous period"), "pct", True),
            C("change_significant", _l("Change is significant"), "bool"),
        ],
        rows,
        muted="unreliable",
    )


def _labels_common() -> dict:
    return {
        "index": _("Satisfaction index"),
        "target": _("Target 80%"),
        "mean": _("Group mean"),
        "tier": _("Compared with the group"),
        "tiers": {k: str(v) for k, v in TIER_LABELS.items()},
    }


def ranking_chart(rows: list[dict], head: dict | None, filters) -> tuple[dict, str]:
    """The dot-and-whisker ranking chart and its text alternative."""
    mean = (head or {}).get("index", {}).get("value")
    shown = [r for r in rows if r["value"] is not None]
    counts = {t: sum(r["tier"] == t for r in shown) for t in charts.TIER_COLOURS}
    text = _(
        "%(n)d offices with their satisfaction index and 95%% interval, highest first: "
        "%(above)d clearly above the group mean, %(below)d clearly below, %(same)d not clearly "
        "different, %(few)d with too few responses to rank.",
        n=len(shown),
        above=counts["above"],
        below=counts["below"],
        same=counts["indistinguishable"],
        few=counts["unreliable"],
    )
    if shown:
        best = max(shown, key=lambda r: r["value"])
        worst = min(shown, key=lambda r: r["value"])
        text += " " + _(
            "Highest: %(best)s (%(bv).0f%%); lowest: %(worst)s (%(wv).0f%%).",
            best=best["name"],
            bv=100 * best["value"],
            worst=worst["name"],
            wv=100 * worst["value"],
        )
    labels = {
        **_labels_common(),
        "title": _("Satisfaction by office, %(period)s", period=filters.label),
        "description": text,
    }
    return charts.ranking(rows, mean, labels), text


def funnel_view(rows: list[dict], head: dict | None, filters) -> tuple[dict | None, str, Table]:
    """The funnel plot around the group mean (or the 80% target where the mean is withheld)."""
    points = [r for r in rows if r["value"] is not None and (r["n_eff"] or 0) > 0]
    mean = (head or {}).get("index", {}).get("value")
    target = mean if mean is not None and 0 < mean < 1 else charts.TARGET
    where = {1: _("Above the limits"), 0: _("Within the limits"), -1: _("Below the limits")}
    columns = [
        OFFICE,
        N_EFF,
        INDEX,
        C("low95", _l("Lower limit, 95%"), "pct"),
        C("high95", _l("Upper limit, 95%"), "pct"),
        C("low998", _l("Lower limit, 99.8%"), "pct"),
        C("high998", _l("Upper limit, 99.8%"), "pct"),
        C("where", _l("Where (99.8%)")),
    ]
    table = Table("funnel", _("Funnel plot data, %(period)s", period=filters.label), columns, [])
    if not points:
        return None, _("No office has responses in this period."), table
    est = analysis.EstimateTable(
        value=np.array([p["value"] for p in points]),
        se=np.zeros(len(points)),
        low=np.zeros(len(points)),
        high=np.zeros(len(points)),
        n=np.zeros(len(points), dtype=np.int64),
        n_eff=np.array([p["n_eff"] for p in points], dtype=float),
        df=np.zeros(len(points), dtype=np.int64),
        method="wilson",
        level=0.95,
    )
    f = analysis.funnel(est, target)
    for i, p in enumerate(points):
        table.rows.append(
            {
                "name": p["name"],
                "n_eff": p["n_eff"],
                "value": p["value"],
                "low95": float(f.low[0, i]),
                "high95": float(f.high[0, i]),
                "low998": float(f.low[1, i]),
                "high998": float(f.high[1, i]),
                "where": str(where[int(f.outside[1, i])]),
            }
        )
    curves = [
        {
            "n_eff": float(n),
            "low": float(f.grid_low[k, j]),
            "high": float(f.grid_high[k, j]),
            "level": lv,
        }
        for k, lv in enumerate(("95%", "99.8%"))
        for j, n in enumerate(f.grid)
    ]
    outside = sum(int(f.outside[1, i]) != 0 for i in range(len(points)))
    text = _(
        "Each office's satisfaction index against its effective sample size, with the 95%% and "
        "99.8%% limits around %(target).1f%%: %(out)d of %(n)d offices lie outside the 99.8%% "
        "limits.",
        target=100 * target,
        out=outside,
        n=len(points),
    )
    labels = {
        **_labels_common(),
        "title": _("Funnel plot, %(period)s", period=filters.label),
        "description": text,
        "n_eff": _("Effective sample size (log scale)"),
        "limits": _("Control limits"),
        "where_title": _("Where (99.8%)"),
        "where": [str(where[k]) for k in (1, 0, -1)],  # a list: its order is the colours'
    }
    pts = [
        {"name": p["name"], "n_eff": p["n_eff"], "value": p["value"], "where": r["where"]}
        for p, r in zip(points, table.rows, strict=True)
    ]
    return charts.funnel(pts, curves, target, labels), text, table


def element_rows(series: list[tuple[str, dict | None]]) -> list[dict]:
    """Per series (a name and a report entry) the five elements' index and interval."""
    rows = []
    for name, entry in series:
        for key, label in ELEMENT_LABELS.items():
            est = _estimate(entry, "elements", key)
            rows.append(
                {
                    "series": name,
                    "element": str(label),
                    "value": est.get("value"),
                    "low": est.get("low"),
                    "high": est.get("high"),
                    "n": est.get("n"),
                    "reliable": bool(est.get("reliable")),
                }
            )
    return rows


def elements_view(series, title: str) -> tuple[dict, str, Table]:
    """The five elements side by side: chart, text alternative and table (one row per
    element, a value and interval per series)."""
    rows = element_rows(series)
    shown = [r for r in rows if r["value"] is not None]
    if shown:
        low = min(shown, key=lambda r: r["value"])
        text = _(
            "The five SIPAS elements' satisfaction index with 95%% intervals. Lowest: "
            "%(element)s of %(series)s (%(value).0f%%).",
            element=low["element"],
            series=low["series"],
            value=100 * low["value"],
        )
    else:
        text = _("No element has answers in this period.")
    labels = {**_labels_common(), "title": title, "description": text}
    wide, columns = {}, [C("element", _l("Element"))]
    for i, (name, _entry) in enumerate(series):
        columns += [
            C(f"v{i}", _("%(who)s: index", who=name), "pct"),
            C(f"l{i}", _("%(who)s: lower limit", who=name), "pct"),
            C(f"h{i}", _("%(who)s: upper limit", who=name), "pct"),
            C(f"n{i}", _("%(who)s: answers", who=name), "int"),
        ]
        for r in rows:
            if r["series"] == name:
                wide.setdefault(r["element"], {"element": r["element"]}).update(
                    {f"v{i}": r["value"], f"l{i}": r["low"], f"h{i}": r["high"], f"n{i}": r["n"]}
                )
    table = Table("elements", title, columns, list(wide.values()))
    return charts.elements(rows, labels), text, table


def trend_view(series: list[tuple[str, list]], title: str) -> tuple[dict, str, Table]:
    """Monthly index with interval bands; ``series``: (name, [(month, entry)])."""
    rows = []
    for name, months in series:
        for month, entry in months:
            est = _estimate(entry, "index")
            rows.append(
                {
                    "series": name,
                    "month": f"{month.start:%m/%Y}",
                    "value": est.get("value"),
                    "low": est.get("low"),
                    "high": est.get("high"),
                    "responses": (entry or {}).get("responses"),
                    "reliable": bool(est.get("reliable")),
                }
            )
    shown = [r for r in rows if r["value"] is not None]
    text = _("Satisfaction index by month with its 95%% interval band.")
    if shown:
        first, last = shown[0], [r for r in shown if r["series"] == shown[0]["series"]][-1]
        text += " " + _(
            "%(series)s: %(first).0f%% in %(m1)s, %(last).0f%% in %(m2)s.",
            series=first["series"],
            first=100 * first["value"],
            m1=first["month"],
            last=100 * last["value"],
            m2=last["month"],
        )
    labels = {**_labels_common(), "title": title, "description": text}
    table = Table(
        "trend",
        title,
        [C("series", _l("Who")), C("month", _l("Month")), INDEX, LOW, HIGH, RESPONSES, RELIABLE],
        rows,
    )
    return charts.trend(rows, labels), text, table


def response_rows(doc: dict, quiet: dict, group: str) -> list[dict]:
    """Per office: dossiers returned, SMS sent and answered, rate, QR responses per 100
    dossiers, and whether it had no response in the last 14 days."""
    recent = {e.get("code"): e.get("responses") or 0 for e in quiet.get("offices") or []}
    rows = []
    for e in doc.get("offices") or []:
        if e.get("group") != group:
            continue
        sms = e.get("sms") or {}
        by_mode = e.get("sms_by_mode") or {}
        dossiers = e.get("dossiers") or 0
        qr = (e.get("responses_by_channel") or {}).get("qr_web") or 0
        rows.append(
            {
                "code": e.get("code"),
                "name": e.get("name"),
                "dossiers": dossiers,
                "sent": sms.get("sent"),
                "answered": sms.get("answered"),
                "rate": sms.get("response_rate"),
                "rate_reply": (by_mode.get("reply") or {}).get("response_rate"),
                "rate_link": (by_mode.get("link") or {}).get("response_rate"),
                "qr_per_100": 100 * qr / dossiers if dossiers else None,
                "responses": e.get("responses"),
                "recent": recent.get(e.get("code"), 0),
                "quiet": recent.get(e.get("code"), 0) == 0,
            }
        )
    rows.sort(key=lambda r: (not r["quiet"], (r["name"] or "").casefold()))
    return rows


def response_table(rows: list[dict], filters) -> Table:
    """The response-rate monitoring table."""
    return Table(
        "responses",
        _("Responses and SMS response rate, %(period)s", period=filters.label),
        [
            OFFICE,
            CODE,
            C("dossiers", _l("Dossiers returned"), "int"),
            C("sent", _l("SMS invitations sent"), "int"),
            C("answered", _l("SMS answered"), "int"),
            C("rate", _l("SMS response rate"), "pct"),
            C("rate_reply", _l("SMS response rate, reply by text"), "pct"),
            C("rate_link", _l("SMS response rate, link to the form"), "pct"),
            C("qr_per_100", _l("QR responses per 100 dossiers"), "dec"),
            RESPONSES,
            C("recent", _l("Responses in the last 14 days"), "int"),
            C("quiet", _l("No response for 14 days"), "bool"),
        ],
        rows,
        highlight="quiet",
    )
