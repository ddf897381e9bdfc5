"""Excel workbooks that a department head can read, written with XlsxWriter: a title and the
period on every sheet, frozen header rows, filters, number formats, tiers in colour, printing
set to landscape A4 one page wide. Text cells are always strings, never formulas (a comment
starting with '=' stays text).

Why XlsxWriter (measured on this machine, a year's workbook over 1,008 offices, 4.7 MB, under
load): openpyxl's write-only mode 17.6-20.5 s (lxml or not), the hand-written XML writer this
replaces 2.3-2.9 s, XlsxWriter about the same as the hand-written one (BENCHMARKS.md, issue 17).
openpyxl spends ~50 µs a cell on its cell objects and style look-ups; XlsxWriter writes rows out
as they come (constant_memory) with formats made once.
"""

from __future__ import annotations

import io
import re

import xlsxwriter

FORMATS = {"pct": "0.0%", "int": "#,##0", "dec": "0.0", "pts": "0.00", "rank": "0"}
#: Tier labels (as written in the cells) and the fill of their rows.
TIER_FILLS = {
    "Cao hơn rõ rệt": "#D9EAD3",
    "Thấp hơn rõ rệt": "#F4CCCC",
    "Chưa đủ tin cậy": "#EEEEEE",
}
HEADER_ROW = 3  # 0-based: title, period and scope, a blank row, then the header (row 4)
#: Characters an XML file cannot hold (control characters): dropped from text cells.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class Book:
    """A workbook being written, with its formats made once."""

    def __init__(self, stream):
        self.book = xlsxwriter.Workbook(
            stream,
            {
                "constant_memory": True,  # rows go out as they are written
                "strings_to_formulas": False,
                "strings_to_numbers": False,
                "strings_to_urls": False,
            },
        )
        add = self.book.add_format
        self.title = add({"bold": True, "font_size": 14})
        self.header = add({"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#DDE3E8"})
        self.wrap = add({"text_wrap": True, "valign": "top"})
        self.numbers = {kind: add({"num_format": fmt}) for kind, fmt in FORMATS.items()}
        self.tiers = {text: add({"bg_color": colour}) for text, colour in TIER_FILLS.items()}

    def close(self) -> None:
        """Finish the file."""
        self.book.close()


class Sheet:
    """One sheet: title rows, header, rows of values typed by their column's kind."""

    def __init__(self, book: Book, name: str, title: str, subtitle: str, columns, widths=None):
        self.book, self.columns, self.count = book, columns, 0
        ws = self.ws = book.book.add_worksheet(name[:31])
        for i, (label, kind) in enumerate(columns):
            width = (widths or {}).get(label) or (40 if kind == "long" else 14)
            ws.set_column(i, i, width)
        ws.freeze_panes(HEADER_ROW + 1, 0)
        ws.repeat_rows(HEADER_ROW)
        ws.set_landscape()
        ws.set_paper(9)  # A4
        ws.fit_to_pages(1, 0)  # one page wide, as many tall as needed
        ws.write_string(0, 0, title, book.title)
        ws.write_string(1, 0, subtitle)
        for i, (label, _kind) in enumerate(columns):
            ws.write_string(HEADER_ROW, i, label, book.header)

    def append(self, values) -> None:
        """A data row: text as strings, numbers with their column's format."""
        row = HEADER_ROW + 1 + self.count
        for i, (value, (_label, kind)) in enumerate(zip(values, self.columns, strict=True)):
            if value is None:
                continue
            if isinstance(value, bool):
                self.ws.write_string(row, i, "Có" if value else "Không")
            elif isinstance(value, str):
                text = _ILLEGAL.sub("", value)
                self.ws.write_string(row, i, text, self.book.wrap if kind == "long" else None)
            else:
                self.ws.write_number(row, i, value, self.book.numbers.get(kind))
        self.count += 1

    def finish(self, tier_column: int | None = None) -> None:
        """Filters over the table, and tier colours over its rows."""
        last_col = max(len(self.columns) - 1, 0)
        last_row = HEADER_ROW + max(self.count, 1)
        self.ws.autofilter(HEADER_ROW, 0, last_row, last_col)
        if tier_column is not None and self.count:
            letter = xlsxwriter.utility.xl_col_to_name(tier_column)
            for text, fmt in self.book.tiers.items():
                self.ws.conditional_format(
                    HEADER_ROW + 1,
                    0,
                    last_row,
                    last_col,
                    {
                        "type": "formula",
                        "criteria": f'=${letter}{HEADER_ROW + 2}="{text}"',
                        "format": fmt,
                    },
                )


def table_workbook(title: str, subtitle: str, columns, rows) -> bytes:
    """One table as a workbook: ``columns`` (header, kind), ``rows`` lists of values."""
    out = io.BytesIO()
    book = Book(out)
    kinds = [(label, "long" if kind in ("text", "name") else kind) for label, kind in columns]
    sheet = Sheet(book, "Bảng", title, subtitle, kinds)
    for row in rows:
        sheet.append(row)
    sheet.finish()
    book.close()
    return out.getvalue()
