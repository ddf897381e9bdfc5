"""`flask mscore kiosk enrol|code|list|revoke`: the officials' kiosk page from the command line
(one transaction per command, with its audit event)."""

from __future__ import annotations

import getpass
import os

import click
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from ..extensions import db
from ..i18n import local_time
from ..models import Counter, Kiosk, Office
from ..services.kiosks import KioskError, Pairing, enrol, issue_pairing, revoke

kiosk_group = AppGroup("kiosk", help="Rating tablets at the counters: enrol, list, revoke.")


def _actor(by: str | None) -> str:
    return "cli:" + (by or os.environ.get("SUDO_USER") or getpass.getuser())


def _when(moment) -> str:
    return local_time(moment).strftime("%Y-%m-%d %H:%M") if moment else "-"


def _kiosk(code: str) -> Kiosk:
    kiosk = db.session.scalar(select(Kiosk).where(Kiosk.code == code))
    if kiosk is None:
        raise click.BadParameter(f"no kiosk with code {code!r}", param_hint="KIOSK")
    return kiosk


def _echo_pairing(pairing: Pairing) -> None:
    click.echo(f"kiosk:        {pairing.kiosk.code} ({pairing.kiosk.name})")
    click.echo(f"pairing code: {pairing.display_code}  (type it at /k/pair on the tablet)")
    click.echo(f"or open:      {pairing.url}")
    click.echo(f"valid until:  {_when(pairing.expires_at)} (once)")


@kiosk_group.command("enrol")
@click.option("--office", "office_code", required=True, help="The office's code.")
@click.option("--counter", "counter_code", help="The counter's code (none: the whole office).")
@click.option("--name", default="", help="What to call the tablet (default: the counter's name).")
@click.option("--by", help="Who enrols it, for the audit trail (default: the OS user).")
@with_appcontext
def enrol_command(office_code: str, counter_code: str | None, name: str, by: str | None) -> None:
    """Enrol a tablet for an office's counter and print its pairing code."""
    office = db.session.scalar(select(Office).where(Office.code == office_code))
    if office is None:
        raise click.BadParameter(f"no office with code {office_code!r}", param_hint="--office")
    counter = None
    if counter_code:
        counter = db.session.scalar(
            select(Counter).where(Counter.office_id == office.id, Counter.code == counter_code)
        )
        if counter is None:
            raise click.BadParameter(
                f"office {office_code} has no counter {counter_code!r}", param_hint="--counter"
            )
    try:
        pairing = enrol(office, counter, name, _actor(by))
    except KioskError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    _echo_pairing(pairing)


@kiosk_group.command("code")
@click.argument("code", metavar="KIOSK")
@click.option("--by", help="Who asks, for the audit trail (default: the OS user).")
@with_appcontext
def code_command(code: str, by: str | None) -> None:
    """A new pairing code for a kiosk (a new tablet, or one that lost its cookie)."""
    try:
        pairing = issue_pairing(_kiosk(code), _actor(by))
    except KioskError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    _echo_pairing(pairing)


@kiosk_group.command("list")
@click.option("--office", "office_code", help="Only this office's kiosks.")
@click.option("--all", "show_all", is_flag=True, help="Revoked kiosks too.")
@with_appcontext
def list_command(office_code: str | None, show_all: bool) -> None:
    """The kiosks: code, office, counter, name, state, paired and last seen (local time)."""
    query = select(Kiosk).join(Office).order_by(Office.code, Kiosk.counter_id, Kiosk.id)
    if office_code:
        query = query.where(Office.code == office_code)
    if not show_all:
        query = query.where(Kiosk.revoked_at.is_(None))
    kiosks = db.session.scalars(query).all()
    if not kiosks:
        click.echo("no kiosks")
        return
    click.echo("code      office    counter   state     paired            last seen         name")
    for k in kiosks:
        counter = k.counter.code if k.counter else "-"
        click.echo(
            f"{k.code:<9} {k.office.code:<9} {counter:<9} {k.status:<9} "
            f"{_when(k.paired_at):<17} {_when(k.last_seen_at):<17} {k.name}"
        )


@kiosk_group.command("revoke")
@click.argument("code", metavar="KIOSK")
@click.option("--by", help="Who revokes it, for the audit trail (default: the OS user).")
@with_appcontext
def revoke_command(code: str, by: str | None) -> None:
    """Revoke a kiosk: its tablet takes no more ratings."""
    kiosk = _kiosk(code)
    if not revoke(kiosk, _actor(by)):
        click.echo(f"kiosk {code} was already revoked")
        return
    db.session.commit()
    click.echo(f"revoked kiosk {code} ({kiosk.name}); its tablet takes no more ratings")


def register(group) -> None:
    """Attach `kiosk` to the `flask mscore` group."""
    group.add_command(kiosk_group)
