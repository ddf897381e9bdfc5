"""The one-page printable report of an office (A4, Vietnamese): its figures, the five elements
chart and its rank among its group, for a head of office to take to a meeting (fpdf2, DejaVu
fonts for the Vietnamese letters)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

from flask_babel import gettext as _
from fpdf import FPDF

from ..reporting.periods import zone
from . import charts

FONTS = Path(__file__).resolve().parent.parent / "fonts"


def _pct(value) -> str:
    return "–" if value is None else f"{100 * value:.1f}%".replace(".", ",")


def _interval(est: dict) -> str:
    if est.get("low") is None or est.get("high") is None:
        return "–"
    return f"{_pct(est['low'])} – {_pct(est['high'])}"


def _rank(index: dict) -> str:
    if not index.get("reliable"):
        return _("Not ranked: too few responses")
    if index.get("rank") is None:
        return _("Not shown")
    return _(
        "%(rank)d of %(size)d (possible ranks %(low)d to %(high)d)",
        rank=index["rank"],
        size=index.get("group_size") or 0,
        low=index.get("rank_low") or index["rank"],
        high=index.get("rank_high") or index["rank"],
    )


def office_pdf(context: dict) -> bytes:
    """The report as PDF bytes (one A4 page)."""
    office, index, entry = context["office"], context["index"], context["entry"]
    filters = context["filters"]
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_title(f"{office.name} – {filters.label}")
    pdf.set_lang("vi")
    pdf.add_page()
    pdf.set_margins(15, 15, 15)
    pdf.set_font("DejaVu", "B", 16)
    pdf.multi_cell(0, 8, _("Citizen satisfaction report"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "B", 13)
    pdf.multi_cell(0, 7, office.name, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 10)
    pdf.multi_cell(
        0,
        5,
        _(
            "Period: %(period)s. Ranking group: %(group)s.",
            period=filters.label,
            group=filters.group_label,
        ),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(3)
    change = index.get("change") or {}
    sms = entry.get("sms") or {}
    head = context.get("head") or {}
    figures = [
        (_("Satisfaction index"), f"{_pct(index.get('value'))} ({_interval(index)})"),
        (_("Rank in the group"), _rank(index)),
        (_("Group mean"), _pct((head.get("index") or {}).get("value")) if head else _("Not shown")),
        (
            _("PAR Index points"),
            "–"
            if (index.get("par_points") or {}).get("value") is None
            else f"{index['par_points']['value']:.2f}".replace(".", ","),
        ),
        (_("Responses"), f"{entry.get('responses') or 0:,}".replace(",", ".")),
        (_("SMS response rate"), _pct(sms.get("response_rate"))),
        (
            _("Change from the previous period"),
            "–"
            if change.get("diff") is None
            else f"{100 * change['diff']:+.1f}".replace(".", ",")
            + " "
            + _("points")
            + " ("
            + (_("significant") if change.get("significant") else _("not significant"))
            + ")",
        ),
    ]
    pdf.set_font("DejaVu", "", 10)
    with pdf.table(col_widths=(60, 120), first_row_as_headings=False, line_height=6) as table:
        for label, value in figures:
            row = table.row()
            row.cell(label)
            row.cell(value)
    pdf.ln(4)
    spec = context["charts"]["elements"][0]
    if any(values for values in spec.get("datasets", {}).get("rows", [])):
        pdf.image(io.BytesIO(charts.png(spec, scale=2)), x=15, w=180 * 0.85)
    else:
        pdf.cell(0, 8, _("No element has answers in this period."), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("DejaVu", "B", 10)
    pdf.cell(0, 6, _("The five elements"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 9)
    rows = [
        {"element": r["element"], "value": r["v0"], "low": r["l0"], "high": r["h0"], "n": r["n0"]}
        for r in context["tables"]["elements"].rows
    ]
    with pdf.table(col_widths=(70, 25, 50, 35), line_height=5) as table:
        heading = table.row()
        for text in (_("Element"), _("Index"), _("Interval (95%)"), _("Answers")):
            heading.cell(text)
        for r in rows:
            row = table.row()
            row.cell(r["element"])
            row.cell(_pct(r["value"]))
            row.cell(_interval(r))
            row.cell(str(r["n"] or 0))
    pdf.set_y(-22)
    pdf.set_font("DejaVu", "", 8)
    made = datetime.now(UTC).astimezone(zone())
    pdf.multi_cell(
        0,
        4,
        _(
            "Satisfied means 4 or 5 on the 5-point scale. Intervals at 95%%; ranks with their "
            "joint 95%% interval; an office with too few responses is not ranked. Made on "
            "%(when)s by mscore.",
            when=f"{made:%d/%m/%Y %H:%M}",
        ),
    )
    return bytes(pdf.output())
