"""Tables as the pages show them and the downloads write them: columns (key, label, kind) and
rows of plain values taken from the report document. One definition serves the HTML table, its
CSV and its Excel file, so a download holds exactly what the page shows."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l

#: How a column's values are shown: pct (a share), int, dec, pts, text, name, bool, rank.
KINDS = ("text", "name", "int", "dec", "pct", "pts", "bool", "rank")


@dataclass
class Column:
    """A table column: the row key, the header, the kind of value."""

    key: str
    label: str
    kind: str = "text"
    sortable: bool = False


@dataclass
class Table:
    """A table with an id (its download name), a caption, columns and rows (dicts)."""

    id: str
    caption: str
    columns: list[Column]
    rows: list[dict]
    highlight: str | None = None  # a boolean row key: rows to highlight
    muted: str | None = None  # a boolean row key: rows shown greyed (e.g. too few responses)
    notes: list[str] = field(default_factory=list)


def C(key: str, label, kind: str = "text", sortable: bool = False) -> Column:  # noqa: N802
    """A column (the label translated when the table is shown)."""
    return Column(key, label, kind, sortable)


OFFICE = C("name", _l("Office"), "name", True)
CODE = C("code", _l("Code"))
RESPONSES = C("responses", _l("Responses"), "int", True)
INDEX = C("value", _l("Satisfaction index"), "pct", True)
LOW = C("low", _l("Lower limit (95%)"), "pct")
HIGH = C("high", _l("Upper limit (95%)"), "pct")
N_EFF = C("n_eff", _l("Effective sample size"), "dec")
RELIABLE = C("reliable", _l("Reliable"), "bool")
