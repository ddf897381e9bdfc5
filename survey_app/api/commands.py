"""`flask mscore create-token`, `flask mscore warm-reports` and `flask mscore import dossiers
FILE.csv`."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from marshmallow import ValidationError
from sqlalchemy import select

from ..extensions import db
from ..models import Office

CSV_REQUIRED = ("office_code", "code")
CSV_OPTIONAL = (
    "service_code",
    "phone",
    "received_at",
    "due_at",
    "returned_at",
    "language",
    "contact_consent",
)


@click.command("create-token")
@click.option("--name", required=True, help="Who uses it, e.g. the one-stop software's name.")
@click.option("--office", "office_code", help="Limit the token to this office (and its children).")
@click.option("--scope", "scopes", multiple=True, help="Repeatable; default dossiers:write.")
@with_appcontext
def create_token_command(name: str, office_code: str | None, scopes: tuple[str, ...]) -> None:
    """Create an API token and print it once; only its hash is stored."""
    from .auth import DEFAULT_SCOPES, SCOPES, create_token

    office = None
    if office_code:
        office = db.session.scalar(select(Office).where(Office.code == office_code))
        if office is None:
            raise click.BadParameter(f"no office with code {office_code!r}", param_hint="--office")
    for scope in scopes:
        if scope not in SCOPES:
            raise click.BadParameter(
                f"{scope!r} is not one of {', '.join(SCOPES)}", param_hint="--scope"
            )
    _, plain = create_token(name, office, tuple(scopes) or DEFAULT_SCOPES)
    db.session.commit()
    click.echo(plain)
    click.echo("Keep it now: it is shown once and only its hash is stored.", err=True)


def import_dossiers(path: Path):
    """Validate a whole dossier CSV (errors by line and column), then apply it with a progress
    bar; flush only, run_import commits once. On PostgreSQL the file is streamed and applied
    set-based (dossier_import.py), with the same rules and errors."""
    if db.session.get_bind().dialect.name == "postgresql":
        from .dossier_import import import_dossiers_streamed

        return import_dossiers_streamed(path, CSV_REQUIRED, CSV_OPTIONAL)
    from ..importers import CsvErrors, ImportSummary, find_duplicates, read_csv
    from ..services.dossiers import upsert_dossier
    from .schemas import DossierIn

    errors = CsvErrors(path)
    rows = read_csv(path, CSV_REQUIRED, CSV_OPTIONAL, errors)
    schema, offices, valid = (
        DossierIn(),
        {o.code: o for o in db.session.scalars(select(Office).where(Office.is_active))},
        [],
    )
    for row in rows:
        values = {name: row.get(name) for name in CSV_REQUIRED + CSV_OPTIONAL if row.has(name)}
        try:
            data = schema.load(values)
        except ValidationError as error:
            for column, messages in error.messages.items():
                row.error(column, "; ".join(str(m) for m in messages).rstrip("."))
            continue
        if data["office_code"] not in offices:
            row.error("office_code", f"no active office with code {data['office_code']!r}")
            continue
        valid.append((row, data))
    find_duplicates(
        rows, lambda r: r.get("code") and (r.get("office_code"), r.get("code")), "code", errors
    )
    errors.raise_if_any()
    summary, queued = ImportSummary(), 0
    with click.progressbar(valid, label="dossiers", show_pos=True) as bar:
        for _row, data in bar:
            outcome = upsert_dossier(offices[data["office_code"]], data)
            summary.tally(outcome.status == "created", outcome.status == "updated")
            queued += outcome.invitation == "queued"
    click.echo(f"SMS invitations queued: {queued}")
    return summary


@click.command("dossiers")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def import_dossiers_command(path: str) -> None:
    """Import dossiers: office_code,code[,service_code,phone,received_at,due_at,returned_at,
    language,contact_consent]; times in ISO 8601 with an offset; contact_consent true/false
    (1/0, yes/no, có/không; blank keeps the stored value, a new dossier has none). All or
    nothing."""
    from ..importers import run_import

    run_import("dossiers", import_dossiers, path)


@click.command("warm-reports")
@with_appcontext
def warm_reports_command() -> None:
    """Compute and store the report API's texts of the last ended month and year, nationally
    and for each top-level office (a province): with and without its office filter, and as its
    own officials' tokens get it; and the dashboard's office pages of every ended period its
    selector offers, as an official who sees every office gets them, and of the last ended
    month, quarter and year as each office manager sees their own office's. Run it after the
    nightly update-rollup; requests then read them from the store (reporting/kept.py), in every
    process."""
    import time
    from datetime import date, timedelta

    from ..dashboard.filters import ended_choice_keys, ended_period_keys, period_of
    from ..dashboard.warming import warm_office_pages
    from ..reporting.documents import satisfaction_text
    from ..reporting.kept import kept_text, tag
    from ..reporting.periods import local_today
    from ..reporting.text_store import refreshing, store_limit, stored_size
    from .auth import subtree
    from .report_schemas import SatisfactionQueryIn
    from .reports import report_params

    if store_limit() <= 0 or float(current_app.config.get("REPORT_CACHE_SECONDS", 600)) <= 0:
        raise click.ClickException(
            "the report store is off (REPORT_STORE_MB or REPORT_CACHE_SECONDS is 0)"
        )
    today = local_today()
    month_end = today.replace(day=1) - timedelta(days=1)
    periods = (
        (f"{month_end:%Y-%m}", month_end.replace(day=1), month_end),
        (str(today.year - 1), date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)),
    )
    tops = db.session.scalars(
        select(Office).where(Office.parent_id.is_(None)).order_by(Office.code)
    ).all()
    # (who asks, the scope of their token, the office filter of their query)
    askers = [("all offices", None, None)]
    for office in tops:
        askers.append((office.code, None, office.code))
        askers.append((f"{office.code}'s officials", frozenset(subtree(office.id)), None))
    for label, start, end in periods:
        for who, scope, office_code in askers:
            query = {"from": start.isoformat(), "to": end.isoformat()}
            if office_code:
                query["office"] = office_code
            # the API's own defaults and parameters: the stored text is the one it would send
            params = report_params(SatisfactionQueryIn().load(query), scope, False, True)
            started = time.perf_counter()
            with refreshing():  # found stored by an earlier night: stored again
                body = kept_text(tag(params, False), lambda p=params: satisfaction_text(p, False))
            db.session.commit()
            click.echo(
                f"{label}, {who}: {len(body) / 1e6:.1f} MB in {time.perf_counter() - started:.2f} s"
            )
    # every ended period of the dashboard's selector; managers' own pages of the last ended
    # month, quarter and year
    managers_periods = set(ended_period_keys(today))
    for label in ended_choice_keys(today):
        for group, offices, managed, whole, managers in warm_office_pages(
            period_of(label), managers=label in managers_periods
        ):
            click.echo(f"{label}, office pages of {group} ({offices} offices): {whole:.2f} s")
            if managed:
                click.echo(
                    f"{label}, office managers' own pages in {group} ({managed} offices): "
                    f"{managers:.2f} s"
                )
    total = stored_size()
    click.echo(f"stored texts: {total / 1e6:.1f} MB")
    if total > store_limit():
        click.echo(
            f"warning: the stored texts ({total / 1e6:.1f} MB) are over REPORT_STORE_MB "
            f"({store_limit() / 1e6:g} MB): update-rollup will delete the oldest, and the next "
            f"warm-reports will compute them again; raise REPORT_STORE_MB "
            f"(docs/operations.md, Warming)",
            err=True,
        )


def register() -> None:
    """Attach the commands to `flask mscore` and `flask mscore import` (idempotent)."""
    from ..cli import import_group, mscore

    mscore.add_command(create_token_command)
    mscore.add_command(warm_reports_command)
    import_group.add_command(import_dossiers_command)
