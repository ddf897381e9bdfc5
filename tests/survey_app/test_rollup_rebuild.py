"""`flask mscore rebuild-rollup`: one transaction, or on PostgreSQL built aside on several
connections and swapped in by one, so a report never reads a half-built rollup; the months and
years it rolls in bulk equal raw reads."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import Date, func, literal, select, text

from .test_reporting import seed
from .test_reporting_rollup import _report, _same


@pytest.fixture
def recent(app, db, make_office, make_service, questionnaire):
    """Forty days of data ending today (local)."""
    from survey_app.reporting import local_today

    today = local_today()
    return seed(
        db, make_office, make_service, questionnaire, start=today - timedelta(days=39), days=40
    )


def _past(days=39):
    from survey_app.reporting import Period, local_today

    today = local_today()
    return Period(today - timedelta(days=days), today - timedelta(days=1))


def _exclude_one_quietly(db) -> None:
    """Exclude a past response with plain SQL (no ORM flush marks its day stale): only a
    rebuild brings the change into the rollup."""
    db.session.execute(
        text(
            "UPDATE responses SET integrity = 'excluded' WHERE id = (SELECT min(id) FROM "
            "responses WHERE integrity = 'valid' AND submitted_at < :before)"
        ),
        {"before": _past().utc_bounds[1]},
    )
    db.session.commit()


def _rows(db):
    from survey_app.models import RollupAnswer, RollupDay, RollupMoment, RollupPattern

    return {
        model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
        for model in (RollupAnswer, RollupPattern, RollupMoment, RollupDay)
    }


def test_a_failed_rebuild_leaves_the_old_rollup(db, recent, runner, monkeypatch):
    from survey_app.reporting import rollup

    period = _past()
    before = _report(period)  # fills the rollup
    db.session.commit()
    rows = _rows(db)
    assert rows["rollup_answers"] > 0

    def broken(*args, **kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(rollup, "_roll_days", broken)
    result = runner.invoke(args=["mscore", "rebuild-rollup"])
    assert result.exit_code != 0 and "the disk is full" in str(result.exception)
    db.session.rollback()
    assert _rows(db) == rows  # every row and completeness mark is still there
    assert _next_tables(db) == []  # the new tables, committed for the workers, are dropped
    _same(_report(period), before)


def _next_tables(db) -> list[str]:
    """The tables a rebuild builds aside (PostgreSQL; none on SQLite, which rebuilds in place)."""
    if db.engine.dialect.name != "postgresql":
        return []
    return db.session.scalars(
        text("SELECT tablename FROM pg_tables WHERE tablename LIKE 'rollup\\_%\\_next'")
    ).all()


@pytest.mark.parametrize("workers", [1, 3])
def test_the_day_rows_are_the_same_whatever_the_workers(
    app, db, recent, is_postgres, workers, monkeypatch
):
    """Months of days filled one at a time, or side by side on connections of their own, make
    the same day rows as a report's own fill of the same buckets in its transaction."""
    from survey_app.models import (
        RollupAnswer,
        RollupDay,
        RollupDossier,
        RollupPattern,
        RollupResponse,
    )
    from survey_app.reporting import rollup

    if not is_postgres:
        pytest.skip("the workers fill the tables built aside: PostgreSQL")
    roll_days, lock = rollup._roll_days, threading.Lock()
    both = threading.Barrier(2, timeout=30)  # the first two months meet: side by side
    seen = {"calls": 0, "at_once": 0, "most": 0}

    def watched(period, into=None, conn=None, scan=False):
        with lock:
            seen["calls"] += 1
            seen["at_once"] += 1
            seen["most"] = max(seen["most"], seen["at_once"])
            first_two = seen["calls"] <= 2
        try:
            if workers > 1 and first_two:
                both.wait()  # a BrokenBarrierError if the months were filled one by one
            return roll_days(period, into, conn, scan)
        finally:
            with lock:
                seen["at_once"] -= 1

    monkeypatch.setattr(rollup, "_roll_days", watched)
    app.config["ROLLUP_REBUILD_WORKERS"] = workers
    rollup.rebuild()
    assert seen["calls"] >= 2  # 40 days ending today: two or three months
    assert seen["most"] == 1 if workers == 1 else seen["most"] >= 2
    tables = (RollupAnswer, RollupPattern, RollupResponse, RollupDossier)
    days = {m: set(db.session.execute(select(m.__table__).where(m.grain == 0))) for m in tables}
    assert all(days.values())
    monkeypatch.setattr(rollup, "_roll_days", roll_days)
    for model in (*rollup.STORED, RollupDay):
        db.session.execute(model.__table__.delete())
    db.session.commit()
    rollup.fill(_past())  # each bucket rolled in this session's transaction, in turn
    db.session.commit()
    for model in tables:
        rows = set(db.session.execute(select(model.__table__).where(model.grain == 0)))
        assert rows == days[model], model.__tablename__


