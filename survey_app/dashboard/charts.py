"""Charts drawn on the server as SVG: Vega-Lite specifications written with Altair, rendered by
vl-convert (no JavaScript in the browser, so they print and obey the content security policy:
the SVG carries presentation attributes, never a style attribute).

Why Altair and vl-convert rather than matplotlib (measured on this machine, a 40-office ranking
chart): matplotlib 62 ms and vl-convert 80 ms per chart, both acceptable, but matplotlib's SVG
holds ~180 ``style=`` attributes, which the pages' content security policy (style-src 'self')
blocks, while Vega's SVG keeps text as text (readable, searchable, Vietnamese glyphs from the
browser's fonts) and uses presentation attributes only. Rendering is memoised on the
specification: the same figures give the same SVG, so a warm page renders nothing again.

Fonts: the SVG names the browser's ``sans-serif`` (Arial on Windows, Helvetica on macOS, Roboto
on Android); a font the browser lacks (DejaVu Sans, named before) falls back to its default, a
serif. vl-convert lays the text out with the font it resolves for ``sans-serif`` (on a Debian
server, DejaVu Sans's widths or Liberation Sans's, which are Arial's). The PNG (the printable PDF)
draws the glyphs itself: it names DejaVu Sans, shipped in survey_app/fonts, as the PDF's text
does.
"""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path

import altair as alt
import vl_convert

TIER_COLOURS = {
    "above": "#00703c",
    "indistinguishable": "#1d70b8",
    "below": "#d4351c",
    "unreliable": "#8c8c8c",
    "withheld": "#505a5f",
}
TARGET = 0.8  # the satisfaction target drawn on the charts (80%)
FONT = "sans-serif"  # the SVG's: the browser's own sans-serif
PRINT_FONT = "DejaVu Sans"  # the PNG's (survey_app/fonts)
_FONTS = Path(__file__).resolve().parent.parent / "fonts"
_CONFIG = {
    "font": FONT,
    "axis": {"labelFontSize": 12, "titleFontSize": 12, "labelLimit": 260},
    "legend": {"labelFontSize": 12, "titleFontSize": 12, "orient": "bottom", "labelLimit": 320},
    "view": {"stroke": None},
    "background": "white",
}


@functools.cache
def _fonts_registered() -> bool:
    """DejaVu (Vietnamese glyphs) for the PNG and PDF renderings; once per process."""
    vl_convert.register_font_directory(str(_FONTS))
    return True


def _skeleton(build):
    """Memoise a chart's structure (Altair's to_dict costs ~50 ms a chart): the structure
    depends only on the labels and scales; the data are named datasets filled in per call."""

    @functools.lru_cache(maxsize=128)
    def cached(key: str) -> str:
        spec = build(**json.loads(key)).to_dict(validate=False)
        spec["config"] = _CONFIG
        return json.dumps(spec)

    def make(datasets: dict, labels: dict, **params) -> dict:
        fixed = {k: v for k, v in labels.items() if k not in ("title", "description")}
        spec = json.loads(cached(json.dumps({"labels": fixed, **params}, sort_keys=True)))
        spec.update(title=labels["title"], description=labels["description"], datasets=datasets)
        return spec

    return make


def _domain(values) -> list[float]:
    vals = [v for v in values if v is not None]
    low = min([TARGET - 0.05, *vals]) if vals else 0.5
    return [max(0.0, round(low - 0.05, 1)), 1.0]


def ranking(rows: list[dict], mean: float | None, labels: dict) -> dict:
    """Offices' index with its interval, ordered by estimate, tiers coloured, against the group
    mean (solid line) and the 80% target (dashed)."""
    data = [
        {
            "name": r["name"],
            "value": r["value"],
            "low": r["low"],
            "high": r["high"],
            "tier": labels["tiers"][r["tier"]],
        }
        for r in rows
        if r["value"] is not None
    ]
    refs = [{"x": TARGET, "what": labels["target"]}]
    if mean is not None:
        refs.append({"x": mean, "what": labels["mean"]})
    return _ranking(
        {"rows": data, "refs": refs},
        labels,
        domain=_domain([d["low"] for d in data]),
        height=max(120, 22 * len(data)),
    )


def _ranking_chart(labels: dict, domain: list, height: int):
    colours = alt.Scale(
        domain=[labels["tiers"][t] for t in TIER_COLOURS], range=list(TIER_COLOURS.values())
    )
    base = alt.Chart(alt.Data(name="rows")).encode(
        y=alt.Y("name:N", sort=alt.EncodingSortField("value", order="descending"), title=None)
    )
    whiskers = base.mark_rule(strokeWidth=2).encode(
        x=alt.X(
            "low:Q",
            title=labels["index"],
            scale=alt.Scale(domain=domain, zero=False, nice=False),
            axis=alt.Axis(format="%"),
        ),
        x2="high:Q",
        color=alt.Color("tier:N", scale=colours, title=labels["tier"]),
    )
    dots = base.mark_point(filled=True, size=70).encode(
        x="value:Q", color=alt.Color("tier:N", scale=colours, title=labels["tier"])
    )
    lines = (
        alt.Chart(alt.Data(name="refs"))
        .mark_rule(strokeWidth=1.5)
        .encode(
            x="x:Q",
            strokeDash=alt.StrokeDash(
                "what:N",
                title=None,
                scale=alt.Scale(domain=[labels["target"], labels["mean"]], range=[[6, 4], [1, 0]]),
            ),
        )
    )
    return alt.layer(whiskers, dots, lines).properties(width=520, height=height)


_ranking = _skeleton(_ranking_chart)


