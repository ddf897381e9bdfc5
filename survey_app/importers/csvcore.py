"""The CSV validation core every importer shares (see the package docstring for its use)."""

from __future__ import annotations

import csv
import enum
import io
import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import click

CODE_RE = re.compile(r"[A-Za-z0-9._-]{1,32}")
_TRUE, _FALSE = {"1", "true", "yes", "y", "có", "x"}, {"0", "false", "no", "n", "không"}
#: The words a CSV boolean cell may hold (lower case), for importers that parse one elsewhere
TRUE_WORDS, FALSE_WORDS = frozenset(_TRUE), frozenset(_FALSE)


class CsvErrors:
    """Collects `line N, column X: message` problems of one file."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        self.items: list[tuple[int, str | None, str]] = []

    def add(self, line: int, column: str | None, message: str) -> None:
        """Record one problem; column None means the whole line."""
        self.items.append((line, column, message))

    def __bool__(self) -> bool:
        return bool(self.items)

    def lines(self) -> list[str]:
        """The problems as text, in file order."""
        return [
            f"line {line}, column {column}: {message}" if column else f"line {line}: {message}"
            for line, column, message in sorted(self.items, key=lambda i: i[0])
        ]

    def raise_if_any(self) -> None:
        """Raise a click error listing every problem, if there is one."""
        if self.items:
            raise click.ClickException(
                f"{self.path}: {len(self.items)} error(s), nothing imported:\n  "
                + "\n  ".join(self.lines())
            )


@dataclass
class CsvRow:
    """One data row: its line number in the file and its NFC-normalised, stripped cells."""

    line: int
    values: dict[str, str]
    errors: CsvErrors = field(repr=False)

    def get(self, column: str, default: str = "") -> str:
        """The cell of a column ('' when blank or the column is absent)."""
        return self.values.get(column) or default

    def has(self, column: str) -> bool:
        """Whether the file has this column at all."""
        return column in self.values

    def error(self, column: str | None, message: str) -> None:
        """Record a problem in this row."""
        self.errors.add(self.line, column, message)

    def text(self, column: str, max_length: int = 255, required: bool = True) -> str | None:
        """A text cell, required unless told otherwise, at most max_length characters."""
        value = self.get(column)
        if not value:
            if required:
                self.error(column, "is required")
            return None
        if len(value) > max_length:
            self.error(column, f"is longer than {max_length} characters")
            return None
        if CONTROL_CHARACTERS.search(value):
            self.error(column, "contains a control character")
            return None
        return value

    def code(self, column: str, max_length: int = 32, required: bool = True) -> str | None:
        """A URL-safe code: letters, digits, '.', '_' or '-'."""
        value = self.get(column)
        if not value:
            if required:
                self.error(column, "is required")
            return None
        if not re.fullmatch(rf"[A-Za-z0-9._-]{{1,{max_length}}}", value):
            self.error(
                column,
                f"{value!r} is not a code of 1-{max_length} characters from A-Z a-z 0-9 . _ -",
            )
            return None
        return value

    def choice(self, column: str, enum_cls: type[enum.Enum], required: bool = True):
        """One of an enum's values, or None (with an error naming the allowed ones)."""
        value = self.get(column).lower()
        if not value:
            if required:
                self.error(column, "is required")
            return None
        try:
            return enum_cls(value)
        except ValueError:
            allowed = ", ".join(m.value for m in enum_cls)
            self.error(column, f"{self.get(column)!r} is not one of: {allowed}")
            return None

    def number(self, column: str, low: float, high: float, default: float) -> float | None:
        """A number in (low, high], or the default when blank."""
        raw = self.get(column).replace(",", ".")
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            value = None
        if value is None or not low < value <= high:
            self.error(column, f"{self.get(column)!r} is not a number in ({low:g}, {high:g}]")
            return None
        return value

    def boolean(self, column: str, default: bool) -> bool | None:
        """true/false, 1/0, yes/no, có/không, or the default when blank."""
        raw = self.get(column).lower()
        if not raw:
            return default
        if raw in _TRUE or raw in _FALSE:
            return raw in _TRUE
        self.error(column, f"{self.get(column)!r} is not true/false (1/0, yes/no, có/không)")
        return None


