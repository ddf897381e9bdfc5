"""Downloads of the pages' tables (CSV for machines, Excel for people) and charts (SVG), named
with their period and scope."""

from __future__ import annotations

import csv
import io

from flask import Response
from flask_babel import gettext as _

from ..exports import neutralise
from ..workbook import table_workbook
from . import charts
from .tables import Table

MIME = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "svg": "image/svg+xml",
    "pdf": "application/pdf",
}


def attachment(body: bytes, fmt: str, name: str) -> Response:
    """A download with its file name."""
    return Response(
        body,
        mimetype=MIME[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'},
    )


def table_csv(table: Table) -> bytes:
    """A table as UTF-8 CSV with a BOM; shares stay fractions, text cells are neutralised
    (OWASP's CSV injection rule)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([str(c.label) for c in table.columns])
    for row in table.rows:
        writer.writerow([_csv_value(row.get(c.key)) for c in table.columns])
    return out.getvalue().encode("utf-8-sig")


def _csv_value(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return neutralise(value)


def send_table(table: Table, fmt: str, slug: str, period: str, scope: str) -> Response:
    """A table as CSV or Excel; the Excel file has the title, period and scope above it."""
    name = f"mscore-{table.id}-{slug}"
    if fmt == "csv":
        return attachment(table_csv(table), fmt, name)
    title = f"{table.caption} · {scope}"
    columns = [(str(c.label), c.kind) for c in table.columns]
    rows = [[row.get(c.key) for c in table.columns] for row in table.rows]
    subtitle = _("Period: %(period)s. Scope: %(scope)s.", period=period, scope=scope)
    return attachment(table_workbook(title, subtitle, columns, rows), fmt, name)


def send_chart(spec: dict, name: str, slug: str) -> Response:
    """A chart as an SVG file."""
    return attachment(charts.svg(spec).encode(), "svg", f"mscore-{name}-{slug}")
