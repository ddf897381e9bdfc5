"""Rebuilding the whole rollup on PostgreSQL: built aside in new tables, then swapped in.

`flask mscore rebuild-rollup` creates `rollup_*_next` tables that have no keys or indexes yet
and commits them, so that ROLLUP_REBUILD_WORKERS connections (default 2) fill them side by
side, each step's statements committed one by one: PostgreSQL runs a statement on one core. No
report reads those tables. The steps: the day rows a local month at a time (one INSERT …
SELECT … GROUP BY per table, which reads that month's partitions and groups in memory, in key
order); every month from the days and every year from the months (a table and a calendar year
at a time); the years' moments (year_moments.py); the old tables' constraints and indexes,
given to the new ones a table at a time (one pass over the rows each instead of a B-tree
insertion and a foreign-key check per row). Then one transaction drops the old tables and
renames the new ones. A report meanwhile reads the old, complete rollup and waits only while the
tables are renamed. The swap takes its locks without waiting (and tries again), so a report
that holds one of the tables never deadlocks with it. A failed rebuild drops the new tables;
one that was killed leaves them, and the next drops them first. A session-level advisory lock
keeps two rebuilds from sharing the new tables' names.

The completeness marks (`rollup_days`) are written at the swap; a bucket whose mark was deleted
(made stale) or rewritten while the rebuild ran keeps no mark, so it is rolled again when read.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import date, timedelta
from functools import partial

from flask import current_app
from sqlalchemy import MetaData, delete, insert, select, text
from sqlalchemy.exc import OperationalError

from ..extensions import db
from ..models.rollups import (
    DAY,
    MONTH,
    YEAR,
    RollupDay,
    RollupPattern,
)
from . import rollup
from .year_moments import roll_years

LOCK_TRIES = 600  # 0.1 s apart: a minute of reports holding the old tables
WORK_MEM = "256MB"  # the GROUP BYs hash in memory instead of spilling to disk
REBUILD_LOCK = 0x6D73_726F_6C6C  # pg_advisory_lock key of a rebuild ("msroll")


class RebuildRunning(RuntimeError):
    """Another connection holds the rebuild's advisory lock."""


def _month_before(day: date) -> date:
    return (day.replace(day=1) - timedelta(days=1)).replace(day=1)


def _buckets(first: date, today: date) -> list[tuple[int, date]]:
    """Every past day from ``first``, every month and year of them already over."""
    last = today - timedelta(days=1)
    out = [(DAY, first + timedelta(days=i)) for i in range((last - first).days + 1)]
    month = first.replace(day=1)
    while rollup.month_end(month) < today:
        out.append((MONTH, month))
        month = rollup.month_end(month) + timedelta(days=1)
    out += [(YEAR, date(y, 1, 1)) for y in range(first.year, today.year)]
    return out


def _copy_definitions(conn, name: str) -> list[tuple[str, str, str]]:
    """Give ``name``_next the constraints and indexes of ``name``; their (kind, new name, old
    name)."""
    names = []
    constraints = conn.execute(
        text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = CAST(:t AS regclass) ORDER BY contype DESC"  # p before f
        ),
        {"t": name},
    ).all()
    for constraint, definition in constraints:
        conn.exec_driver_sql(
            f'ALTER TABLE "{name}_next" ADD CONSTRAINT "{constraint}_next" {definition}'
        )
        names.append(("CONSTRAINT", f"{constraint}_next", constraint))
    indexes = conn.execute(
        text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = :t AND indexname NOT IN "
            "(SELECT conname FROM pg_constraint WHERE conrelid = CAST(:t AS regclass))"
        ),
        {"t": name},
    ).all()
    for index, definition in indexes:
        conn.exec_driver_sql(
            re.sub(
                r"^(CREATE (?:UNIQUE )?INDEX )\S+( ON (?:ONLY )?)\S+",
                lambda m, i=index: f'{m[1]}"{i}_next"{m[2]}"{name}_next"',
                definition,
            )
        )
        names.append(("INDEX", f"{index}_next", index))
    return names


