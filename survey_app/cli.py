"""The `flask mscore` command group; each feature module registers its own commands."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from .extensions import db

mscore = AppGroup("mscore", help="mscore administration: demo data, imports, QR posters, users.")
import_group = AppGroup("import", help="Import CSV files (UTF-8); a bad file is rejected whole.")
mscore.add_command(import_group)


@mscore.command("urls")
@with_appcontext
def urls_command() -> None:
    """Print the URLs worth opening in a browser after `make demo` (at PUBLIC_BASE_URL)."""
    from .models import Counter, Office

    office = db.session.scalars(select(Office).where(Office.is_active).order_by(Office.id)).first()
    base = current_app.config["PUBLIC_BASE_URL"]
    click.echo(f"\nmscore is starting on {base}")
    if office is None:
        click.echo("No offices yet: run `flask mscore seed-demo`.")
        return
    counter = db.session.scalars(select(Counter).where(Counter.office_id == office.id)).first()
    click.echo(f"  Survey page ({office.name}):  {base}/s/{office.code}")
    if counter:
        click.echo(f"  Survey page at a counter:    {base}/s/{office.code}/{counter.code}")
    click.echo(f"  QR poster (PNG):             {base}/qr/{office.code}.png")
    click.echo(f"  English:                     {base}/s/{office.code}?lang=en\n")


@mscore.command("create-user")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(["admin", "analyst", "office_manager"]), required=True)
@click.option("--office", "office_code", help="Office code (required for office_manager).")
@click.password_option()
@with_appcontext
def create_user_command(email, name, role, office_code, password) -> None:
    """Create an official who can sign in."""
    from .models import Office, Role, User

    office = None
    if office_code:
        office = db.session.scalar(select(Office).where(Office.code == office_code))
        if office is None:
            raise click.BadParameter(f"no office with code {office_code!r}", param_hint="--office")
    if role == Role.OFFICE_MANAGER and office is None:
        raise click.BadParameter("an office manager needs --office", param_hint="--office")
    if db.session.scalar(select(User).where(User.email == email.lower())):
        raise click.BadParameter(f"a user with email {email!r} exists", param_hint="--email")
    db.session.add(
        User(
            email=email.lower(),
            name=name,
            role=Role(role),
            office=office,
            password_hash=generate_password_hash(password),
        )
    )
    db.session.commit()
    click.echo(f"created {role} {email}")


def init_app(app: Flask) -> None:
    """Attach the `mscore` command group and the feature modules' commands."""
    from . import demo, importers, key_rotation, privacy_commands, qr, report_commands
    from .kiosk import commands as kiosk_commands

    modules = (demo, importers, qr, report_commands, privacy_commands, key_rotation, kiosk_commands)
    for module in modules:
        module.register(mscore)  # `import` commands attach to cli.import_group themselves
    app.cli.add_command(mscore)
