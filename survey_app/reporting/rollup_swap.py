"""Rebuilding the whole rollup on PostgreSQL: built aside in new tables, then swapped in.

`flask mscore rebuild-rollup` creates `rollup_*_next` tables that have no keys or indexes yet
and commits them, so that ROLLUP_REBUILD_WORKERS connections (default 2) fill their day rows
side by side, a local month of days each at a time (one INSERT … SELECT … GROUP BY per table,
which reads that month's partitions and groups in memory, in key order), each month committed
on its own: PostgreSQL runs a statement on one core, and these GROUP BYs are most of the
rebuild. No report reads those tables. Then one transaction rolls every month from the days and
every year from the months, gives the new tables the old tables' constraints and indexes (one
pass over the rows each instead of a B-tree insertion and a foreign-key check per row), drops
the old tables and renames the new ones. A report meanwhile reads the old, complete rollup and
waits only while the tables are renamed. The swap takes its locks without waiting (and tries
again), so a report that holds one of the tables never deadlocks with it. A failed rebuild
drops the new tables; one that was killed leaves them, and the next drops them first. A
session-level advisory lock keeps two rebuilds from sharing the new tables' names.

The completeness marks (`rollup_days`) are written at the swap; a bucket whose mark was deleted
(made stale) or rewritten while the rebuild ran keeps no mark, so it is rolled again when read.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import date, timedelta

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


def _fill_days(app, runs: list, new: dict, workers: int) -> None:
    """The day rows of every run (a month of days), ``workers`` runs at a time, each on a
    connection of its own and committed there: PostgreSQL runs one statement on one core, and
    the answers' and patterns' GROUP BYs are most of a rebuild's time."""

    def fill(run):
        with app.app_context(), db.engine.connect() as conn, conn.begin():
            conn.exec_driver_sql(f"SET LOCAL work_mem = '{WORK_MEM}'")
            rollup._roll_days(run, new, conn)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(fill, run) for run in runs]
        try:
            for future in as_completed(futures):
                future.result()  # the first failure stops the runs not yet started
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def rebuild_aside(first: date, today: date) -> int:
    """Build the rollup of the days ``first`` … yesterday in new tables and swap them in;
    commits. Returns the number of days.

    The new tables are created and committed first, so that ROLLUP_REBUILD_WORKERS connections
    fill their day rows side by side; no report reads them. The months, years, keys and the swap
    are then one transaction. A failed rebuild drops the new tables (and the next rebuild drops
    what a killed one left); an advisory lock keeps a second rebuild from using them meanwhile."""
    if first >= today:
        return 0
    app = current_app._get_current_object()
    workers = max(1, int(app.config.get("ROLLUP_REBUILD_WORKERS", 2)))
    with db.engine.connect() as guard:  # held to the end: one rebuild at a time
        locked = guard.exec_driver_sql(f"SELECT pg_try_advisory_lock({REBUILD_LOCK})").scalar()
        guard.commit()  # the lock is the connection's, not the transaction's
        if not locked:
            raise RuntimeError("another rebuild of the rollup is running: nothing changed")
        try:
            return _rebuild_aside(app, first, today, workers)
        finally:
            guard.exec_driver_sql(f"SELECT pg_advisory_unlock({REBUILD_LOCK})")
            guard.commit()


def _rebuild_aside(app, first: date, today: date, workers: int) -> int:
    marks = {(g, d): at for g, d, at in db.session.execute(select(RollupDay.__table__))}
    conn = db.session.connection()
    _drop_next(conn)
    new, names = {}, {}
    for model in rollup.STORED:
        name = model.__tablename__
        conn.exec_driver_sql(f'CREATE TABLE "{name}_next" (LIKE "{name}" INCLUDING DEFAULTS)')
        new[model] = model.__table__.to_metadata(MetaData(), name=f"{name}_next")
    db.session.commit()
    try:
        wanted = _buckets(first, today)
        _fill_days(app, rollup._runs([d for g, d in wanted if g == DAY]), new, workers)
        _swap_in(marks, wanted, new, names)
    except BaseException:
        db.session.rollback()
        _drop_next(db.session.connection())
        db.session.commit()
        raise
    return (today - first).days


def _swap_in(marks: dict, wanted: list, new: dict, names: dict) -> None:
    """The months and years from the new day rows, the new tables' keys, and the swap: one
    transaction; commits."""
    conn = db.session.connection()
    conn.exec_driver_sql(f"SET LOCAL work_mem = '{WORK_MEM}'")
    conn.exec_driver_sql(f"SET LOCAL maintenance_work_mem = '{WORK_MEM}'")
    for model in rollup.TABLES:  # the months' and years' GROUP BYs are then planned to hash
        conn.exec_driver_sql(f'ANALYZE "{model.__tablename__}_next"')
    months = [d for g, d in wanted if g == MONTH]
    if months:
        rollup._roll_up(MONTH, months[0], new, months[-1])
    years = [d for g, d in wanted if g == YEAR]
    if years:
        rollup._roll_up(YEAR, years[0], new, years[-1], moments=False)
        # statistics that know the year rows, or the moments' DELETE of the patterns they
        # replace is planned as a nested loop over each of them
        conn.exec_driver_sql(f'ANALYZE "{RollupPattern.__tablename__}_next"')
        roll_years(years[0], years[-1], new)
    for model in rollup.STORED:
        names[model] = _copy_definitions(conn, model.__tablename__)
        conn.exec_driver_sql(f'ANALYZE "{model.__tablename__}_next"')
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