def _lock_old_tables(names: list[str]) -> None:
    """Lock the rollup's tables for the swap without ever waiting in the lock queue."""
    tables = ", ".join(f'"{n}"' for n in names)
    for _ in range(LOCK_TRIES):
        try:
            with db.session.begin_nested():
                db.session.execute(text(f"LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE NOWAIT"))
                # readers of the marks go on; writers (a report filling a bucket) wait
                db.session.execute(text('LOCK TABLE "rollup_days" IN EXCLUSIVE MODE NOWAIT'))
            return
        except OperationalError as error:
            if getattr(error.orig, "sqlstate", None) != "55P03":  # lock_not_available
                raise
            time.sleep(0.1)
    raise RuntimeError("the rollup's tables stayed in use: the rebuild gave up (nothing changed)")


def _drop_next(conn) -> None:
    for model in rollup.STORED:
        conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{model.__tablename__}_next"')


def _side_by_side(context, tasks: list, workers: int) -> list:
    """Each task's result (a task: a function of a keyword ``conn``), ``workers`` at a time,
    each on a connection of its own in a transaction committed when it ends: PostgreSQL runs a
    statement on one core. ``context`` makes the app context each runs in. The first failure
    stops the tasks not yet started."""

    def run(task):
        with context(), db.engine.connect() as conn, conn.begin():
            conn.exec_driver_sql(f"SET LOCAL work_mem = '{WORK_MEM}'")
            conn.exec_driver_sql(f"SET LOCAL maintenance_work_mem = '{WORK_MEM}'")
            return task(conn=conn)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(run, task) for task in tasks]
        try:
            for future in as_completed(futures):
                future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return [future.result() for future in futures]


def _by_year(days: list[date]) -> list[tuple[date, date]]:
    """The first and last of ``days`` (sorted) in each calendar year."""
    years: dict[int, list[date]] = {}
    for day in days:
        years.setdefault(day.year, []).append(day)
    return [(v[0], v[-1]) for v in years.values()]


def rebuild_aside(first: date, today: date, say=None) -> int:
    """Build the rollup of the days ``first`` … yesterday in new tables and swap them in;
    commits. Returns the number of days.

    The new tables are created and committed first, so that ROLLUP_REBUILD_WORKERS connections
    fill them side by side (`_build_aside`); no report reads them. The swap is then one
    transaction. A failed rebuild drops the new tables (and the next rebuild drops what a killed
    one left); an advisory lock keeps a second rebuild from using them meanwhile. ``say`` (a
    function of a line) is told each step as it ends."""
    if first >= today:
        return 0
    context = current_app.app_context  # the app's own method: callable from the workers
    workers = max(1, int(current_app.config.get("ROLLUP_REBUILD_WORKERS", 2)))
    with db.engine.connect() as guard:  # held to the end: one rebuild at a time
        locked = guard.exec_driver_sql(f"SELECT pg_try_advisory_lock({REBUILD_LOCK})").scalar()
        guard.commit()  # the lock is the connection's, not the transaction's
        if not locked:
            raise RebuildRunning("another rebuild of the rollup is running: nothing changed")
        try:
            return _rebuild_aside(context, first, today, workers, say or (lambda _line: None))
        finally:
            guard.exec_driver_sql(f"SELECT pg_advisory_unlock({REBUILD_LOCK})")
            guard.commit()


def _rebuild_aside(context, first: date, today: date, workers: int, say) -> int:
    marks = {(g, d): at for g, d, at in db.session.execute(select(RollupDay.__table__))}
    conn = db.session.connection()
    _drop_next(conn)
    new = {}
    for model in rollup.STORED:
        name = model.__tablename__
        conn.exec_driver_sql(f'CREATE TABLE "{name}_next" (LIKE "{name}" INCLUDING DEFAULTS)')
        new[model] = model.__table__.to_metadata(MetaData(), name=f"{name}_next")
    db.session.commit()
    try:
        wanted = _buckets(first, today)
        names = _build_aside(context, wanted, new, workers, say)
        started = time.perf_counter()
        _swap_in(marks, wanted, names)
        say(f"swapped in: {time.perf_counter() - started:.1f} s")
    except BaseException:
        db.session.rollback()
        _drop_next(db.session.connection())
        db.session.commit()
        raise
    return (today - first).days


