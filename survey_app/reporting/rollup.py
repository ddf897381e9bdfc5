"""Keeping the daily rollup: fill missing days, refresh stale ones, rebuild from scratch.

A day is rolled up once it is over (local time); today is always read live. The `rollup_days`
row of a day says its rows are complete. Changes to past responses, answers or dossiers made
through the ORM delete that row in the same transaction (staleness.py), so the next
report or `flask mscore update-rollup` rolls the day again. Core statements that rewrite the past
(bulk imports) should call `staleness.mark_stale`, or be followed by `flask mscore rebuild-rollup`.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import (
    Date,
    Integer,
    SmallInteger,
    cast,
    column,
    delete,
    func,
    insert,
    literal,
    select,
    table,
)
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Dossier, Invitation, Response
from ..models.rollups import (
    DAY,
    MONTH,
    YEAR,
    RollupAnswer,
    RollupDay,
    RollupDossier,
    RollupMoment,
    RollupPattern,
    RollupResponse,
)
from .counts import (
    ANSWER_KEYS,
    DOSSIER_KEYS,
    DOSSIER_VALUES,
    PATTERN_KEYS,
    RESPONSE_KEYS,
    VALUE_COUNTS,
    raw_answers,
    raw_dossiers,
    raw_patterns,
    raw_responses,
)
from .keyed import keyed_counts, response_keys
from .once import made_in_transaction
from .periods import Period, local_today, zone
from .staleness import mark_stale
from .year_moments import roll_years

TABLES = (RollupAnswer, RollupPattern, RollupResponse, RollupDossier)  # rolled up in SQL
STORED = (*TABLES, RollupMoment)  # every table of the rollup (a year's moments: year_moments)
KEYS = {
    RollupAnswer: ANSWER_KEYS,
    RollupPattern: PATTERN_KEYS,
    RollupResponse: RESPONSE_KEYS,
    RollupDossier: DOSSIER_KEYS,
}
SUMS = {
    RollupAnswer: VALUE_COUNTS,
    RollupPattern: ("count",),
    RollupResponse: ("count",),
    RollupDossier: DOSSIER_VALUES,
}
RAW = {
    RollupAnswer: raw_answers,
    RollupPattern: raw_patterns,
    RollupResponse: raw_responses,
    RollupDossier: raw_dossiers,
}


def month_end(day: date) -> date:
    """The last day of a day's month."""
    following = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return following - timedelta(days=1)


def buckets(period: Period) -> list[tuple[int, date]]:
    """The fewest (grain, first day) buckets that tile a period: whole years, months, days."""
    out, day = [], period.start
    while day <= period.end:
        if (day.month, day.day) == (1, 1) and date(day.year, 12, 31) <= period.end:
            out.append((YEAR, day))
            day = date(day.year + 1, 1, 1)
        elif day.day == 1 and month_end(day) <= period.end:
            out.append((MONTH, day))
            day = month_end(day) + timedelta(days=1)
        else:
            out.append((DAY, day))
            day += timedelta(days=1)
    return out


def _children(grain: int, start: date) -> list[tuple[int, date]]:
    if grain == YEAR:
        return [(MONTH, date(start.year, m, 1)) for m in range(1, 13)]
    end = month_end(start)
    return [(DAY, start + timedelta(days=i)) for i in range((end - start).days + 1)]


def _runs(days: list[date]) -> list[Period]:
    """Contiguous runs of sorted days within a month, so each run is one INSERT … SELECT per
    table that reads one month's partitions and groups in memory."""
    runs: list[Period] = []
    for day in sorted(set(days)):
        if runs and day == runs[-1].end + timedelta(days=1) and day.day != 1:
            runs[-1] = Period(runs[-1].start, day)
        else:
            runs.append(Period(day, day))
    return runs


