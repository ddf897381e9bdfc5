"""The `flask mscore` command group; each feature module registers its own commands."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

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
    click.echo(f"  English:                     {base}/s/{office.code}?lang=en")
    click.echo(f"  Officials' sign-in:          {base}/login")
    click.echo(f"  Dashboard:                   {base}/dashboard")
    click.echo(f"  An office's page:            {base}/offices/{office.code}\n")


@mscore.command("create-user")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(["admin", "analyst", "office_manager"]), required=True)
@click.option("--office", "office_code", help="Office code (required for office_manager).")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input (for scripts).",
)
@with_appcontext
def create_user_command(email, name, role, office_code, password_stdin) -> None:
    """Create an official who can sign in; the password is asked for (never an option)."""
    from .dashboard.auth import MIN_PASSWORD_LENGTH
    from .dashboard.users import UserError, create_user

    if password_stdin:
        password = click.get_text_stream("stdin").readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise click.BadParameter(
            f"the password must have at least {MIN_PASSWORD_LENGTH} characters",
            param_hint="password",
        )
    try:
        create_user(email, name, role, office_code, password)
    except UserError as error:
        raise click.BadParameter(str(error), param_hint=error.param) from None
    db.session.commit()
    click.echo(f"created {role} {email.lower()}")


@mscore.command("demo-users")
@with_appcontext
def demo_users_command() -> None:
    """Create or reset one demo official per role with a new random password, and print them
    (not in production)."""
    from .dashboard.users import reset_demo_users

    if current_app.config.get("MSCORE_ENV") == "production":
        raise click.ClickException("demo users are never made in production")
    users = reset_demo_users()
    db.session.commit()
    base = current_app.config["PUBLIC_BASE_URL"]
    click.echo(f"\nSign in at {base}/login (passwords are new on every run):")
    for role, email, password, office in users:
        where = f" (office {office} and the offices under it)" if office else ""
        click.echo(f"  {role:<15} {email:<28} {password}{where}")


def init_app(app: Flask) -> None:
    """Attach the `mscore` command group and the feature modules' commands."""
    from . import demo, importers, key_rotation, privacy_commands, qr, report_commands
    from .kiosk import commands as kiosk_commands

    modules = (demo, importers, qr, report_commands, privacy_commands, key_rotation, kiosk_commands)
    for module in modules:
        module.register(mscore)  # `import` commands attach to cli.import_group themselves
    app.cli.add_command(mscore)
