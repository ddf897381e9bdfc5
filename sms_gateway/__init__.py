"""The SMS channel: providers, texts, reply parsing, conversations, the outbox worker, webhooks."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

sms_cli = AppGroup("sms", help="The SMS channel.")


@sms_cli.command("worker")
@click.option("--once", is_flag=True, help="Process what is due now, then exit.")
def worker_command(once: bool) -> None:
    """Claim due invitations and send them through the configured provider."""
    raise click.ClickException("the SMS worker is not built yet (issue: the SMS channel)")


def init_app(app: Flask) -> None:
    """Register the /sms blueprint and the `flask sms` commands."""
    app.cli.add_command(sms_cli)
