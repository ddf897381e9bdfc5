"""The database's store of report texts (``report_texts``): the report API's texts and the
officials' pages' documents of ended periods, under their tags (kept.py), so that a text
computed once is every process's and survives a restart.

``update-rollup`` prunes texts stored more than REPORT_STORE_DAYS ago (a tag no request makes
any more, its rollup or catalogue changed, is never read again) and the oldest over
REPORT_STORE_MB. ``warm-reports`` finds most of what it warms stored by an earlier night; within
:func:`refreshing` every text it reads, and each family of texts stored with one it reads
(:func:`refresh_families`: an office page's other offices' parts), counts as stored that
night, so what is still warmed is never pruned for its age, and no night every
REPORT_STORE_DAYS computes everything again.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from datetime import timedelta

import orjson
from flask import current_app, g
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ..extensions import db
from ..models import ReportText, utcnow

log = logging.getLogger(__name__)

_USED = "mscore_store_used"  # flask.g attribute: the keys read within refreshing()


@contextmanager
def refreshing():
    """Within, every stored text read (:func:`stored_text`, :func:`ensure_stored`) is marked
    stored now (:func:`refresh_stored`) when it is left, in the session's transaction."""
    outer = g.get(_USED)
    setattr(g, _USED, set() if outer is None else outer)
    try:
        yield
    finally:
        used = g.get(_USED)
        setattr(g, _USED, outer)
    if outer is None:
        refresh_stored(used)


def _used(key: str) -> None:
    used = g.get(_USED)
    if used is not None:
        used.add(key)


def refresh_stored(keys: Iterable[str]) -> int:
    """Mark the texts stored under ``keys`` (those that are) stored now, where they were
    stored more than half REPORT_STORE_DAYS ago (a text read every night is written again
    about twice within the days it is kept, not every night); returns how many."""
    old, now = _old()
    keys, done = sorted(set(keys)), 0
    for i in range(0, len(keys), 1000):
        where = (ReportText.tag.in_(keys[i : i + 1000]), old)
        done += db.session.execute(update(ReportText).where(*where).values(stored_at=now)).rowcount
    return done


def refresh_families(families: Iterable[tuple[str, Callable[[], Iterable[str]]]]) -> int:
    """:func:`refresh_stored` of each family of texts stored at once, given as the key of one
    of them and a function naming them all, where that text is due to be marked: most nights
    none is, and only one key per family is made and looked up, not every key (a commune
    group's period and trend months name 43,000 texts)."""
    families = list(families)
    old, _now = _old()
    heads = [head for head, _names in families]
    due = set(db.session.scalars(select(ReportText.tag).where(ReportText.tag.in_(heads), old)))
    return refresh_stored(key for head, names in families if head in due for key in names())


def _old():
    """The condition of a text due to be marked stored again, and now."""
    days = float(current_app.config.get("REPORT_STORE_DAYS", 35))
    now = utcnow()
    return ReportText.stored_at < now - timedelta(days=days / 2), now


def document_key(key: str) -> str:
    """The store's key of an officials' page's document of report tag ``key`` (the API's
    text of the same tag is another text)."""
    return hashlib.sha256(f"document {key}".encode()).hexdigest()[:40]


def store_documents(documents: dict[str, dict]) -> None:
    """Store documents as :func:`kept_document` would, under their keys, in the request's
    transaction, in a few statements (a key already stored keeps its text, the same): a
    group's offices' parts of its documents, written at once."""
    limit = store_limit()
    if limit <= 0 or not documents:
        return
    now, rows = utcnow(), []
    for key, document in documents.items():
        try:
            body = orjson.dumps(document)
        except TypeError:  # not plain JSON: computed again when asked (kept_document)
            continue
        if 0 < len(body) <= limit:
            rows.append(
                {"tag": document_key(key), "body": body, "size": len(body), "stored_at": now}
            )
    dialect = db.session.get_bind().dialect.name
    into = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(ReportText)
    try:
        with db.session.begin_nested():
            for i in range(0, len(rows), 1000):
                db.session.execute(into.on_conflict_do_nothing(), rows[i : i + 1000])
    except SQLAlchemyError as error:  # e.g. a read-only primary: the parts are computed again
        log.warning("%d report documents not stored: %s", len(rows), error.__class__.__name__)


