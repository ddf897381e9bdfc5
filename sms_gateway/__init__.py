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
    worker = run_worker(once=once)
    for line in worker.explain():
        click.echo(line)
    click.echo(f"sent {worker.sent}")  # the last line: scripts read the count from it


MODES = ("reply", "link")
#: The texts each mode can send, invitation first (replies to replies where the sender gets any).
SENT = {
    "link": ("invitation_link", "link_reply", "help_link", "stop", "start", "done"),
    "reply": ("invitation", "retry", "move_on", "thanks", "help", "stop", "start", "done"),
}


@sms_cli.command("templates")
@click.option("--language", default=None, help="Only this language (vi, en).")
@with_appcontext
def templates_command(language: str | None) -> None:
    """Print the texts SMS_MODE sends as carriers register them: each template and its longest
    form here (the longest dossier code, this deployment's link) with its segment count."""
    from flask import current_app

    from .texts import DEFAULT_TEXTS, longest_invitation, question_text, segments, template, text

    mode = current_app.config["SMS_MODE"]
    codes = ["overall", *[c.strip() for c in current_app.config["SMS_QUESTIONS"] if c.strip()]]
    keys = [*SENT[mode], "expired", "unknown"]
    if mode == "reply":
        keys += [f"q_{code}" for code in codes]
    for lang in [language] if language else list(DEFAULT_TEXTS):
        click.echo(f"SMS_MODE={mode}, language {lang}:")
        longest_question = max((question_text(c, lang) for c in codes), key=len)
        link = longest_invitation(lang).split()[-1]
        for key in dict.fromkeys(keys):
            if key.startswith("invitation"):
                longest = longest_invitation(lang)
            elif key.startswith("q_"):
                longest = question_text(key[2:], lang)
            else:
                longest = text(key, lang, question=longest_question, link=link)
            encoding, count = segments(longest)
            click.echo(f"  {key} (at most {count} {encoding} segments)")
            click.echo(f"    template: {template(key, lang)}")
            click.echo(f"    longest:  {longest}")


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