def test_a_second_rebuild_meanwhile_is_refused(app, db, recent, is_postgres, runner):
    """While one rebuild holds the lock (its new tables are committed for its workers), a second
    one says so and changes nothing, rather than dropping the first one's tables."""
    from survey_app.reporting import rollup
    from survey_app.reporting.rollup_swap import REBUILD_LOCK

    if not is_postgres:
        pytest.skip("the advisory lock is PostgreSQL's")
    _report(_past())
    db.session.commit()
    rows = _rows(db)
    with db.engine.connect() as other:
        other.exec_driver_sql(f"SELECT pg_advisory_lock({REBUILD_LOCK})")
        other.commit()
        with pytest.raises(RuntimeError, match="another rebuild of the rollup is running"):
            rollup.rebuild()
        result = runner.invoke(args=["mscore", "rebuild-rollup"])  # a message, no traceback
        assert result.exit_code == 1, result.output
        assert "Error: another rebuild of the rollup is running" in result.output
        other.exec_driver_sql(f"SELECT pg_advisory_unlock({REBUILD_LOCK})")
        other.commit()
    db.session.rollback()
    assert _rows(db) == rows
    rollup.rebuild()  # the lock released: it runs


def test_a_rebuild_after_a_killed_one_drops_its_leftovers(app, db, recent, is_postgres):
    """A rebuild killed while its workers filled the new tables left them behind (committed):
    the next one starts them afresh instead of adding to their rows or failing on their names."""
    from survey_app.reporting import rollup

    if not is_postgres:
        pytest.skip("tables built aside: PostgreSQL")
    period = _past()
    rollup.rebuild()
    before = _report(period)
    db.session.commit()
    db.session.execute(text("CREATE TABLE rollup_answers_next (LIKE rollup_answers)"))
    db.session.execute(text("INSERT INTO rollup_answers_next SELECT * FROM rollup_answers"))
    db.session.commit()
    rollup.rebuild()
    assert _next_tables(db) == []
    _same(_report(period), before)
    _same(_report(period), _report(period, source="raw"))


def test_rebuilt_months_and_years_equal_raw(app, db, make_office, make_service, questionnaire):
    from survey_app.models import RollupAnswer, RollupDay
    from survey_app.reporting import Period
    from survey_app.reporting.rollup import rebuild

    seed(db, make_office, make_service, questionnaire, start=date(2025, 1, 20), days=50)
    db.session.commit()
    rebuild()
    grains = dict(
        db.session.execute(
            select(RollupAnswer.grain, func.count()).group_by(RollupAnswer.grain)
        ).all()
    )
    assert set(grains) == {0, 1, 2}  # days, months and years were all rolled
    assert (
        db.session.scalar(select(func.count()).select_from(RollupDay).where(RollupDay.grain == 2))
        >= 1
    )
    for period in (
        Period(date(2025, 1, 1), date(2025, 12, 31)),
        Period(date(2025, 2, 1), date(2025, 2, 28)),
        Period(date(2025, 1, 25), date(2025, 3, 3)),
    ):
        _same(_report(period, compare=True), _report(period, source="raw", compare=True))


def _definitions(db):
    """The rollup tables' constraint and index names (PostgreSQL)."""
    return set(
        db.session.execute(
            text(
                "SELECT tablename, indexname FROM pg_indexes WHERE tablename LIKE 'rollup_%' "
                "UNION SELECT conrelid::regclass::text, conname FROM pg_constraint "
                "WHERE conrelid::regclass::text LIKE 'rollup_%'"
            )
        ).all()
    )


def test_a_report_during_a_rebuild_reads_the_old_rollup(app, db, recent, is_postgres, monkeypatch):
    """A report in another connection, while the rebuild has filled half its tables, reads the
    complete old rollup without waiting; after the swap, the new one."""
    from survey_app.reporting import rollup

    if not is_postgres:
        pytest.skip("two connections at once: PostgreSQL (SQLite locks the whole file)")
    period = _past()
    before = _report(period)
    db.session.commit()
    names = _definitions(db)
    db.session.commit()
    _exclude_one_quietly(db)
    filled, release = threading.Event(), threading.Event()
    roll_days, errors = rollup._roll_days, []

    def paused(*args, **kwargs):
        roll_days(*args, **kwargs)
        filled.set()  # a month of new day rows is in, not yet the months, keys or the swap
        release.wait(60)

    def rebuild():
        with app.app_context():
            try:
                rollup.rebuild()
            except Exception as error:  # reported by the main thread
                errors.append(error)

    monkeypatch.setattr(rollup, "_roll_days", paused)
    worker = threading.Thread(target=rebuild)
    worker.start()
    try:
        assert filled.wait(60)
        _same(_report(period), before)  # the old rollup, whole: not the rebuild's half
        db.session.commit()  # the report's transaction ends: the swap may lock the tables
    finally:
        release.set()
        worker.join(120)
    assert not worker.is_alive() and not errors, errors
    after = _report(period)
    _same(after, _report(period, source="raw"))
    responses = {o["code"]: o["responses"] for o in after["offices"]}
    assert sum(responses.values()) == sum(o["responses"] for o in before["offices"]) - 1
    db.session.commit()
    assert _definitions(db) == names  # the swapped tables have the same keys and indexes


