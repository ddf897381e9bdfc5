"""The dashboard's charts as data, each with its text alternative and its table view: the
ranking (dot and whisker), the funnel plot, the five SIPAS elements and the monthly trends. Every
number comes from a report document (pages.py reads them out); charts.py draws them."""

from __future__ import annotations

import numpy as np
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

import analysis

from . import charts
from .pages import ELEMENT_LABELS, TIER_LABELS, estimate_at
from .tables import HIGH, INDEX, LOW, N_EFF, OFFICE, RELIABLE, RESPONSES, C, Table


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
            est = estimate_at(entry, "elements", key)
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
            est = estimate_at(entry, "index")
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
