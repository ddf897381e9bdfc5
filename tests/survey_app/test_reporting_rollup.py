"""The daily rollup: reports from it equal reports from the raw responses, and it stays fresh."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import func, select

from .test_reporting import seed


def _report(period, **kw):
    from survey_app.reporting import Params, build_report
    from survey_app.reporting.tables import breakdown_rows, report_json

    report = build_report(Params(period, **kw))
    doc = report_json(report)
    doc["breakdowns"] = {n: breakdown_rows(report, n) for n in ("services", "channels")}
    return doc


def _same(a, b):
    """Equal documents, numbers to 1e-9 relative (sums may be added in another order)."""
    if isinstance(a, float | int) and not isinstance(a, bool):
        assert a == pytest.approx(b, rel=1e-9, nan_ok=True)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same(x, y)
    else:
        assert a == b


@pytest.fixture
def recent(app, db, make_office, make_service, questionnaire):
    """Forty days of data ending today (local), so reports mix the rollup and live reading."""
    from survey_app.reporting import local_today

    today = local_today()
    return seed(
        db,
        make_office,
        make_service,
        questionnaire,
        start=today - timedelta(days=39),
        days=40,
        scale=0.5,
    )


def test_rollup_and_raw_reports_are_equal(db, recent, runner):
    from survey_app.models import RollupAnswer, RollupDay
    from survey_app.reporting import Period, local_today
    from survey_app.reporting.rollup import buckets

    today = local_today()
    period = Period(today - timedelta(days=45), today)
    for kw in ({}, {"include_flagged": True, "compare": True, "method": "korn-graubard"}):
        rolled = _report(period, **kw)
        done = set(db.session.execute(select(RollupDay.grain, RollupDay.day)).all())
        assert set(buckets(period.split(today)[0])) <= done
        _same(rolled, _report(period, source="raw", **kw))
    day_rows = select(func.count()).select_from(RollupAnswer).where(RollupAnswer.grain == 0)
    rows = db.session.scalar(day_rows)
    result = runner.invoke(args=["mscore", "rebuild-rollup"])
    assert result.exit_code == 0 and "rolled up 39 days" in result.output
    assert db.session.scalar(day_rows) == rows
    _same(_report(period), _report(period, source="raw"))
    result = runner.invoke(args=["mscore", "update-rollup", "--days", "2"])
    assert result.exit_code == 0 and "refreshed 2 recent days" in result.output


def test_changes_to_past_days_reach_the_report(db, recent):
    from survey_app.models import Answer, Response
    from survey_app.reporting import Period, local_today

    today = local_today()
    period = Period(today - timedelta(days=39), today - timedelta(days=1))
    before = _report(period)  # fills the rollup
    old = db.session.scalars(
        select(Response)
        .where(Response.integrity == "valid", Response.office.has(code="C"))
        .order_by(Response.submitted_at)
    ).first()
    old.integrity = "excluded"  # moderation of an old response, through the ORM
    db.session.commit()
    after = _report(period)
    office = next(o for o in after["offices"] if o["code"] == "C")
    assert (
        office["responses"]
        == next(o for o in before["offices"] if o["code"] == "C")["responses"] - 1
    )
    _same(after, _report(period, source="raw"))
    late = db.session.scalars(select(Response).where(Response.channel == "sms")).first()
    question_id = _free_question(db, late)
    late.answers.append(Answer(question_id=question_id, value=1))  # it takes late's submitted_at
    db.session.commit()  # a late SMS answer to an earlier day's response
    _same(_report(period), _report(period, source="raw"))


def _free_question(db, response):
    from survey_app.models import Answer, Question

    used = {a.question_id for a in response.answers}
    q = db.session.scalars(
        select(Question).where(Question.id.not_in(used), Question.kind == "likert5")
    ).first()
    if q is None:  # every likert question answered: change one instead
        answer = db.session.scalars(select(Answer).where(Answer.response_id == response.id)).first()
        db.session.delete(answer)
        db.session.flush()
        return answer.question_id
    return q.id


def test_buckets_tile_periods():
    from survey_app.reporting import Period
    from survey_app.reporting.rollup import buckets

    tiles = buckets(Period(date(2024, 12, 30), date(2026, 2, 2)))
    assert tiles[:3] == [(0, date(2024, 12, 30)), (0, date(2024, 12, 31)), (2, date(2025, 1, 1))]
    assert tiles[3:] == [(1, date(2026, 1, 1)), (0, date(2026, 2, 1)), (0, date(2026, 2, 2))]


def test_today_is_read_live(db, make_office, questionnaire):
    from survey_app.models import Answer, Response
    from survey_app.reporting import Period, local_today

    office = make_office("T")
    today = local_today()
    period = Period(today - timedelta(days=2), today)
    assert _report(period)["offices"][0]["responses"] == 0
    r = Response(
        office=office,
        questionnaire_id=questionnaire.id,
        channel="qr_web",
        submitted_at=datetime.now(UTC),
    )
    r.answers = [Answer(question_id=questionnaire.questions[0].id, value=4)]
    db.session.add(r)
    db.session.commit()
    doc = _report(period)
    assert doc["offices"][0]["responses"] == 1
    assert doc["offices"][0]["questions"]["overall"]["value"] == 1.0
    assert date.fromisoformat(doc["period"]["to"]) == today


def test_month_and_year_rows_equal_raw(app, db, make_office, make_service, questionnaire):
    from survey_app.reporting import Period

    seed(db, make_office, make_service, questionnaire, start=date(2025, 2, 1), days=59, scale=0.5)
    for period in (
        Period(date(2025, 1, 1), date(2025, 12, 31)),
        Period(date(2025, 2, 1), date(2025, 3, 31)),
        Period(date(2025, 1, 15), date(2025, 3, 10)),
    ):
        _same(_report(period, compare=True), _report(period, source="raw", compare=True))


def test_a_rebuilt_years_moments_equal_raw(
    app, db, make_office, make_service, questionnaire, monkeypatch
):
    """rebuild-rollup (built aside and swapped on PostgreSQL) writes moments for a year's keys
    with many patterns and patterns for the rest, and a late answer to that year rolls them
    again."""
    from survey_app.models import Answer, RollupMoment, RollupPattern
    from survey_app.models.rollups import YEAR
    from survey_app.reporting import Period, year_moments
    from survey_app.reporting.rollup import rebuild

    monkeypatch.setattr(year_moments, "PATTERN_ROW_BYTES", 400)  # keys of > 5 patterns
    seed(db, make_office, make_service, questionnaire, start=date(2025, 11, 20), days=20, scale=0.5)
    rebuild()
    moments = select(func.count()).select_from(RollupMoment)
    assert db.session.scalar(moments.where(RollupMoment.grain == YEAR)) > 0
    assert db.session.scalar(select(func.count()).where(RollupPattern.grain == YEAR)) > 0
    year = Period(date(2025, 1, 1), date(2025, 12, 31))
    _same(_report(year), _report(year, source="raw"))
    answer = db.session.scalars(select(Answer).where(Answer.value == 5).limit(1)).one()
    answer.value = 1  # a correction to a past day marks its day, month and year stale
    db.session.commit()
    _same(_report(year), _report(year, source="raw"))


def test_pruned_day_rows_leave_every_report_as_before(
    app, db, make_office, make_service, questionnaire, runner
):
    """prune-rollup deletes the day rows of old complete months; whole months and years read
    their own rows, ragged periods and late changes roll the days they need again."""
    from survey_app.models import Answer, Response, RollupAnswer, RollupDay
    from survey_app.models.rollups import DAY
    from survey_app.reporting import Period, local_today
    from survey_app.reporting.rollup import rebuild

    seed(db, make_office, make_service, questionnaire, start=date(2025, 2, 10), days=80, scale=0.5)
    rebuild()
    periods = [
        Period(date(2025, 1, 1), date(2025, 12, 31)),
        Period(date(2025, 3, 1), date(2025, 3, 31)),
        Period(date(2025, 3, 15), date(2025, 4, 10)),
    ]
    before = [_report(p, compare=True) for p in periods]

    def day_rows(start, end):
        return db.session.scalar(
            select(func.count()).where(
                RollupAnswer.grain == DAY, RollupAnswer.day >= start, RollupAnswer.day <= end
            )
        )

    result = runner.invoke(args=["mscore", "prune-rollup", "--keep-months", "3"])
    assert result.exit_code == 0, result.output
    today = local_today()
    cutoff = date(today.year, today.month, 1)
    for _ in range(3):
        cutoff = (cutoff - timedelta(days=1)).replace(day=1)
    # every day from March 2025 (the first whole month) to the cutoff had been rolled
    assert f"pruned the day rows of {(cutoff - date(2025, 3, 1)).days} days" in result.output
    assert day_rows(date(2025, 3, 1), date(2025, 4, 30)) == 0
    # February started on the 10th: its days are kept (every update-rollup reads them)
    assert day_rows(date(2025, 2, 10), date(2025, 2, 28)) > 0
    marks = select(func.count()).where(RollupDay.grain == DAY)
    old = marks.where(RollupDay.day >= date(2025, 3, 1), RollupDay.day < cutoff)
    assert db.session.scalar(old) == 0
    assert db.session.scalar(marks.where(RollupDay.day >= cutoff)) == (today - cutoff).days
    for period, doc in zip(periods, before, strict=True):
        _same(_report(period, compare=True), doc)
    assert day_rows(date(2025, 3, 15), date(2025, 3, 31)) > 0  # rolled again for the ragged one
    march = Period(date(2025, 3, 1), date(2025, 3, 31)).utc_bounds
    answer = db.session.scalars(
        select(Answer)
        .join(Response, Response.id == Answer.response_id)
        .where(
            Answer.value == 5, Response.submitted_at >= march[0], Response.submitted_at < march[1]
        )
        .limit(1)
    ).first()
    assert answer is not None
    answer.value = 1  # a late correction to a pruned day: its month is rolled from all its days
    db.session.commit()
    for period in periods:
        _same(_report(period, compare=True), _report(period, source="raw", compare=True))
    bad = runner.invoke(args=["mscore", "prune-rollup", "--keep-months", "0"])
    assert bad.exit_code != 0 and "0" in bad.output


def test_packed_fetch_reads_every_row_and_declines_nulls(app, db):
    """PostgreSQL packs count rows into bytea values (one per chunk of offices); a NULL would
    drop a record, so it falls back."""
    from sqlalchemy import literal_column, text

    from survey_app.reporting import fetch

    if db.engine.dialect.name != "postgresql":
        pytest.skip("the packed fetch is PostgreSQL's")
    rows = ", ".join(f"({i}, {i * 7 % 5}, {0.25 * i}, {10**12 + i})" for i in range(1, 2001))
    values = text(f"SELECT * FROM (VALUES {rows}) AS v(office_id, channel, probability, count)")
    cols = values.columns(
        literal_column("office_id"),
        literal_column("channel"),
        literal_column("probability"),
        literal_column("count"),
    ).subquery()
    names = ["office_id", "channel", "probability", "count"]

    def typed(channel):  # labelled like the report's count queries
        return select(
            cols.c.office_id.cast(db.Integer).label("office_id"),
            channel.cast(db.Integer).label("channel"),
            cols.c.probability.cast(db.Double).label("probability"),
            cols.c["count"].cast(db.BigInteger).label("count"),
        )

    stmt = typed(cols.c.channel)
    conn = db.session.connection()
    got = fetch._packed(conn, stmt, names)  # in chunks by office (any order)
    order = np.argsort(got["office_id"])
    got = {k: v[order] for k, v in got.items()}
    assert got["office_id"].tolist() == list(range(1, 2001))
    assert got["channel"].tolist() == [i * 7 % 5 for i in range(1, 2001)]
    assert got["probability"].tolist() == [0.25 * i for i in range(1, 2001)]
    assert got["count"][-1] == 10**12 + 2000  # eight bytes wide
    fetched = fetch._fetch(db.session, stmt, names)
    assert sorted(fetched["office_id"].tolist()) == list(range(1, 2001))
    with_null = typed(func.nullif(cols.c.channel, 3))
    assert fetch._packed(conn, with_null, names) is None
    fetched = fetch._fetch(db.session, with_null, names)  # the slow path keeps every row
    assert fetched["office_id"].size == 2000 and np.isnan(fetched["channel"]).sum() == 400
    empty = fetch._packed(conn, stmt.where(cols.c.office_id < 0), names)
    assert all(col.size == 0 for col in empty.values())


def _reads(db, reads: int) -> tuple[list[int], int]:
    """The backend (PostgreSQL's process id) that ran each of ``reads`` reads through
    readers.read_all on the session, and how many of them ran at once at most."""
    from survey_app.reporting import readers

    lock, running, most = threading.Lock(), [0], [0]

    def backend(conn):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)  # long enough for every reader to be busy at once
        pid = conn.execute(select(func.pg_backend_pid())).scalar()
        with lock:
            running[0] -= 1
        return pid

    return readers.read_all(db.session, [backend] * reads), most[0]


def test_counts_are_read_on_other_connections_at_once(app, db):
    """A report's count reads run side by side on their own connections (REPORT_READERS), in
    order, unless the transaction has written: then it reads them itself, seeing its rows."""
    from survey_app.models import Office

    if db.engine.dialect.name != "postgresql":
        pytest.skip("reads run side by side on PostgreSQL only")
    db.session.commit()
    own = db.session.scalar(select(func.pg_backend_pid()))
    pids, at_once = _reads(db, 4)
    assert own not in pids and at_once == 2  # two readers (the default), not the session's
    app.config["REPORT_READERS"] = 1
    assert _reads(db, 4) == ([own] * 4, 1)
    app.config["REPORT_READERS"] = 3
    pids, at_once = _reads(db, 4)
    assert own not in pids and at_once == 3
    db.session.add(Office(code="NEW", name="Phường Mới", kind="commune"))
    db.session.flush()  # written, not committed: other connections would not see it
    assert _reads(db, 4) == ([own] * 4, 1)
    db.session.rollback()


def test_reports_read_side_by_side_equal_reports_read_in_turn(app, db, recent):
    """The same report whether its counts are read at once or one after the other (a running
    period: rollup buckets and the live days, eight reads)."""
    from survey_app.reporting import Period, local_today

    db.session.commit()
    period = Period(local_today() - timedelta(days=35), local_today())
    apart = _report(period, compare=True)
    app.config["REPORT_READERS"] = 1
    _same(_report(period, compare=True), apart)


def test_a_missing_bucket_is_built_from_the_parts_present(
    app, db, make_office, make_service, questionnaire
):
    """A year and a month missing from the rollup are built, and only they: the year from its
    months, the month from its days already there (rollup._fill reads the buckets within the
    wanted ones' days); the year's report still equals the raw one."""
    from sqlalchemy import delete, tuple_

    from survey_app.models.rollups import MONTH, YEAR, RollupDay
    from survey_app.reporting import Period
    from survey_app.reporting.rollup import fill

    seed(db, make_office, make_service, questionnaire, start=date(2025, 2, 1), days=59, scale=0.5)
    year = Period(date(2025, 1, 1), date(2025, 12, 31))
    assert fill(Period(date(2024, 12, 1), date(2024, 12, 31))) == 1 + 31  # a month before it
    assert fill(year) == 1 + 12 + 365
    assert fill(year) == 0
    gone = [(YEAR, date(2025, 1, 1)), (MONTH, date(2025, 3, 1))]
    db.session.execute(delete(RollupDay).where(tuple_(RollupDay.grain, RollupDay.day).in_(gone)))
    db.session.commit()
    assert fill(year) == 2
    _same(_report(year, compare=True), _report(year, source="raw", compare=True))
