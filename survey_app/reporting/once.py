"""What an officials' page makes once while it gets its documents (kept.one_commit): the same
tag, the same rollup check, the same parameters are asked for each of its thirteen months
several times (a manager's office page: 65 tags, 40 different)."""

from __future__ import annotations

from flask import g, has_app_context

from ..extensions import db

ONE_COMMIT = "mscore_kept_one_commit"  # flask.g attribute: within kept.one_commit()
_MADE = "mscore_kept_made"  # flask.g attribute: by name, what is made once within it


def made_once(name: str) -> dict | None:
    """Within kept.one_commit (a page's documents), a dictionary by ``name`` of what is made
    once there; forgotten when the outermost one_commit ends (:func:`forget`). None outside."""
    if not has_app_context() or not g.get(ONE_COMMIT):
        return None
    return g.setdefault(_MADE, {}).setdefault(name, {})


def made_in_transaction(name: str) -> dict | None:
    """:func:`made_once` for what holds within the session's transaction alone (a rollup bucket
    built, a tag made of the buckets' build times): a new transaction (a commit: buckets built
    meanwhile) starts anew."""
    made = made_once(name)
    if made is None:
        return None
    connection = db.session.connection()
    if made.get("connection") is not connection:
        made.clear()
        made["connection"] = connection
    return made


def forget() -> None:
    """Forget what was made once (the outermost one_commit ends; rollup days marked stale)."""
    if has_app_context():
        g.pop(_MADE, None)
