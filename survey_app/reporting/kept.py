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
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import time
from collections import OrderedDict
from functools import cache
from pathlib import Path

from flask import current_app, g
from sqlalchemy import select

from ..models import Service
from ..models.rollups import RollupDay
from .catalogue import report_questions, universe
from .periods import Period, local_today
from .report import Params, Report, build_report
from .source import report_session

_CATALOGUE = "mscore_catalogue_stamp"  # flask.g attribute: (connection, catalogue digest)


def rollup_stamp(session, period: Period) -> tuple:
    """When each rollup bucket of a past period was last built."""
    rows = session.execute(
        select(RollupDay.grain, RollupDay.day, RollupDay.rolled_at).where(
            RollupDay.day >= period.start, RollupDay.day <= period.end
        )
    ).all()
    return tuple(sorted((g, d.isoformat(), r.isoformat()) for g, d, r in rows))


def catalogue_stamp(session) -> str:
    """A digest of every catalogue row a report reads (offices, questions and their versions,
    services), read once per transaction (a dashboard page asks for a dozen months' reports in
    one)."""
    connection = session.connection()  # a new one with each transaction
    kept = g.get(_CATALOGUE)
    if kept is not None and kept[0] is connection:
        return kept[1]
    # the rows themselves, read as the report reads them (catalogue.py)
    services = select(Service.id, Service.field, Service.code).order_by(Service.id)
    digest = hashlib.sha256()
    for part in (
        universe(session, None),
        report_questions(session),
        session.execute(services).all(),
    ):
        digest.update(repr(part).encode())
    stamp = digest.hexdigest()
    setattr(g, _CATALOGUE, (connection, stamp))
    return stamp


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
    return hashlib.sha256(repr(stamp).encode()).hexdigest()[:40]


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


texts = Kept()  # the report API's JSON texts of ended periods, by tag
reports = Kept()  # computed reports of ended periods, by the tag without the office filter


def clear() -> None:
    """Forget every kept text and report (this process's)."""
    texts.clear()
    reports.clear()


def kept_report(params: Params) -> Report:
    """``build_report(params)``; for an ended period from this process's memory while its tag
    holds, for REPORT_CACHE_SECONDS, at most REPORT_CACHE_REPORTS (default 4) reports. Which
    offices are shown (``visible``) changes no figure, so one computed report serves every
    office filter: a province's year is the national year's report, shown in part."""
    config = current_app.config
    seconds = float(config.get("REPORT_CACHE_SECONDS", 600))
    size = int(config.get("REPORT_CACHE_REPORTS", 4))
    computed = dataclasses.replace(params, visible=None)
    key = tag(computed, False) if seconds > 0 and size > 0 else None
    if key is None:
        return build_report(params)
    report = reports.get(key, seconds)
    if report is None:
        report = build_report(computed)
        reports.put(key, report, size, weight=1)
    return dataclasses.replace(report, params=params)


def kept_text(key: str | None, compute) -> bytes:
    """The report text of ``key`` from this process's memory, or ``compute()``'s (kept for
    REPORT_CACHE_SECONDS, default 600, within REPORT_CACHE_MB, default 128; 0 turns it off)."""
    config = current_app.config
    seconds = float(config.get("REPORT_CACHE_SECONDS", 600))
    limit = int(float(config.get("REPORT_CACHE_MB", 128)) * 1_000_000)
    if key is None or seconds <= 0 or limit <= 0:
        return compute()
    hit = texts.get(key, seconds)
    if hit is not None:
        return hit
    value = compute()
    texts.put(key, value, limit)
    return value
