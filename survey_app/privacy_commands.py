"""`flask mscore purge` and `flask mscore subject-request`: retention and data-subject requests
(services/privacy.py does the work; each command is one transaction with its audit line)."""

from __future__ import annotations

import getpass
import json
import os
import re
from datetime import UTC, datetime, timedelta

import click
from flask import current_app
from flask.cli import with_appcontext

RETENTION = re.compile(r"^(\d{1,4})([md])$")


def cutoff_before(older_than: str, now: datetime | None = None) -> datetime:
    """The moment ``older_than`` (``24m`` months or ``730d`` days) before now, in UTC."""
    match = RETENTION.match(older_than.strip())
    if not match:
        raise click.BadParameter("give months or days, e.g. 24m or 730d", param_hint="--older-than")
    count, unit = int(match.group(1)), match.group(2)
    if count == 0:
        raise click.BadParameter("must be at least 1", param_hint="--older-than")
    now = now or datetime.now(UTC)
    if unit == "d":
        return now - timedelta(days=count)
    months = now.year * 12 + now.month - 1 - count
    year, month = divmod(months, 12)
    day = min(now.day, _days_in(year, month + 1))
    return now.replace(year=year, month=month + 1, day=day)


def _days_in(year: int, month: int) -> int:
    after = datetime(year + month // 12, month % 12 + 1, 1)
    return (after - timedelta(days=1)).day


def _actor(by: str | None) -> str:
    return "cli:" + (by or os.environ.get("SUDO_USER") or getpass.getuser())


def _echo_counts(removed: dict, verb: str) -> None:
    kept = removed.pop("kept", {})
    for name, count in removed.items():
        click.echo(f"{verb} {name.replace('_', ' ')}: {count}")
    for name, count in kept.items():
        click.echo(f"kept {name.replace('_', ' ')}: {count}")


@click.command("purge")
@click.option("--older-than", required=True, help="Retention: months (24m) or days (730d).")
@click.option("--dry-run", is_flag=True, help="Count what would be removed; change nothing.")
@click.option("--by", help="Who runs it, for the audit trail (default: the OS user).")
@with_appcontext
def purge_command(older_than: str, dry_run: bool, by: str | None) -> None:
    """Remove phone numbers and contact data of dossiers past retention; keep the answers."""
    from .extensions import db
    from .models.audit import record
    from .services.privacy import purge

    cutoff = cutoff_before(older_than)
    removed = purge(cutoff).as_dict()
    click.echo(f"cut-off: {cutoff.isoformat(timespec='seconds')} (older than {older_than})")
    if dry_run:
        db.session.rollback()
        _echo_counts(removed, "would remove")
        return
    record(
        _actor(by),
        "purge",
        "contact_data",
        before={"older_than": older_than, "cutoff": cutoff.isoformat()},
        after=removed,
    )
    db.session.commit()
    _echo_counts(removed, "removed")


@click.command("subject-request")
@click.option("--phone", required=True, help="The citizen's phone number (any usual format).")
@click.option("--export", "export_path", type=click.Path(dir_okay=False), help="Write a JSON file.")
@click.option("--erase", is_flag=True, help="Erase what is held; the anonymous answers stay.")
@click.option("--reference", help="The request's reference (a ticket), for the audit trail.")
@click.option("--by", help="Who runs it, for the audit trail (default: the OS user).")
@with_appcontext
def subject_request_command(phone, export_path, erase, reference, by) -> None:
    """Find what is held for one phone number (by its keyed hash) and export or erase it."""
    from .extensions import db
    from .models.audit import record
    from .protection import normalize_phone, phone_hash
    from .services import privacy

    if bool(export_path) == bool(erase):
        raise click.UsageError("give exactly one of --export FILE and --erase")
    e164, _status = normalize_phone(phone, current_app.config["PHONE_DEFAULT_REGION"])
    if e164 is None:
        raise click.BadParameter("not a valid phone number", param_hint="--phone")
    key = phone_hash(e164)
    meta = {"reference": reference} if reference else {}
    if export_path:
        held = privacy.export(key)
        document = {
            "phone": e164,
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            **held,
        }
        # Only the operator may read the file: it holds the number in clear.
        fd = os.open(export_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, ensure_ascii=False, indent=2)
        counts = {name: len(rows) for name, rows in held.items()}
        record(_actor(by), "subject_request.export", "phone", before=meta or None, after=counts)
        db.session.commit()
        _echo_counts({**counts, "kept": {}}, "exported")
        click.echo(f"wrote {export_path} (it holds the phone number: hand it over, then delete it)")
        return
    removed = privacy.erase(key).as_dict()
    record(_actor(by), "subject_request.erase", "phone", before=meta or None, after=removed)
    db.session.commit()
    _echo_counts(removed, "erased")


def register(mscore) -> None:
    """Attach the commands to `flask mscore`."""
    for command in (purge_command, subject_request_command):
        mscore.add_command(command)
