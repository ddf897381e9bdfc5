"""The SMS channel: providers, texts, reply parsing, conversations, the outbox worker, webhooks."""

from __future__ import annotations

import logging

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

sms_cli = AppGroup("sms", help="The SMS channel.")


@sms_cli.command("worker")
@click.option("--once", is_flag=True, help="Process what is due now, then exit.")
@with_appcontext
def worker_command(once: bool) -> None:
    """Claim due invitations and send them through the configured provider."""
    from .worker import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    worker = run_worker(once=once)
    for line in worker.explain():
        click.echo(line)
    click.echo(f"sent {worker.sent}")  # the last line: scripts read the count from it


MODES = ("reply", "link")


def init_app(app: Flask) -> None:
    """Check SMS_MODE and the texts, register the /sms blueprint (CSRF-exempt: Twilio signs
    instead) and `flask sms`."""
    from survey_app.config import ConfigError
    from survey_app.extensions import csrf

    from .texts import check_texts
    from .webhooks import bp

    if app.config.get("SMS_MODE") not in MODES:
        raise ConfigError(f"SMS_MODE={app.config.get('SMS_MODE')!r}: use 'reply' or 'link'")
    check_texts(app)

    csrf.exempt(bp)
    app.register_blueprint(bp)
    app.cli.add_command(sms_cli)