def _roll_days(period: Period, into: dict | None = None, conn=None, scan: bool = False) -> None:
    """Day rows of a run of days, fresh from the raw tables (into the rollup's tables, or into
    ``into``: tables of the same columns by model), in the session's transaction or on ``conn``.
    On PostgreSQL each response's keys and local day are computed once into a temporary table,
    which the answers, patterns and respondents join (by key: the few days of an update read
    their answers through the primary key; with ``scan``, as a rebuild reads every answer, the
    patterns read the period's partitions without that join first: keyed_counts)."""
    into = into or {}
    target = {model: into.get(model, model.__table__) for model in TABLES}
    start, end = period.utc_bounds
    queries = {model: raw(start, end, day=True) for model, raw in RAW.items()}
    execute = (conn or db.session).execute  # the session's flushes what it holds first
    conn = conn or db.session.connection()
    if conn.dialect.name == "postgresql":
        query = response_keys(start, end)
        compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
        conn.exec_driver_sql(
            f"CREATE TEMPORARY TABLE rollup_keys ON COMMIT DROP AS {compiled}", compiled.params
        )
        # How many cells the keys make (far fewer than the product of each column's values):
        # PostgreSQL then sorts the answers where nearly every one is a cell of its own and
        # hashes them where cells hold many, instead of always hashing.
        cells = ", ".join(("day", *RESPONSE_KEYS))
        conn.exec_driver_sql(
            f"CREATE STATISTICS pg_temp.rollup_keys_cells (ndistinct) ON {cells} FROM rollup_keys"
        )
        conn.exec_driver_sql("ANALYZE rollup_keys")
        keys = table("rollup_keys", *[column(name) for name in query.selected_columns.keys()])
        counted = keyed_counts(keys, start, end, scan)
        queries.update(zip((RollupAnswer, RollupPattern, RollupResponse), counted, strict=True))
    for model, query in queries.items():
        rows = query.subquery()
        # in key order: a rebuilt table's primary key is then built from sorted rows (faster)
        query = select(literal(DAY, SmallInteger).label("grain"), *rows.c).order_by(
            rows.c.day, *[rows.c[k] for k in KEYS[model]]
        )
        execute(
            insert(target[model]).from_select(["grain", *query.selected_columns.keys()[1:]], query)
        )
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("DROP TABLE rollup_keys")


def _first_of(grain: int, day):
    """SQL for the first day of a date column's month or year (PostgreSQL; date arithmetic,
    no time zone conversion per row as date_trunc on a date has)."""
    if grain == MONTH:
        return day - cast(func.date_part("day", day), Integer) + 1
    return func.make_date(cast(func.date_part("year", day), Integer), 1, 1)


def _roll_up(
    grain: int,
    start: date,
    into: dict | None = None,
    last: date | None = None,
    moments: bool = True,
    models=TABLES,
    conn=None,
) -> None:
    """Month rows from their day rows, or year rows from their month rows; with ``last``, every
    month (or year) from ``start`` to ``last`` in one statement per table (of ``models``; in
    the session's transaction or on ``conn``). Year rows of patterns are then replaced by
    moments where smaller, unless ``moments`` is false (the caller does)."""
    child = DAY if grain == MONTH else MONTH
    end = _bucket_end(grain, last or start)
    execute = (conn or db.session).execute
    for model in models:
        table = (into or {}).get(model, model.__table__)
        keys = [table.c[k] for k in KEYS[model]]
        bucket = literal(start, Date) if last is None else _first_of(grain, table.c.day)
        query = (
            select(
                literal(grain, SmallInteger),
                bucket,
                *keys,
                *[func.sum(table.c[v]) for v in SUMS[model]],
            )
            .where(table.c.grain == child, table.c.day >= start, table.c.day <= end)
            .group_by(*([bucket] if last is not None else []), *keys)
            .order_by(*([bucket] if last is not None else []), *keys)  # as _roll_days
        )
        execute(insert(table).from_select(["grain", "day", *KEYS[model], *SUMS[model]], query))
    if grain == YEAR and moments:  # the keys with many patterns: summed into moments instead
        roll_years(start, last or start, into)


def _bucket_end(grain: int, start: date) -> date:
    """The last day of a (grain, first day) bucket."""
    if grain == YEAR:
        return date(start.year, 12, 31)
    return month_end(start) if grain == MONTH else start


def _fill(wanted: list[tuple[int, date]]) -> int:
    """Build the missing buckets (and the missing parts they are made of); commits."""
    done = set()
    if wanted:  # the buckets within the wanted ones' days (their parts included), not all
        first, last = min(d for _g, d in wanted), max(_bucket_end(*b) for b in wanted)
        done = set(
            db.session.execute(
                select(RollupDay.grain, RollupDay.day).where(
                    RollupDay.day >= first, RollupDay.day <= last
                )
            ).all()
        )
    need: dict[int, set[date]] = {DAY: set(), MONTH: set(), YEAR: set()}

    def want(grain, start):
        if (grain, start) in done or start in need[grain]:
            return
        need[grain].add(start)
        if grain != DAY:
            for child in _children(grain, start):
                want(*child)

    for bucket in wanted:
        want(*bucket)
    if not any(need.values()):
        return 0
    if db.engine.dialect.name == "postgresql":
        conn = db.session.connection()
        conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")  # a day's GROUP BY hashes in memory
        # A few days' answers are read by their responses' keys (the primary key), not by
        # scanning every answer: on SSDs a random read costs about a sequential one.
        conn.exec_driver_sql("SET LOCAL random_page_cost = 1.1")
    for grain, starts in need.items():
        if starts:
            for model in (*STORED, RollupDay):
                db.session.execute(
                    delete(model).where(model.grain == grain, model.day.in_(sorted(starts)))
                )
            db.session.execute(insert(RollupDay), [{"grain": grain, "day": d} for d in starts])
    for run in _runs(list(need[DAY])):
        _roll_days(run)
    for grain in (MONTH, YEAR):
        for start in sorted(need[grain]):
            _roll_up(grain, start)
    db.session.commit()
    return sum(len(v) for v in need.values())