def test_rebuild_rollup_says_each_step(db, recent, runner, is_postgres):
    """An operator sees each step of a rebuild of minutes as it ends, then the total."""
    result = runner.invoke(args=["mscore", "rebuild-rollup"])
    assert result.exit_code == 0, result.output
    *steps, total = result.output.splitlines()
    assert total.startswith("rolled up 39 days in ")  # the recent fixture's days before today
    if not is_postgres:
        assert steps == []  # one transaction, in place
        return
    names = [line.strip().rsplit(": ", 1)[0] for line in steps]
    assert names[0] in {f"day rows of {n} months, 2 at a time" for n in (2, 3)}  # 39 days
    assert names[1].endswith("months from their days")
    assert names[-2:] == ["keys and indexes", "swapped in"]
    assert all(line.endswith(" s") for line in steps)


def test_update_rollup_counts_what_it_filled(db, recent, runner):
    first = runner.invoke(args=["mscore", "update-rollup", "--days", "2"])
    assert first.exit_code == 0, first.output
    built = int(first.output.split("filled ")[1].split()[0])
    # the 40 days (less the 2 refreshed before) and the months over among them: a count
    assert 0 < built <= 40 + 2
    again = runner.invoke(args=["mscore", "update-rollup", "--days", "2"])
    assert "refreshed 2 recent days, filled 0 missing" in again.output


def _raw_rows(db, raw, names, period, first):
    """A raw GROUP BY's rows over a period as (day, *names): by local day without ``first``,
    else as one bucket starting on ``first``."""
    query = raw(*period.utc_bounds, day=first is None).subquery()
    day = query.c.day if first is None else literal(first, Date)
    rows = db.session.execute(select(day, *[query.c[n] for n in names]))
    return {(str(r[0]), *r[1:]) for r in rows}


def test_rebuilt_rows_equal_raw_group_bys(
    app, db, make_office, make_service, questionnaire, is_postgres
):
    """Every day, month and year row a rebuild writes (on PostgreSQL a month of days at a time,
    each month's answers read from its own partition) equals the raw GROUP BY of the same
    responses (counts.py, without the keys table), row for row, across a month's and a year's
    end."""
    from survey_app.models import RollupPattern
    from survey_app.models.rollups import DAY, MONTH, YEAR
    from survey_app.partitions import add_partitions
    from survey_app.reporting import Period
    from survey_app.reporting.periods import zone
    from survey_app.reporting.rollup import KEYS, RAW, SUMS, rebuild

    # months no other test uses: their partitions (emptied after the test) may stay
    add_partitions(db.session.connection(), date(2019, 12, 1), 2, zone())
    db.session.commit()
    seed(db, make_office, make_service, questionnaire, start=date(2019, 12, 10), days=50)
    db.session.commit()
    if is_postgres:  # the rows are in their months' partitions, not in DEFAULT
        assert db.session.scalar(text("SELECT count(*) FROM answers_p2019_12")) > 0
        assert db.session.scalar(text("SELECT count(*) FROM answers_default")) == 0
    rebuild()
    buckets = [
        (DAY, None, Period(date(2019, 12, 10), date(2020, 1, 28))),
        (MONTH, date(2019, 12, 1), Period(date(2019, 12, 1), date(2019, 12, 31))),
        (MONTH, date(2020, 1, 1), Period(date(2020, 1, 1), date(2020, 1, 31))),
        (YEAR, date(2019, 1, 1), Period(date(2019, 1, 1), date(2019, 12, 31))),
    ]
    for model, raw in RAW.items():
        table, names = model.__table__, [*KEYS[model], *SUMS[model]]
        for grain, first, period in buckets:
            if grain == YEAR and model is RollupPattern:
                continue  # partly replaced by moments: test_a_rebuilt_years_moments_equal_raw
            stmt = select(table.c.day, *[table.c[n] for n in names]).where(table.c.grain == grain)
            if first is not None:
                stmt = stmt.where(table.c.day == first)
            mine = {(str(r[0]), *r[1:]) for r in db.session.execute(stmt)}
            want = _raw_rows(db, raw, names, period, first)
            assert mine and mine == want, (model.__tablename__, grain, first)
