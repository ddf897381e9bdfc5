"""`flask mscore rotate-phone-key`: re-encrypt the stored phone numbers under the first key of
PHONE_ENCRYPTION_KEY, in batches (one commit each, so it can be stopped and run again), after
the new key was put in front of the old one."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import bindparam, func, select, update

from .extensions import db
from .models import Dossier
from .protection import encryption_keys, is_under_first_key, reencrypt_phone


def rotate_batch(after_id: int, size: int) -> tuple[int, int, int]:
    """Re-encrypt one batch of dossiers with ids above `after_id`; flushes. The last id seen,
    how many were read and how many re-encrypted (those under the first key already are not)."""
    rows = db.session.execute(
        select(Dossier.id, Dossier.phone_encrypted)
        .where(Dossier.id > after_id, Dossier.phone_encrypted.is_not(None))
        .order_by(Dossier.id)
        .limit(size)
    ).all()
    changed = [
        {"b_id": row.id, "b_token": reencrypt_phone(row.phone_encrypted)}
        for row in rows
        if not is_under_first_key(row.phone_encrypted)
    ]
    if changed:
        table = Dossier.__table__
        db.session.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(phone_encrypted=bindparam("b_token")),
            changed,
        )
    return (rows[-1].id if rows else after_id), len(rows), len(changed)


@click.command("rotate-phone-key")
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(1, 100_000))
@with_appcontext
def rotate_phone_key_command(batch_size: int) -> None:
    """Re-encrypt stored phone numbers under the first key of PHONE_ENCRYPTION_KEY."""
    from flask import current_app

    if len(encryption_keys(current_app.config["PHONE_ENCRYPTION_KEY"])) < 2:
        click.echo(
            "PHONE_ENCRYPTION_KEY holds one key: put the new key first, then the old one, "
            "separated by a comma, and run this again."
        )
    total = db.session.scalar(select(func.count()).where(Dossier.phone_encrypted.is_not(None)))
    last_id, read, rotated = 0, 0, 0
    while True:
        try:
            last_id, count, changed = rotate_batch(last_id, batch_size)
        except ValueError as error:  # a number no key opens: stop, keep what was done
            db.session.rollback()
            raise click.ClickException(f"after dossier id {last_id}: {error}") from error
        db.session.commit()
        if not count:
            break
        read, rotated = read + count, rotated + changed
        click.echo(f"{read}/{total} numbers read, {rotated} re-encrypted")
    click.echo(
        f"done: {rotated} re-encrypted, {read - rotated} were under the first key already. "
        "Remove the old key from PHONE_ENCRYPTION_KEY once every process runs with the new one."
    )


def register(mscore) -> None:
    """Attach the command to `flask mscore`."""
    mscore.add_command(rotate_phone_key_command)
