"""The SMS channel: providers, texts, reply parsing, conversations, the outbox worker, webhooks."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

sms_cli = AppGroup("sms", help="The SMS channel.")


@sms_cli.command("worker")
@click.option("--once", is_flag=True, help="Process what is due now, then exit.")
@with_appcontext
def worker_command(once: bool) -> None:
    """Claim due invitations and send them through the configured provider."""
    from survey_app.observability import configure_logging

    from .worker import run_worker

    configure_logging(current_app.config, text_fallback=True)  # JSON in production
    sent = run_worker(once=once)
    click.echo(f"sent {sent}")


def init_app(app: Flask) -> None:
    """Register the /sms blueprint (CSRF-exempt: Twilio signs instead) and `flask sms`."""
    from survey_app.extensions import csrf

    from .webhooks import bp

    csrf.exempt(bp)
    app.register_blueprint(bp)
    app.cli.add_command(sms_cli)
