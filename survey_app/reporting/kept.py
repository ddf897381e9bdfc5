"""Reports of ended periods, kept in each process's memory while what they were computed from
is unchanged.

A period that has ended changes only when its rollup does (a late answer, a flagged response or
an import marks its days stale; the rollup builds them again with a new ``rolled_at``) or when
the catalogue does (the offices, their names, groups and parents, the questions, the services'
fields). A kept report's key, :func:`tag`, holds the request's parameters and both of these, so
a changed source is a new key: a kept report is what the same request would compute now. The
tag is the same in every process. A period that includes today has no tag and is always
computed. (The API's HTTP entity tag is a digest of the text itself, api/reports.py: the tag
moves with any office's change, a caller's text only with its own document.)

The API's texts are also stored in the database under their tags (``report_texts``), so that a
text computed once is every process's, and survives a restart: ``flask mscore warm-reports``
computes the texts officials ask for most (the last month and year, nationally and per
province) after the nightly ``update-rollup``, and ``update-rollup`` prunes old ones
(text_store.py).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import orjson
from flask import current_app, g
from sqlalchemy import Text, cast, func, literal, select, tuple_
from sqlalchemy.dialects.postgresql import aggregate_order_by

from ..extensions import db
from ..models.rollups import RollupDay
from .catalogue import questions_query, services_query, universe_query
from .once import ONE_COMMIT, forget, made_in_transaction
from .periods import Period, local_today
from .report import Params, Report, build_report, build_reports
from .rollup import buckets
from .source import report_session
from .text_store import document_key, store_limit, store_text, stored_text

log = logging.getLogger(__name__)

_CATALOGUE = "mscore_catalogue_stamp"  # flask.g attribute: (connection, catalogue digest)


def rollup_stamp(session, period: Period) -> tuple:
    """When each rollup bucket that a past period's report reads was last built: the buckets
    that tile it (rollup.buckets), not every bucket within it. A year's report reads its year
    row alone, so days or months of that year built later (a page's trend months, days that
    `prune-rollup` deleted and a custom period rolled again) leave its tag as it was; a change
    to one of its days deletes the year's mark with the day's (staleness.py), so the year is
    built again, with a new time."""
    wanted = set(buckets(period))
    rows = session.execute(
        select(RollupDay.grain, RollupDay.day, RollupDay.rolled_at).where(
            RollupDay.day >= period.start, RollupDay.day <= period.end
        )
    ).all()
    return tuple(sorted((g, d.isoformat(), r.isoformat()) for g, d, r in rows if (g, d) in wanted))


def catalogue_stamp(session) -> str:
    """A digest of every catalogue row a report reads (offices, questions and their versions,
    services), read once per transaction (a dashboard page asks for a dozen months' reports in
    one)."""
    connection = session.connection()  # a new one with each transaction
    kept = g.get(_CATALOGUE)
    if kept is not None and kept[0] is connection:
        return kept[1]
    # the rows themselves, read as the report reads them (catalogue.py)
    queries = (universe_query(), questions_query(), services_query())
    digest = hashlib.sha256()
    if connection.dialect.name == "postgresql":
        # digested where they are: at national scale (10,000 offices) 60 ms fewer per tag
        digest.update(repr(session.execute(select(*map(_rows_md5, queries))).one()).encode())
    else:
        for query in queries:
            ordered = query.order_by(None).order_by(query.selected_columns[0])
            digest.update(repr(session.execute(ordered).all()).encode())
    stamp = digest.hexdigest()
    setattr(g, _CATALOGUE, (connection, stamp))
    return stamp


def _rows_md5(query):
    """A scalar subquery: the MD5 of the text of a query's rows, comma-separated (a row's text
    quotes the commas in its values) in the order of its first column, a unique id
    (PostgreSQL)."""
    rows = query.order_by(None).subquery()
    line = cast(tuple_(*rows.c), Text)
    agg = func.string_agg(line, aggregate_order_by(literal(","), rows.c[0]))
    return select(func.coalesce(func.md5(agg), "")).scalar_subquery()


#: The settings a report's figures depend on (config.py).
SETTINGS = ("PAR_MAX_POINTS", "REPORT_MIN_CELL", "REPORT_TIER_TARGET", "TIMEZONE")


@cache
def code_stamp() -> str:
    """A digest of the code that computes reports (``analysis`` and this package): a new
    release with other statistics makes new tags."""
    root = Path(__file__).resolve().parents[2]
    digest = hashlib.sha256()
    for package in ("analysis", "survey_app/reporting"):
        for path in sorted((root / package).rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _canonical(value):
    """Parameters in a form whose text is the same in every process (sets sorted)."""
    if isinstance(value, frozenset | set):
        return sorted(value)
    if isinstance(value, Period):
        return (value.start.isoformat(), value.end.isoformat())
    return value


def tag(params: Params, breakdowns: bool) -> str | None:
    """The key of an ended period's report: a digest of the parameters, the rollup buckets'
    build times and the catalogue, read where the report reads (source.py; missing buckets are
    built first), the report's settings and code. None when the period includes today or the
    report reads raw responses."""
    periods = [params.period] + ([params.period.previous()] if params.compare else [])
    if params.source == "raw" or params.period.end >= local_today():
        return None
    # within a page's documents, made once in a transaction (once.py): a page asks for each
    # month's tags several times, each reading the month's rollup buckets
    made = made_in_transaction("tags")
    if made is not None and (params, breakdowns) in made:
        return made[(params, breakdowns)]
    session = report_session(periods)
    fields = {f.name: _canonical(getattr(params, f.name)) for f in dataclasses.fields(params)}
    stamp = (
        sorted(fields.items()),
        breakdowns,
        [rollup_stamp(session, p) for p in periods],
        catalogue_stamp(session),
        [(name, current_app.config.get(name)) for name in SETTINGS],
        code_stamp(),
    )
    key = hashlib.sha256(repr(stamp).encode()).hexdigest()[:40]
    if made is not None:
        made[(params, breakdowns)] = key
    return key


class Kept:
    """Values by key within a limit of their total weight (bytes for texts, 1 for a report or a
    document), the least recently used dropped first, each for at most ``seconds`` (given to
    :meth:`get`)."""

    def __init__(self) -> None:
        self._items: OrderedDict = OrderedDict()  # key -> (time, value, weight)
        self._weight = 0
        self._lock = threading.Lock()  # a threaded server's requests share the store

    def get(self, key, seconds: float):
        with self._lock:
            hit = self._items.get(key)
            if hit is None or time.monotonic() - hit[0] >= seconds:
                return None
            self._items.move_to_end(key)
            return hit[1]

    def put(self, key, value, limit: int, weight: int | None = None) -> None:
        """Keep ``value`` (weight: its length unless given) unless it alone is over ``limit``."""
        weight = len(value) if weight is None else weight
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._weight -= old[2]
            if weight > limit:
                return
            self._items[key] = (time.monotonic(), value, weight)
            self._weight += weight
            while self._weight > limit:
                _, (_, _, dropped) = self._items.popitem(last=False)
                self._weight -= dropped

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._weight = 0

    def __len__(self) -> int:
        return len(self._items)


#: What a kept report holds besides its offices' figures, in offices (190 KB measured, where an
#: office's figures take 8.2 KB): a scoped caller's report of one office is not counted as one.
REPORT_OVERHEAD = 25

texts = Kept()  # the report API's JSON texts of ended periods, by tag
reports = Kept()  # computed reports of ended periods, by the tag without the office filter


def clear() -> None:
    """Forget every kept text and report (this process's)."""
    texts.clear()
    reports.clear()


def kept_report(params: Params) -> Report:
    """``build_report(params)``; for an ended period from this process's memory while its tag
    holds, for REPORT_CACHE_SECONDS, within REPORT_CACHE_OFFICES (default 50,000): each kept
    report counts its offices and :data:`REPORT_OVERHEAD` more, the least recently used going
    first (a report holds about 8.2 KB per office with the default questionnaire, and 190 KB
    whatever its offices: what 25 offices hold; so at most about 410 MB). An office page reads
    13 reports (its month with the previous one, twelve months of trend), a scoped official's
    one more (its month's comparisons, without breakdowns): those of a commune group at
    national scale (3,322 offices; 14 × 3,347 = 46,858) all stay kept, and the next office's
    page computes none of them again (read in a cycle, a budget one report short would keep
    none: each would push out the next one read); four national reports of 10,000 offices
    stay kept, not a national trend. Which offices are shown (``visible``) changes no figure,
    so one computed report serves every office filter: a province's year is the national
    year's report, shown in part."""
    computed, key, seconds, limit = _report_key(params)
    if key is None:
        return build_report(params)
    report = reports.get(key, seconds)
    if report is None:
        report = build_report(computed)
        reports.put(key, report, limit, weight=len(report.offices) + REPORT_OVERHEAD)
    return dataclasses.replace(report, params=params)


def keep_reports(many: list[Params]) -> None:
    """Compute those of ``many``'s reports that this process does not keep, together
    (report.build_reports: a scoped official's trend months in one pass), and keep them, as
    :func:`kept_report` would one by one."""
    missing = {}
    for params in many:
        computed, key, seconds, limit = _report_key(params)
        if key is not None and key not in missing and reports.get(key, seconds) is None:
            missing[key] = (computed, limit)
    if len(missing) < 2:
        return  # one report: kept_report computes it when it is asked for
    built = build_reports([computed for computed, _limit in missing.values()])
    for (key, (_computed, limit)), report in zip(missing.items(), built, strict=True):
        reports.put(key, report, limit, weight=len(report.offices) + REPORT_OVERHEAD)


def peek_report(params: Params) -> Report | None:
    """:func:`kept_report`'s report where this process keeps it, else None (nothing computed)."""
    _computed, key, seconds, _limit = _report_key(params)
    report = None if key is None else reports.get(key, seconds)
    return None if report is None else dataclasses.replace(report, params=params)


def _report_key(params: Params) -> tuple[Params, str | None, float, int]:
    """The parameters a kept report is computed with, its key (None: not kept), seconds and
    budget."""
    config = current_app.config
    seconds = float(config.get("REPORT_CACHE_SECONDS", 600))
    limit = int(config.get("REPORT_CACHE_OFFICES", 50_000))
    computed = dataclasses.replace(params, visible=None)
    key = tag(computed, False) if seconds > 0 and limit > 0 else None
    return computed, key, seconds, limit


def kept_text(key: str | None, compute) -> bytes:
    """The report text of ``key``: from this process's memory, else from the database's store
    (another process computed it, or this one before a restart), else ``compute()``'s, then
    kept in memory for REPORT_CACHE_SECONDS (default 600) within REPORT_CACHE_MB (default 128)
    and stored (REPORT_STORE_MB, below). REPORT_CACHE_SECONDS 0 turns both off."""
    config = current_app.config
    seconds = float(config.get("REPORT_CACHE_SECONDS", 600))
    limit = int(float(config.get("REPORT_CACHE_MB", 128)) * 1_000_000)
    if key is None or seconds <= 0 or limit <= 0:
        return compute()
    hit = texts.get(key, seconds)
    if hit is not None:
        return hit
    value = stored_text(key)
    if value is None:
        value = compute()
        store_text(key, value)
    texts.put(key, value, limit)
    return value


def kept_document(key: str, compute) -> tuple[dict, int]:
    """An officials' page's document of an ended period (dashboard/data.py), by its report tag
    ``key``, with the length of its JSON text (what the page's cache counts): read from the
    database's store (computed by another process, or by this one before a restart), else
    ``compute()``'s, then stored and committed. It is stored as JSON text under a key of its own
    (the API's text of the same tag is another text); a document that is not plain JSON (the
    documents write a blank estimate as None, never NaN) is not stored."""
    stored_key = document_key(key)
    body = stored_text(stored_key)
    if body is not None:
        return orjson.loads(body), len(body)
    document = compute()
    try:
        body = orjson.dumps(document)
    except TypeError as error:
        log.warning("report document %s not stored: %s", key, error)
        return document, len(repr(document))
    if store_limit() > 0:
        store_text(stored_key, body)
        if not g.get(ONE_COMMIT):
            db.session.commit()  # every process's now (a page's GET writes nothing else)
    return document, len(body)


@contextmanager
def one_commit():
    """The documents :func:`kept_document` stores within are committed together at the end
    (if nothing failed), not one by one: a page's thirteen documents take one transaction, in
    which the catalogue's stamp (:func:`catalogue_stamp`) is read once instead of after each
    commit (a national catalogue's stamp takes about 10 ms)."""
    outer = g.get(ONE_COMMIT, False)
    setattr(g, ONE_COMMIT, True)
    try:
        yield
    finally:
        setattr(g, ONE_COMMIT, outer)
        if not outer:
            forget()
    if not outer:
        db.session.commit()
