"""CSV imports of reference data: `flask mscore import offices|services|counters FILE.csv`.

A bad file is rejected whole with every error listed; a good one is applied in one transaction, and
re-importing it changes nothing. The validation core (csvcore.py) is shared with other importers:

    from survey_app.importers import CsvErrors, find_duplicates, read_csv, run_import

    errors = CsvErrors(path)
    rows = read_csv(path, required=("code", "name"), optional=("name_en",), errors=errors)
    for row in rows:                           # CsvRow: .line (1-based, of the file), .values
        code = row.code("code")                # None (and an error) unless [A-Za-z0-9._-]{1,32}
        name = row.text("name", max_length=255)
        kind = row.choice("kind", OfficeKind)  # an error lists the allowed values
        rate = row.number("rate", 0, 1, default=1.0); active = row.boolean("is_active", True)
        row.error("column", "message")         # anything else
    find_duplicates(rows, lambda r: r.get("code"), "code", errors)
    errors.raise_if_any()                      # click.ClickException: "FILE: line N, column X: ..."
    # then apply with flush() only; a command wraps it: run_import("dossiers", apply, path) commits
    # once, rolls back on any error, and prints the ImportSummary (created / updated / unchanged).

`read_csv` accepts UTF-8 with or without a BOM, comma- or semicolon-separated (spreadsheets set to
Vietnamese save semicolons; numbers may use a decimal comma). It NFC-normalises every cell (macOS
NFD input compares equal), strips cells, skips blank lines, lower-cases headers, and raises at once
when the file is not UTF-8 (naming each bad line) or required columns are missing. Optional columns
that are absent leave existing values alone; a blank cell in a present optional column means the
default.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click
from flask.cli import with_appcontext

from ..cli import import_group
from ..extensions import db
from .csvcore import CODE_RE, CsvErrors, CsvRow, ImportSummary, find_duplicates, read_csv
from .reference import import_counters, import_offices, import_services

__all__ = [
    "CODE_RE",
    "CsvErrors",
    "CsvRow",
    "ImportSummary",
    "find_duplicates",
    "import_counters",
    "import_offices",
    "import_services",
    "read_csv",
    "run_import",
]


def run_import(label: str, apply: Callable[[Path], ImportSummary], path: str) -> ImportSummary:
    """Apply one import in one transaction (commit once, roll back on error); print its summary."""
    try:
        summary = apply(Path(path))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    click.echo(f"{label}: {summary}")
    return summary


@import_group.command("offices")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def import_offices_command(path: str) -> None:
    """Import offices: code,name,kind,group,parent_code[,name_en,sms_sampling_rate,is_active]."""
    run_import("offices", import_offices, path)


@import_group.command("services")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def import_services_command(path: str) -> None:
    """Import services: code,name,field[,name_en,office_codes] (office codes ';'-separated)."""
    run_import("services", import_services, path)


@import_group.command("counters")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def import_counters_command(path: str) -> None:
    """Import counters: office_code,code,name[,is_active]."""
    run_import("counters", import_counters, path)


def register(group) -> None:
    """Nothing to add to `flask mscore`: the import commands sit on cli.import_group."""
