"""`flask mscore seed-demo`: a demo province with a year of dossiers, SMS invitations, responses
and answers, deterministic for a seed.

province.py builds the offices, counters and services (ORM: a few hundred rows); simulate.py draws
the activity with numpy; bulk.py inserts it with Core executemany in chunks; summary.py gives a
checksum by natural keys so two runs can be compared.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import click
import numpy as np
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select

from ..extensions import db
from ..models import Office
from ..services.questionnaires import ensure_default_questionnaire
from .bulk import answer_rows, write
from .province import build_province
from .simulate import simulate
from .summary import checksum


def period_end(day: datetime | None = None) -> datetime:
    """The end of the demo year: local midnight at the start of `day` (default today)."""
    zone = ZoneInfo(current_app.config.get("TIMEZONE", "Asia/Ho_Chi_Minh"))
    local = (day or datetime.now(zone)).date()
    return datetime(local.year, local.month, local.day, tzinfo=zone)


def seed_demo(seed: int, n_responses: int, end: datetime, progress=None) -> dict[str, int]:
    """Create the demo province and its year of activity (flush only); returns row counts.

    `progress(length)` gives a context manager with `update(n)`, such as click.progressbar.
    """
    rng = np.random.default_rng(seed)
    questionnaire = ensure_default_questionnaire()
    offices, services = build_province(rng)
    plan = simulate(rng, offices, [s.field for s in services], n_responses, end)
    answers = answer_rows(rng, plan, offices, questionnaire)
    people = len(np.unique(plan.d_phone[plan.d_phone >= 0]))
    length = people + len(plan.d_office) + len(plan.i_dossier) + len(plan.r_time) + len(answers)
    with progress(length) if progress else _Silent() as bar:
        counts = write(rng, plan, offices, services, questionnaire, answers, bar.update)
    counts.update(
        offices=len(offices), counters=sum(len(o.counters) for o in offices), services=len(services)
    )
    return counts


def detail_share() -> float:
    """The share of QR web responses that answered at least one question besides the required
    overall rating (what "Send now" leaves out)."""
    from ..models import Answer, Channel, Question, Response

    qr = select(Response.id).where(
        Response.channel == Channel.QR_WEB, Response.dossier_id.is_(None)
    )
    detailed = (
        select(func.count(func.distinct(Answer.response_id)))
        .join(Question, Question.id == Answer.question_id)
        .where(Answer.response_id.in_(qr), Question.is_required.is_(False))
    )
    total = db.session.scalar(select(func.count()).select_from(qr.subquery()))
    return db.session.scalar(detailed) / total if total else 0.0


class _Silent:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n: int) -> None:
        pass


@click.command("seed-demo")
@click.option("--seed", default=2024, show_default=True, help="Random seed: same seed, same data.")
@click.option(
    "--responses",
    "n_responses",
    default=50_000,
    show_default=True,
    type=click.IntRange(200, 10_000_000),
    help="How many survey responses to make.",
)
@click.option("--if-empty", is_flag=True, help="Do nothing (with a message) if offices exist.")
@click.option(
    "--end-date",
    type=click.DateTime(["%Y-%m-%d"]),
    hidden=True,
    help="The demo year ends at the start of this day (default today).",
)
@click.option(
    "--checksum",
    "show_checksum",
    is_flag=True,
    help="Print a checksum of the data (same seed, same checksum).",
)
@with_appcontext
def seed_demo_command(seed, n_responses, if_empty, end_date, show_checksum) -> None:
    """Seed a demo province: offices, counters, services, 12 months of dossiers and responses."""
    if db.session.scalar(select(func.count()).select_from(Office)):
        if if_empty:
            click.echo("Offices already exist: the demo data was not seeded.")
            return
        raise click.ClickException(
            "the database already has offices; seed-demo needs an empty "
            "one (or pass --if-empty to skip quietly)"
        )
    started = time.perf_counter()
    end = period_end(end_date)

    def progress(length: int):
        return click.progressbar(length=length, label="Seeding the demo province")

    try:
        counts = seed_demo(seed, n_responses, end, progress)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    first = (end - timedelta(days=365)).date()
    click.echo(
        ", ".join(f"{n:,} {name}" for name, n in counts.items())
        + f" from {first} to {end.date() - timedelta(days=1)}"
        + f" in {time.perf_counter() - started:.1f} s"
    )
    click.echo(f"QR respondents who answered details (not only Send now): {detail_share():.0%}")
    if show_checksum:
        click.echo(f"seed {seed}, checksum {checksum()}")


def register(group) -> None:
    """Attach `flask mscore seed-demo` to the group."""
    group.add_command(seed_demo_command)