def _build_aside(context, wanted: list, new: dict, workers: int, say) -> dict:
    """Fill the new tables, each step's statements side by side: the day rows a month at a
    time, then the months from the days and the years from the months (a table and a year at a
    time), the years' moments, and the tables' keys. Returns each table's (kind, new name, old
    name) of its constraints and indexes."""
    started = time.perf_counter()

    def step(line: str) -> None:
        nonlocal started
        say(f"{line}: {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()

    runs = rollup._runs([d for g, d in wanted if g == DAY])
    _side_by_side(context, [partial(_roll_days, run, new) for run in runs], workers)
    step(f"day rows of {_count(len(runs), 'month')}, {workers} at a time")
    _analyze(rollup.TABLES)  # the months' and years' GROUP BYs are then planned to hash
    months = [d for g, d in wanted if g == MONTH]
    tasks = [
        partial(rollup._roll_up, MONTH, start, new, last, models=(model,))
        for model in rollup.TABLES
        for start, last in _by_year(months)
    ]
    _side_by_side(context, tasks, workers)
    step(f"{_count(len(months), 'month')} from their days")
    years = [d for g, d in wanted if g == YEAR]
    if years:
        tasks = [
            partial(rollup._roll_up, YEAR, years[0], new, years[-1], False, (model,))
            for model in rollup.TABLES
        ]
        _side_by_side(context, tasks, workers)
        # statistics that know the year rows, or the moments' DELETE of the patterns they
        # replace is planned as a nested loop over each of them
        _analyze([RollupPattern])
        db.session.connection().exec_driver_sql(f"SET LOCAL work_mem = '{WORK_MEM}'")
        roll_years(years[0], years[-1], new)
        db.session.commit()
        step(f"{_count(len(years), 'year')} from their months")
    tasks = [partial(_keys, model.__tablename__) for model in rollup.STORED]
    names = dict(zip(rollup.STORED, _side_by_side(context, tasks, workers), strict=True))
    step("keys and indexes")
    return names


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _roll_days(run, new, conn) -> None:
    rollup._roll_days(run, new, conn, scan=True)  # looked up when called: a test may replace it


def _keys(name: str, conn) -> list[tuple[str, str, str]]:
    names = _copy_definitions(conn, name)
    conn.exec_driver_sql(f'ANALYZE "{name}_next"')
    return names


def _analyze(models) -> None:
    conn = db.session.connection()
    for model in models:
        conn.exec_driver_sql(f'ANALYZE "{model.__tablename__}_next"')
    db.session.commit()


def _swap_in(marks: dict, wanted: list, names: dict) -> None:
    """Drop the old tables and give the new ones their names, and the completeness marks of
    what was built and not changed meanwhile: one transaction; commits."""
    conn = db.session.connection()
    _lock_old_tables([model.__tablename__ for model in rollup.STORED])
    now = {(g, d): at for g, d, at in db.session.execute(select(RollupDay.__table__))}
    changed = {key for key, at in marks.items() if now.get(key) != at}
    db.session.execute(delete(RollupDay))
    keep = [{"grain": g, "day": d} for g, d in wanted if (g, d) not in changed]
    if keep:
        db.session.execute(insert(RollupDay), keep)
    for model in rollup.STORED:
        name = model.__tablename__
        conn.exec_driver_sql(f'DROP TABLE "{name}"')
        conn.exec_driver_sql(f'ALTER TABLE "{name}_next" RENAME TO "{name}"')
        for kind, current, old in names[model]:
            if kind == "CONSTRAINT":
                rename = f'ALTER TABLE "{name}" RENAME CONSTRAINT "{current}" TO "{old}"'
            else:
                rename = f'ALTER INDEX "{current}" RENAME TO "{old}"'
            conn.exec_driver_sql(rename)
    db.session.commit()