#: Control characters, refused in names and codes (PostgreSQL text cannot even hold a NUL)
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def _nfc(value: str) -> str:
    value = value.strip()
    return value if value.isascii() else unicodedata.normalize("NFC", value)


def _decode(path: Path, errors: CsvErrors) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        for number, raw in enumerate(data.split(b"\n"), start=1):
            try:
                raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                errors.add(
                    number,
                    None,
                    f"is not valid UTF-8 (byte {exc.start + 1}); save the file as UTF-8",
                )
        errors.raise_if_any()
        raise


def read_csv(
    path: str | Path,
    required: Iterable[str],
    optional: Iterable[str] = (),
    errors: CsvErrors | None = None,
    allow_extra: bool = False,
) -> list[CsvRow]:
    """Read a UTF-8 CSV into rows with line numbers; raise at once on encoding or header errors."""
    path, required, optional = Path(path), list(required), list(optional)
    errors = errors if errors is not None else CsvErrors(path)
    text = _decode(path, errors)
    first = text.partition("\n")[0]
    # spreadsheets set to Vietnamese (decimal comma) save CSV with semicolons
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    return list(_rows(reader, required, optional, errors, allow_extra))


def _rows(reader, required: list[str], optional: list[str], errors: CsvErrors, allow_extra=False):
    """Check the header (errors raise at once), then yield the non-blank rows as CsvRows
    (a row with more cells than the header is recorded and skipped)."""
    header = next(reader, None)
    if header is None or not any(cell.strip() for cell in header):
        errors.add(1, None, f"the header is missing; expected columns: {', '.join(required)}")
        errors.raise_if_any()
    header = [_nfc(cell).lower() for cell in header]
    for column in required:
        if column not in header:
            errors.add(1, column, "required column is missing")
    for column in header:
        if header.count(column) > 1:
            errors.add(1, column, "appears more than once")
        elif column not in required and column not in optional and not allow_extra:
            errors.add(
                1, column or "(blank)", "unknown column; allowed: " + ", ".join(required + optional)
            )
    errors.raise_if_any()
    end = 1
    for cells in reader:
        start, end = end + 1, reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(header):
            errors.add(start, None, f"has {len(cells)} cells but the header has {len(header)}")
            continue
        yield CsvRow(start, {n: _nfc(c) for n, c in zip(header, cells, strict=False)}, errors)


def _lines(path: Path, errors: CsvErrors):
    """The file's lines decoded one by one (a line that is not UTF-8 is recorded, read as blank)."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                message = f"is not valid UTF-8 (byte {exc.start + 1}); save the file as UTF-8"
                errors.add(number, None, message)
                yield "\n"


def iter_csv(
    path: str | Path, required: Iterable[str], optional: Iterable[str], errors: CsvErrors
) -> Iterator[CsvRow]:
    """read_csv's rows one at a time, for files too large to hold (header errors raise at once;
    a line that is not UTF-8 is recorded and the caller raises at the end)."""
    path, required, optional = Path(path), list(required), list(optional)
    lines = _lines(path, errors)
    first = next(lines, "")
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(itertools.chain([first], lines), delimiter=delimiter)
    yield from _rows(reader, required, optional, errors)


def find_duplicates(
    rows: list[CsvRow], key: Callable[[CsvRow], object], column: str, errors: CsvErrors
) -> None:
    """Record an error on every row whose key already appeared on an earlier line."""
    seen: dict[object, int] = {}
    for row in rows:
        value = key(row)
        if not value:
            continue
        if value in seen:
            errors.add(row.line, column, f"duplicate {value!r} (first on line {seen[value]})")
        else:
            seen[value] = row.line


@dataclass
class ImportSummary:
    """What an import did, row by row: created, updated or unchanged."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def tally(self, created: bool, changed: bool) -> None:
        """Count one row."""
        if created:
            self.created += 1
        elif changed:
            self.updated += 1
        else:
            self.unchanged += 1

    @property
    def changes(self) -> int:
        """Rows created or updated."""
        return self.created + self.updated

    def __str__(self) -> str:
        return f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"
