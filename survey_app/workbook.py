"""Excel workbooks that a department head can read, written with openpyxl (write-only mode):
a title and the period on every sheet, frozen header rows, filters, number formats, tiers in
colour, printing set to landscape A4 one page wide. Text cells are always strings, never
formulas (a comment starting with '=' stays text)."""

from __future__ import annotations

import io
import re

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

FORMATS = {"pct": "0.0%", "int": "#,##0", "dec": "0.0", "pts": "0.00", "rank": "0"}
TITLE_FONT = Font(bold=True, size=14)
HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDE3E8")
WRAP = Alignment(wrap_text=True, vertical="top")
#: Tier labels (as written in the cells) and the fill of their rows.
TIER_FILLS = {
    "Cao hơn rõ rệt": "D9EAD3",
    "Thấp hơn rõ rệt": "F4CCCC",
    "Chưa đủ tin cậy": "EEEEEE",
}
HEADER_ROW = 4  # title, period and scope, a blank row, then the header
#: Characters an XML file cannot hold (control characters): dropped from text cells.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class Sheet:
    """One sheet being written: title rows, header, rows of (value, kind)."""

    def __init__(self, book: Workbook, name: str, title: str, subtitle: str, columns, widths=None):
        self.ws = book.create_sheet(name[:31])
        self.columns = columns
        self.count = 0
        ws = self.ws
        for i, (label, kind) in enumerate(columns, start=1):
            width = (widths or {}).get(label) or (40 if kind == "long" else 14)
            ws.column_dimensions[get_column_letter(i)].width = width
        last = get_column_letter(max(1, len(columns)))
        ws.freeze_panes = f"A{HEADER_ROW + 1}"
        ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
        ws.page_setup.orientation = "landscape"
        ws.page_setup.paperSize = "9"  # A4
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        self.last = last
        ws.append([self._text(title, TITLE_FONT)])
        ws.append([self._text(subtitle)])
        ws.append([])
        ws.append([self._text(label, HEADER_FONT, HEADER_FILL, WRAP) for label, _kind in columns])

    def _text(self, value: str, font=None, fill=None, alignment=None) -> WriteOnlyCell:
        cell = WriteOnlyCell(self.ws, value=_ILLEGAL.sub("", value))
        cell.data_type = "s"  # never a formula, whatever the text starts with
        if font:
            cell.font = font
        if fill:
            cell.fill = fill
        if alignment:
            cell.alignment = alignment
        return cell

    def append(self, values) -> None:
        """A data row: text as strings, numbers with their column's format."""
        cells = []
        for value, (_label, kind) in zip(values, self.columns, strict=True):
            if value is None:
                cells.append(None)
            elif isinstance(value, bool):
                cells.append(self._text("Có" if value else "Không"))
            elif isinstance(value, str):
                cells.append(self._text(value, alignment=WRAP if kind == "long" else None))
            else:
                cell = WriteOnlyCell(self.ws, value=value)
                if kind in FORMATS:
                    cell.number_format = FORMATS[kind]
                cells.append(cell)
        self.ws.append(cells)
        self.count += 1

    def finish(self, tier_column: int | None = None) -> None:
        """Filters over the table, and tier colours over its rows."""
        end = HEADER_ROW + max(self.count, 1)
        self.ws.auto_filter.ref = f"A{HEADER_ROW}:{self.last}{end}"
        if tier_column is not None and self.count:
            letter = get_column_letter(tier_column + 1)
            for text, colour in TIER_FILLS.items():
                self.ws.conditional_formatting.add(
                    f"A{HEADER_ROW + 1}:{self.last}{end}",
                    FormulaRule(
                        formula=[f'${letter}{HEADER_ROW + 1}="{text}"'],
                        fill=PatternFill("solid", fgColor=colour, bgColor=colour),
                    ),
                )


def new_book() -> Workbook:
    """An empty write-only workbook."""
    return Workbook(write_only=True)


def save(book: Workbook) -> bytes:
    """The workbook's bytes."""
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def table_workbook(title: str, subtitle: str, columns, rows) -> bytes:
    """One table as a workbook: ``columns`` (header, kind), ``rows`` lists of values."""
    book = new_book()
    kinds = [(label, "long" if kind in ("text", "name") else kind) for label, kind in columns]
    sheet = Sheet(book, "Bảng", title, subtitle, kinds)
    for row in rows:
        sheet.append(row)
    sheet.finish()
    return save(book)