def refresh_days(days: list[date]) -> int:
    """Roll these past days again (and the months and years holding them); commits."""
    today = local_today()
    days = sorted({d for d in days if d < today})
    if not days:
        return 0
    mark_stale(days)
    wanted = [(DAY, d) for d in days]
    wanted += [(MONTH, date(d.year, d.month, 1)) for d in days if month_end(d) < today]
    wanted += [(YEAR, date(d.year, 1, 1)) for d in days if date(d.year, 12, 31) < today]
    _fill(sorted(set(wanted)))
    return len(days)


def fill(period: Period) -> int:
    """Build the missing or stale buckets that tile a past period; how many were built."""
    return _fill(buckets(period))


def ensure_rolled(period: Period | None) -> list[tuple[int, date]]:
    """The buckets that tile a past period, building those missing or stale first."""
    if period is None:
        return []
    wanted = buckets(period)
    # within a page's documents, checked once in a transaction (once.py): a page asks for each
    # month's buckets several times (its tags, its reports)
    made = made_in_transaction("rolled")
    if made is not None and all(bucket in made for bucket in wanted):
        return wanted
    try:
        _fill(wanted)
    except IntegrityError:  # another request built the same buckets first: theirs are as good
        db.session.rollback()
    made = made_in_transaction("rolled")  # a new transaction where _fill committed
    if made is not None:
        made.update(dict.fromkeys(wanted, True))
    return wanted


def rebuild(since: date | None = None, say=None) -> int:
    """Drop the rollup (from ``since``, or all of it) and roll every past day again; a report
    meanwhile reads the old rollup; commits. With ``since``, or on SQLite, in one transaction;
    on PostgreSQL the whole rollup is built in new tables on several connections and swapped in
    by one transaction (see `rollup_swap`), telling ``say`` (a function of a line) each step."""
    first = since or _first_day()
    today = local_today()
    if first is not None and since is None and db.engine.dialect.name == "postgresql":
        from .rollup_swap import rebuild_aside

        return rebuild_aside(first, today, say)
    for model in (*STORED, RollupDay):
        stmt = delete(model)
        db.session.execute(stmt if since is None else stmt.where(model.day >= since))
    if first is None or first >= today:
        db.session.commit()
        return 0
    days = [first + timedelta(days=i) for i in range((today - first).days)]
    refresh_days(days)  # commits
    return len(days)


def prune_days(keep_months: int) -> int:
    """Delete the day rows of months that ended more than ``keep_months`` months ago, where the
    month's own rows are complete (reports read whole months from them); commits. A report over
    a ragged stretch of such a month, or a late change to one of its days, rolls the days it
    needs again from the raw responses (their marks are deleted with them). The days of the
    first month with data are kept when it starts after its first day: every
    ``update-rollup`` reads them. Returns how many days were pruned."""
    if keep_months < 1:
        raise ValueError("keep at least one month of day rows")
    today = local_today()
    month = date(today.year, today.month, 1)
    for _ in range(keep_months):
        month = (month - timedelta(days=1)).replace(day=1)
    first = _first_day()
    if first is not None and first.day != 1:
        first = month_end(first) + timedelta(days=1)  # keep the first month's ragged days
    complete = sorted(
        db.session.scalars(
            select(RollupDay.day).where(RollupDay.grain == MONTH, RollupDay.day < month)
        )
    )
    days = [
        d
        for start in complete
        if first is None or start >= first
        for d in [start + timedelta(days=i) for i in range(month_end(start).day)]
    ]
    if not days:
        return 0
    pruned = db.session.scalar(
        select(func.count()).where(RollupDay.grain == DAY, RollupDay.day.in_(days))
    )
    for model in (*TABLES, RollupDay):
        for run in _runs(days):
            db.session.execute(
                delete(model).where(
                    model.grain == DAY, model.day >= run.start, model.day <= run.end
                )
            )
    db.session.commit()
    return int(pruned or 0)


def _first_day() -> date | None:
    """The local day of the earliest response, dossier return or sent invitation."""

    times = [
        db.session.scalar(select(col).order_by(col).where(col.is_not(None)).limit(1))
        for col in (Response.submitted_at, Dossier.returned_at, Invitation.sent_at)
    ]
    times = [t for t in times if t is not None]
    return min(times).astimezone(zone()).date() if times else None