def store_limit() -> int:
    """REPORT_STORE_MB (default 1024; 0 turns the store off) in bytes: the stored texts' total
    after ``prune_stored``, and the largest text stored."""
    return int(float(current_app.config.get("REPORT_STORE_MB", 1024)) * 1_000_000)


def stored_text(key: str) -> bytes | None:
    """The text stored under ``key`` (read on the primary, where it is written)."""
    if store_limit() <= 0:
        return None
    body = db.session.scalar(select(ReportText.body).where(ReportText.tag == key))
    if body is not None:
        _used(key)
    return body


def stored_slices(key: str, spans: list[tuple[int, int]]) -> list[bytes] | None:
    """Parts of the text stored under ``key``, each (start, length) from its first byte (0),
    read by one query that reads only them: PostgreSQL keeps the texts uncompressed
    (migration 0110), so a slice of a 10 MB text reads the few pages it lies in. None where
    nothing is stored."""
    if store_limit() <= 0 or not spans:
        return None
    parts = [func.substr(ReportText.body, start + 1, length) for start, length in spans]
    row = db.session.execute(select(*parts).where(ReportText.tag == key)).first()
    if row is None:
        return None
    _used(key)
    return [bytes(part) for part in row]


def stored_keys(keys: Iterable[str]) -> set[str]:
    """Which of ``keys`` the store holds (their texts are not read)."""
    keys = sorted(set(keys))
    if store_limit() <= 0 or not keys:
        return set()
    return set(db.session.scalars(select(ReportText.tag).where(ReportText.tag.in_(keys))))


def store_text(key: str, body: bytes) -> None:
    """Store a computed text in the request's transaction (its commit makes it every
    process's); another process that stored the same tag first wins, with the same text."""
    if not 0 < len(body) <= store_limit():
        return
    try:
        with db.session.begin_nested():
            db.session.add(ReportText(tag=key, body=body, size=len(body)))
    except IntegrityError:
        pass  # stored meanwhile under the same tag: the same text
    except SQLAlchemyError as error:  # e.g. a read-only primary: the text is still sent
        log.warning("report text %s not stored: %s", key, error.__class__.__name__)


def ensure_stored(key: str, compute) -> None:
    """Store ``compute()``'s text under ``key`` unless the store holds one (only its key is
    read), in the request's transaction."""
    if store_limit() <= 0:
        return
    if db.session.scalar(select(ReportText.tag).where(ReportText.tag == key)) is None:
        store_text(key, compute())
    else:
        _used(key)


def stored_size() -> int:
    """The stored texts' total size in bytes (what ``prune_stored`` bounds)."""
    return int(db.session.scalar(select(func.coalesce(func.sum(ReportText.size), 0))))


def prune_stored(days: int) -> int:
    """Delete the texts stored more than ``days`` ago, then the oldest ones over the store's
    limit (REPORT_STORE_MB); returns how many were deleted. Texts of tags no request makes any
    more (the period's rollup or the catalogue changed) go this way."""
    cutoff = utcnow() - timedelta(days=days)
    deleted = db.session.execute(delete(ReportText).where(ReportText.stored_at < cutoff)).rowcount
    total, over = 0, []
    sizes = db.session.execute(
        select(ReportText.tag, ReportText.size).order_by(ReportText.stored_at.desc())
    )
    for key, size in sizes:
        total += size
        if total > store_limit():
            over.append(key)
    if over:
        db.session.execute(delete(ReportText).where(ReportText.tag.in_(over)))
    return deleted + len(over)
