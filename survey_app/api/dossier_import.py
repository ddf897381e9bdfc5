"""`flask mscore import dossiers FILE.csv` on PostgreSQL: the file streamed (memory flat in its
size), validated row by row into COPY, applied set-based (services/dossier_bulk.py), all or
nothing with every error named by line and column."""

from __future__ import annotations

from pathlib import Path

import click
from marshmallow import ValidationError
from sqlalchemy import select, text

from ..extensions import db
from ..importers.csvcore import CsvErrors, CsvRow, ImportSummary, iter_csv
from ..models import Office, utcnow
from ..protection import phone_protector
from ..services import dossier_bulk as bulk
from .schemas import DossierIn, quick_dossier


def _load(row: CsvRow, schema: DossierIn, columns: tuple[str, ...]) -> dict | None:
    """The row's dossier event: the quick path, else the schema (which records the errors)."""
    values = {name: row.values[name] for name in columns if name in row.values}
    data = quick_dossier(values)
    if data is not None:
        return data
    try:
        return schema.load(values)
    except ValidationError as error:
        for column, messages in error.messages.items():
            row.error(column, "; ".join(str(m) for m in messages).rstrip("."))
    return None


def _duplicates(errors: CsvErrors, office_codes: dict[int, str]) -> None:
    """A dossier named on two lines: an error on the later ones (staging positions are lines)."""
    found = db.session.execute(
        text(f"""SELECT pos, office_id, code, first FROM (
                   SELECT pos, office_id, code, first_value(pos) OVER w AS first,
                          row_number() OVER w AS n
                   FROM {bulk.STAGE} WINDOW w AS (PARTITION BY office_id, code ORDER BY pos)
                 ) AS x WHERE n > 1 ORDER BY pos LIMIT 10000""")
    )
    for line, office_id, code, first in found:
        key = (office_codes[office_id], code)
        errors.add(line, "code", f"duplicate {key!r} (first on line {first})")


def import_dossiers_streamed(path: Path, required, optional) -> ImportSummary:
    """Stream, validate and COPY the file, then apply it set-based; flush-free, no commit."""
    errors, schema = CsvErrors(path), DossierIn()
    offices = dict(db.session.execute(select(Office.code, Office.id).where(Office.is_active)).all())
    columns = tuple(required) + tuple(optional)
    rows = iter_csv(path, required, optional, errors)  # header errors raise here, at once
    protect = phone_protector()
    bulk.open_stage()

    def staged():
        for row in rows:
            data = _load(row, schema, columns)
            if data is None:
                continue
            office_id = offices.get(data["office_code"])
            if office_id is None:
                row.error("office_code", f"no active office with code {data['office_code']!r}")
                continue
            yield bulk.stage_row(row.line, office_id, data, protect)

    staged_count = bulk.copy_rows(staged())
    _duplicates(errors, {v: k for k, v in offices.items()})
    errors.raise_if_any()
    outcome = bulk.apply_stage(utcnow(), per_item=False)
    click.echo(f"dossiers read: {staged_count}")
    click.echo(f"SMS invitations queued: {outcome.decisions['queued']}")
    counts = outcome.counts
    return ImportSummary(counts["created"], counts["updated"], counts["unchanged"])
