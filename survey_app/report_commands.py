"""`flask mscore report`, `flask mscore rebuild-rollup` and `flask mscore update-rollup`."""

from __future__ import annotations

import json
import time
from datetime import date, timedelta

import click
from flask.cli import with_appcontext

from analysis import PROPORTION_METHODS


def _date(_ctx, param, value):
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("use YYYY-MM-DD", param=param) from None


@click.command("report")
@click.option("--from", "start", required=True, callback=_date, help="First day (YYYY-MM-DD).")
@click.option("--to", "end", required=True, callback=_date, help="Last day (YYYY-MM-DD).")
@click.option("--group", help="Ranking group (departments, districts, communes, ungrouped).")
@click.option(
    "--format", "fmt", type=click.Choice(["xlsx", "csv", "json"]), default="xlsx", show_default=True
)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True))
@click.option("--level", type=float, default=0.95, show_default=True)
@click.option(
    "--method", type=click.Choice(PROPORTION_METHODS), default="wilson", show_default=True
)
@click.option("--compare/--no-compare", default=False, help="Add the change on the last period.")
@click.option("--include-flagged", is_flag=True, help="Count flagged and excluded responses.")
@click.option(
    "--office",
    "office_code",
    help="The report as this office's manager gets it: its offices only, comparisons with "
    "their groups under disclosure control.",
)
@with_appcontext
def report_command(
    start, end, group, fmt, out, level, method, compare, include_flagged, office_code
):
    """Write the satisfaction report of a period (local dates, both included) to a file."""
    from sqlalchemy import select

    from .api.auth import subtree
    from .exports import write_export
    from .extensions import db
    from .models import Office
    from .reporting.periods import Period
    from .reporting.report import Params

    if end < start:
        raise click.BadParameter("--to is before --from", param_hint="--to")
    if not 0 < level < 1:
        raise click.BadParameter("the level must be inside (0, 1)", param_hint="--level")
    scope = None
    if office_code:
        office = db.session.scalar(select(Office).where(Office.code == office_code))
        if office is None:
            raise click.BadParameter(f"no office with code {office_code!r}", param_hint="--office")
        scope = frozenset(subtree(office.id))
    params = Params(
        Period(start, end),
        group=group,
        visible=scope,
        level=level,
        method=method,
        compare=compare,
        include_flagged=include_flagged,
        scope=scope,
    )
    started = time.perf_counter()
    if fmt == "json":
        from .reporting.documents import satisfaction_document

        with open(out, "w", encoding="utf-8") as handle:
            json.dump(satisfaction_document(params), handle, ensure_ascii=False)
    else:
        with open(out, "wb") as handle:
            write_export(params, fmt, handle)
    click.echo(f"wrote {out} in {time.perf_counter() - started:.2f} s")


@click.command("rebuild-rollup")
@click.option("--since", callback=_date, help="Only from this day (YYYY-MM-DD); default: all.")
@with_appcontext
def rebuild_rollup_command(since):
    """Drop the daily rollup and build it again from the raw responses and dossiers."""
    from .reporting.rollup import rebuild
    from .reporting.rollup_swap import RebuildRunning

    started = time.perf_counter()
    try:
        days = rebuild(since, say=lambda line: click.echo(f"  {line}"))
    except RebuildRunning as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"rolled up {days} days in {time.perf_counter() - started:.2f} s")


@click.command("update-rollup")
@click.option(
    "--days",
    default=3,
    show_default=True,
    help="Roll the last N days again (late SMS answers, moderation).",
)
@with_appcontext
def update_rollup_command(days):
    """Roll up the days just ended and refresh recent ones, and prune the stored report
    texts; run it from a scheduler (then `flask mscore warm-reports`)."""
    from flask import current_app

    from .extensions import db
    from .reporting.periods import Period, local_today
    from .reporting.rollup import _first_day, fill, refresh_days
    from .reporting.text_store import prune_stored

    started = time.perf_counter()
    _add_partitions(PARTITION_MONTHS_AHEAD)
    today = local_today()
    recent = refresh_days([today - timedelta(days=i) for i in range(1, days + 1)])
    first = _first_day()
    missing = fill(Period(first, today - timedelta(days=1))) if first and first < today else 0
    click.echo(
        f"refreshed {recent} recent days, filled {missing} missing days, months or years "
        f"in {time.perf_counter() - started:.2f} s"
    )
    pruned = prune_stored(current_app.config["REPORT_STORE_DAYS"])
    db.session.commit()
    if pruned:
        click.echo(f"deleted {pruned} stored report texts (old, or over REPORT_STORE_MB)")


#: update-rollup keeps this month's partitions and this many months' ahead (PostgreSQL).
PARTITION_MONTHS_AHEAD = 3


def _add_partitions(months: int) -> None:
    """Create the missing monthly partitions (survey_app/partitions.py) and say what was done."""
    from .extensions import db
    from .partitions import add_coming_partitions

    added = add_coming_partitions(months)
    db.session.commit()
    if added.created:
        click.echo(f"created partitions {', '.join(added.created)}")
    for month in added.in_default:
        click.echo(f"{month:%Y-%m}: its rows are in the DEFAULT partitions; no partition made")


@click.command("add-partitions")
@click.option(
    "--months",
    default=PARTITION_MONTHS_AHEAD,
    show_default=True,
    type=click.IntRange(min=0),
    help="Months ahead of this one to have partitions for.",
)
@with_appcontext
def add_partitions_command(months):
    """Create this month's and the coming months' partitions of responses and answers
    (PostgreSQL; idempotent). update-rollup does it too."""
    _add_partitions(months)


@click.command("prune-rollup")
@click.option(
    "--keep-months",
    default=13,
    show_default=True,
    type=click.IntRange(min=1),
    help="Keep the day rows of the last N months (and of the running one).",
)
@with_appcontext
def prune_rollup_command(keep_months):
    """Delete older day rows of the rollup (their months and years stay); run it monthly."""
    from .reporting.rollup import prune_days

    started = time.perf_counter()
    days = prune_days(keep_months)
    click.echo(f"pruned the day rows of {days} days in {time.perf_counter() - started:.2f} s")


def register(mscore) -> None:
    """Attach the commands to `flask mscore`."""
    commands = (
        report_command,
        rebuild_rollup_command,
        update_rollup_command,
        prune_rollup_command,
        add_partitions_command,
    )
    for command in commands:
        mscore.add_command(command)