def funnel(points: list[dict], curves: list[dict], target: float, labels: dict) -> dict:
    """Index against effective sample size with the 95% and 99.8% control limits."""
    return _funnel(
        {"points": points, "curves": curves, "target": [{"y": target}]},
        labels,
        domain=_domain([p["value"] for p in points] + [c["low"] for c in curves]),
    )


def _funnel_chart(labels: dict, domain: list):
    x = alt.X("n_eff:Q", title=labels["n_eff"], scale=alt.Scale(type="log"))
    limit_lines = []
    for bound in ("low", "high"):
        limit_lines.append(
            alt.Chart(alt.Data(name="curves"))
            .mark_line(strokeWidth=1.5)
            .encode(
                x=x,
                y=alt.Y(f"{bound}:Q", scale=alt.Scale(domain=domain), axis=alt.Axis(format="%")),
                detail="level:N",
                strokeDash=alt.StrokeDash("level:N", title=labels["limits"]),
                color=alt.value("#505a5f"),
            )
        )
    dots = (
        alt.Chart(alt.Data(name="points"))
        .mark_point(filled=True, size=60)
        .encode(
            x=x,
            y=alt.Y("value:Q", title=labels["index"], scale=alt.Scale(domain=domain)),
            color=alt.Color(
                "where:N",
                title=labels["where_title"],
                scale=alt.Scale(
                    domain=labels["where"],  # above, within, below
                    range=["#00703c", "#1d70b8", "#d4351c"],
                ),
            ),
            tooltip=["name:N"],
        )
    )
    mean = alt.Chart(alt.Data(name="target")).mark_rule(color="#0b0c0c").encode(y="y:Q")
    return alt.layer(*limit_lines, mean, dots).properties(width=520, height=320)


_funnel = _skeleton(_funnel_chart)


def trend(rows: list[dict], labels: dict) -> dict:
    """Index by month with its interval band, one line per series (the group, one office)."""
    data = [r for r in rows if r["value"] is not None]
    return _trend(
        {"rows": data, "target": [{"y": TARGET}]}, labels, domain=_domain([r["low"] for r in data])
    )


def _trend_chart(labels: dict, domain: list):
    x = alt.X("month:O", title=None, sort=None)
    y = alt.Y(
        "value:Q", title=labels["index"], scale=alt.Scale(domain=domain), axis=alt.Axis(format="%")
    )
    colour = alt.Color("series:N", title=None, scale=alt.Scale(range=["#1d70b8", "#f47738"]))
    band = (
        alt.Chart(alt.Data(name="rows"))
        .mark_area(opacity=0.2)
        .encode(x=x, y=alt.Y("low:Q", scale=alt.Scale(domain=domain)), y2="high:Q", color=colour)
    )
    line = alt.Chart(alt.Data(name="rows")).mark_line(point=True).encode(x=x, y=y, color=colour)
    target = (
        alt.Chart(alt.Data(name="target"))
        .mark_rule(strokeDash=[6, 4], color="#505a5f")
        .encode(y="y:Q")
    )
    return alt.layer(band, line, target).properties(width=560, height=260)


_trend = _skeleton(_trend_chart)


def elements(rows: list[dict], labels: dict) -> dict:
    """The five SIPAS elements side by side: each series' index with its interval."""
    data = [r for r in rows if r["value"] is not None]
    return _elements(
        {"rows": data, "target": [{"x": TARGET}]},
        labels,
        domain=_domain([r["low"] for r in data]),
    )


def _elements_chart(labels: dict, domain: list):
    y = alt.Y("element:N", title=None, sort=None)
    offset = alt.YOffset("series:N")
    colour = alt.Color("series:N", title=None, scale=alt.Scale(range=["#1d70b8", "#f47738"]))
    x = alt.X(
        "low:Q", title=labels["index"], scale=alt.Scale(domain=domain), axis=alt.Axis(format="%")
    )
    base = alt.Chart(alt.Data(name="rows")).encode(y=y, yOffset=offset, color=colour)
    whiskers = base.mark_rule(strokeWidth=2).encode(x=x, x2="high:Q")
    dots = base.mark_point(filled=True, size=70).encode(x="value:Q")
    target = (
        alt.Chart(alt.Data(name="target"))
        .mark_rule(strokeDash=[6, 4], color="#505a5f")
        .encode(x="x:Q")
    )
    return alt.layer(whiskers, dots, target).properties(width=440, height=60 * 5)


_elements = _skeleton(_elements_chart)


def start_engine() -> float:
    """Start vl-convert's JavaScript engine with a one-point chart: the first chart a process
    renders costs ~0.3 s more than the next ones (the engine's start), which a web worker pays
    at its start (gunicorn_conf.py) rather than in an official's first page. Its seconds."""
    started = time.perf_counter()
    vl_convert.vegalite_to_svg({"data": {"values": [{"x": 1}]}, "mark": "point"})
    return time.perf_counter() - started


@functools.lru_cache(maxsize=256)
def _svg(text: str) -> str:
    return vl_convert.vegalite_to_svg(text)


def svg(spec: dict) -> str:
    """The chart as an SVG document (memoised on the specification)."""
    return _svg(json.dumps(spec, sort_keys=True, ensure_ascii=False))


@functools.lru_cache(maxsize=64)
def _png(text: str, scale: float) -> bytes:
    _fonts_registered()
    return vl_convert.vegalite_to_png(text, scale=scale)


def png(spec: dict, scale: float = 2.0) -> bytes:
    """The chart as a PNG image (for the printable PDF), with DejaVu's Vietnamese glyphs
    (memoised on the specification)."""
    printed = {**spec, "config": {**spec.get("config", {}), "font": PRINT_FONT}}
    return _png(json.dumps(printed, sort_keys=True, ensure_ascii=False), scale)
