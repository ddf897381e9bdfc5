"""Time the satisfaction report over 1,000 offices on PostgreSQL, through the API, and the rollup.

    .venv/bin/python bench/report.py --responses 1000000 [--questionnaire six|default]
        [--busy-day 50000] [--keep] [--reuse] [--rebuilds 1 2] [--url postgresql://...] [--smoke]

Creates the database mscore_bench_report (or --name), migrates it, seeds it in SQL with
generate_series (1,000 offices in a hierarchy of 3 ranking groups, 12 services in 5 fields, 1.2
returned dossiers per response, 20% SMS and 2% flagged) and the answers: with `six` (the
default) 6 likert answers per response, the overall question and one item per SIPAS element;
with `default` every question of the default questionnaire (17 likert, a yes/no, a comment)
skipped as the demo skips them (QR: 40% answer only the overall rating, the others each item at
93%, yes/no 85%, comment 8%; SMS: 12% stop after a random question, comment 3%). It times
`flask mscore rebuild-rollup`, prints the rollup's rows per table and grain, then with
--busy-day N adds N responses on yesterday (local) and times `flask mscore update-rollup`; then
the report for 2025 and for June 2025 through GET /api/v1/reports/satisfaction, cold (first
request of a new app), warm (median of 3, computed each time: REPORT_CACHE_SECONDS=0), kept
(median of 3 answered from the ended period's kept text, reporting/kept.py) and stored (median
of 3 first requests of new apps, each read from the database's store of texts after one
request stored it; the other lines run without the store: REPORT_STORE_MB=0), also with
compare=previous and with include=questions,breakdowns (the full document), and the Excel
download of 2025; drops the
database unless --keep. With --reuse (and --keep) it times an already seeded database again.
With --rebuilds 1 2 it times `flask mscore rebuild-rollup` again (before the busy day) with 1
and 2 ROLLUP_REBUILD_WORKERS, alternated, 3 rounds: each one's median and ratio to the first.
--smoke runs it all once on 2,000 responses in a private database it drops, and checks only
that every step works (tests/bench runs it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

NAME = "mscore_bench_report"
QUESTIONS = (
    "overall",
    "access_signs",
    "procedure_time",
    "staff_polite",
    "result_on_time",
    "feedback_easy",
)

OFFICES = """
INSERT INTO offices (id, code, name, kind, ranking_group, parent_id, is_active, sms_sampling_rate)
SELECT i, 'O' || lpad(i::text, 4, '0'), 'Đơn vị ' || i,
       CASE WHEN i <= 30 THEN 'department' WHEN i <= 100 THEN 'district' ELSE 'commune' END,
       CASE WHEN i <= 30 THEN 'departments' WHEN i <= 100 THEN 'districts' ELSE 'communes' END,
       CASE WHEN i > 100 THEN 31 + (i % 70) END, true, 0.5
FROM generate_series(1, 1000) i;
INSERT INTO services (id, code, name, field, is_active)
SELECT i, 'SV' || i, 'Dịch vụ ' || i, 'Lĩnh vực ' || (i % 5), true FROM generate_series(1, 12) i
"""
# Dossiers and responses at random moments of [:start, :start + :span seconds).
ACTIVITY = """
INSERT INTO dossiers (office_id, code, service_id, phone_status, returned_at, created_at,
                      updated_at)
SELECT 1 + (i % 1000), :prefix || i, CASE WHEN i % 10 = 0 THEN NULL ELSE 1 + (i % 12) END,
       'missing', t, t, t
FROM (SELECT i, :start + (random() * :span) * interval '1 second' AS t
      FROM generate_series(1, :dossiers) i) s;
INSERT INTO responses (office_id, service_id, questionnaire_id, channel, submitted_at, language,
                       integrity, is_partial)
SELECT 1 + (i % 1000), CASE WHEN i % 7 = 0 THEN NULL ELSE 1 + (i % 12) END, :qid,
       CASE WHEN i % 5 = 0 THEN 'sms' ELSE 'qr_web' END,
       :start + (random() * :span) * interval '1 second',
       'vi', CASE WHEN i % 50 = 0 THEN 'flagged' ELSE 'valid' END, false
FROM generate_series(1, :responses) i
"""
# The answers' keys and index are dropped for the full load and put back after (much faster).
DROP = (
    "ALTER TABLE answers DROP CONSTRAINT pk_answers",
    "ALTER TABLE answers DROP CONSTRAINT fk_answers_response_id_responses",
    "DROP INDEX ix_answers_question_id",
    "DROP INDEX ix_answers_comments",
)
ADD = (
    "ALTER TABLE answers ADD CONSTRAINT pk_answers PRIMARY KEY "
    "(response_id, submitted_at, question_id)",
    "ALTER TABLE answers ADD CONSTRAINT fk_answers_response_id_responses FOREIGN KEY "
    "(response_id, submitted_at) REFERENCES responses (id, submitted_at) ON DELETE CASCADE",
    "CREATE INDEX ix_answers_question_id ON answers (question_id)",
    "CREATE INDEX ix_answers_comments ON answers (response_id) WHERE text IS NOT NULL",
)
LIKERT = """LEAST(5, GREATEST(1, 3 + floor(random() * 3 + (r.office_id % 10) / 9.0)::int
                          - (random() < 0.15)::int * 2))"""
SIX = f"""
INSERT INTO answers (response_id, submitted_at, question_id, value)
SELECT r.id, r.submitted_at, q.id, {LIKERT}
FROM responses r CROSS JOIN questions q
WHERE q.code IN :codes AND q.questionnaire_id = :qid AND r.id > :after
"""
# Every question of the default questionnaire, skipped as survey_app/demo/bulk.py's answer_rows
# skips them: u < 0.4 is a QR respondent who pressed "Send now" under the overall rating (or an
# SMS conversation that stopped, u < 0.12, after question `stop`).
DEFAULT = f"""
INSERT INTO answers (response_id, submitted_at, question_id, value, text)
SELECT r.id, r.submitted_at, q.id,
       CASE q.kind WHEN 'likert5' THEN {LIKERT} WHEN 'yes_no' THEN (random() < 0.03)::int END,
       CASE WHEN q.kind = 'text' THEN 'Góp ý' END
FROM (SELECT id, submitted_at, office_id, channel = 'sms' AS sms, random() AS u,
             1 + floor(random() * 17)::int AS stop
      FROM responses WHERE id > :after) r
JOIN questions q ON q.questionnaire_id = :qid
WHERE q.is_required
   OR CASE WHEN q.kind = 'text'
             THEN random() < CASE WHEN r.sms THEN 0.03 ELSE 0.08 END AND r.u >= 0.4
           WHEN r.sms THEN r.u >= 0.12 OR q.position < r.stop
           ELSE r.u >= 0.4 AND random() < CASE q.kind WHEN 'likert5' THEN 0.93 ELSE 0.85 END
      END
"""
YEAR_START = datetime(2024, 12, 31, 17, tzinfo=UTC)  # 2025-01-01 00:00 in Vietnam


def main(argv=None) -> dict[str, float]:
    """Seed, time and report; returns the timings (seconds) by label."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--questionnaire", choices=("six", "default"), default="six")
    parser.add_argument("--busy-day", type=int, default=0, help="responses to add on yesterday")
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="use an already seeded database")
    parser.add_argument("--name", default=NAME, help=f"the database's name (default {NAME})")
    parser.add_argument("--smoke", action="store_true", help="a tiny run: check every step works")
    parser.add_argument(
        "--rebuilds",
        type=int,
        nargs="+",
        default=[],
        metavar="WORKERS",
        help="time rebuild-rollup again with each ROLLUP_REBUILD_WORKERS, alternated, 3 times",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.responses, args.busy_day, args.keep, args.reuse = 2_000, 200, False, False
        args.rebuilds = [1, 2]
        args.name = f"{args.name}_smoke_{os.getpid()}"
    base = args.url.replace("postgresql://", "postgresql+psycopg://", 1)
    base = base.rsplit("/", 1)[0] if base.count("/") > 2 else base.rstrip("/")
    admin = create_engine(base + "/postgres", isolation_level="AUTOCOMMIT")
    url = f"{base}/{args.name}"
    os.environ.setdefault("MSCORE_INSTANCE_PATH", "/tmp/mscore-bench-instance")
    from survey_app import create_app

    config = {"SQLALCHEMY_DATABASE_URI": url, "TESTING": True}
    timings: dict[str, float] = {}
    try:
        if not args.reuse:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{args.name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{args.name}"'))
            seed(create_app(config), args.responses, args.questionnaire, timings)
        if args.rebuilds:
            rebuilds(create_app, config, args.rebuilds, timings, 1 if args.smoke else 3)
        if args.busy_day:
            busy_day(create_app(config), args.busy_day, args.questionnaire, timings)
        measure(create_app, config, timings, repeats=1 if args.smoke else 3)
    finally:
        if not args.keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{args.name}" WITH (FORCE)'))
        admin.dispose()
    if args.smoke:
        print(f"smoke: {len(timings)} steps ran")
    return timings


def _timed(label: str, fn, timings: dict):
    started = time.perf_counter()
    result = fn()
    timings[label] = time.perf_counter() - started
    print(f"{label:<44} {timings[label]:8.2f} s", flush=True)
    return result


def _activity(conn, qid, responses, start, span, prefix, timings, label=""):
    """Dossiers (1.2 per response) and responses at random moments of a span of seconds."""
    params = {"qid": qid, "responses": responses, "dossiers": int(responses * 1.2)}
    params.update(start=start, span=span, prefix=prefix)
    for statement in ACTIVITY.split(";\n"):
        _timed(
            f"{label}seed {statement.split()[2]}",
            lambda s=statement: conn.execute(text(s), params),
            timings,
        )


def _answers(conn, qid, questionnaire, after, timings, label=""):
    """Answers to the responses after id ``after``: six items, or the default questionnaire's."""
    if questionnaire == "six":
        sql, params = SIX.replace(":codes", str(QUESTIONS)), {"qid": qid, "after": after}
    else:
        sql, params = DEFAULT, {"qid": qid, "after": after}
    _timed(f"{label}seed answers", lambda: conn.execute(text(sql), params), timings)


def _invoke(runner, *args):
    result = runner.invoke(args=["mscore", *args])
    assert result.exit_code == 0, (result.output, result.exception)
    print("   ", result.output.strip())


def seed(app, responses: int, questionnaire: str, timings: dict) -> None:
    """Migrate and fill the database in SQL (no ORM rows but the questionnaire)."""
    from flask_migrate import upgrade

    from survey_app.extensions import db
    from survey_app.partitions import add_partitions
    from survey_app.reporting.periods import zone
    from survey_app.services.questionnaires import ensure_default_questionnaire

    with app.app_context():
        upgrade()
        # the months seeded get their partitions, as if update-rollup had run through 2025
        add_partitions(db.session.connection(), date(2025, 1, 1), 12, zone())
        qid = ensure_default_questionnaire().id
        db.session.commit()
        with db.engine.begin() as conn:
            for drop in DROP:
                conn.execute(text(drop))
            for statement in OFFICES.split(";\n"):
                conn.execute(text(statement))
            _activity(conn, qid, responses, YEAR_START, 365 * 86400, "HS", timings)
            _answers(conn, qid, questionnaire, 0, timings)
        with db.engine.begin() as conn:
            _timed("index answers", lambda: [conn.execute(text(add)) for add in ADD], timings)
            conn.execute(text("SELECT setval('offices_id_seq', 1000)"))
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            _timed("vacuum analyze", lambda: conn.execute(text("VACUUM ANALYZE")), timings)
        runner = app.test_cli_runner()
        _timed("flask mscore rebuild-rollup", lambda: _invoke(runner, "rebuild-rollup"), timings)
        sizes(db)


def rebuilds(create_app, config, workers: list[int], timings: dict, repeats: int) -> None:
    """`flask mscore rebuild-rollup` again with each number of workers in turn, ``repeats``
    rounds (a new app each), then each one's median and its ratio to the first's."""
    times: dict[int, list[float]] = {w: [] for w in workers}
    for round_ in range(repeats):
        for count in workers:
            app = create_app({**config, "ROLLUP_REBUILD_WORKERS": count})
            with app.app_context():
                label = f"rebuild-rollup, {count} workers, run {round_ + 1}"
                _timed(label, lambda a=app: _invoke(a.test_cli_runner(), "rebuild-rollup"), timings)
                times[count].append(timings[label])
    first = statistics.median(times[workers[0]])
    for count, runs in times.items():
        label = f"rebuild-rollup, {count} workers (median of {repeats})"
        timings[label] = statistics.median(runs)
        print(f"{label:<44} {timings[label]:8.2f} s   ({timings[label] / first:.2f} x)")


def sizes(db) -> None:
    """Rows of the raw tables and of the rollup's tables per grain."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
        raw = conn.execute(
            text("SELECT (SELECT count(*) FROM responses), (SELECT count(*) FROM answers)")
        ).one()
        print(
            f"rows: responses {raw[0]:,}, answers {raw[1]:,} ({raw[1] / max(raw[0], 1):.2f} each)"
        )
        for table in ("rollup_answers", "rollup_patterns", "rollup_responses", "rollup_dossiers"):
            grains = conn.execute(
                text(f"SELECT grain, count(*) FROM {table} GROUP BY grain ORDER BY grain")
            ).all()
            shown = ", ".join(f"{('day', 'month', 'year')[g]} {n:,}" for g, n in grains)
            print(f"rows: {table:<17} {shown}")


def busy_day(app, responses: int, questionnaire: str, timings: dict) -> None:
    """Add a busy day's responses on yesterday (local) and time `flask mscore update-rollup`."""
    from survey_app.extensions import db
    from survey_app.reporting.periods import local_today, zone

    with app.app_context():
        yesterday = local_today() - timedelta(days=1)
        opens = datetime.combine(yesterday, clock(7, 30), zone()).astimezone(UTC)
        qid = db.session.execute(text("SELECT max(questionnaire_id) FROM responses")).scalar()
        with db.engine.begin() as conn:
            after = conn.execute(text("SELECT coalesce(max(id), 0) FROM responses")).scalar()
            _activity(conn, qid, responses, opens, 9.5 * 3600, "HSB", timings, "busy day: ")
            _answers(conn, qid, questionnaire, after, timings, "busy day: ")
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE responses, answers, dossiers"))
        runner = app.test_cli_runner()
        label = f"update-rollup after {responses:,} on a day"
        _timed(label, lambda: _invoke(runner, "update-rollup"), timings)
        _timed(
            "update-rollup again (nothing new)", lambda: _invoke(runner, "update-rollup"), timings
        )


def _median(label: str, get, repeats: int, timings: dict, size: int, before=None) -> None:
    """Time ``repeats`` requests (``before`` runs ahead of each, untimed) and print the median."""
    times = []
    for _ in range(repeats):
        if before:
            before()
        started = time.perf_counter()
        get()
        times.append(time.perf_counter() - started)
    timings[label] = statistics.median(times)
    print(
        f"{label + f' (median of {repeats})':<44} "
        f"{timings[label]:8.2f} s   ({size / 1e6:.1f} MB JSON)"
    )


def measure(create_app, config, timings: dict, repeats: int = 3) -> None:
    """Time the report through the API, cold and warm, and the year's Excel download."""
    from survey_app.api.auth import create_token
    from survey_app.extensions import db

    queries = {
        "year": "from=2025-01-01&to=2025-12-31",
        "month": "from=2025-06-01&to=2025-06-30",
        "year, compare=previous": "from=2025-01-01&to=2025-12-31&compare=previous",
        "year, include=questions,breakdowns": (
            "from=2025-01-01&to=2025-12-31&include=questions,breakdowns"
        ),
    }
    from survey_app.reporting import kept

    for label, query in queries.items():
        # a new app: cold caches in the process; no stored texts (timed below)
        app = create_app({**config, "REPORT_STORE_MB": 0})
        with app.app_context():
            _, plain = create_token("bench", None, ("reports:read",))
            db.session.commit()
            client = app.test_client()
            headers = {"Authorization": f"Bearer {plain}"}

            def get(q=query, h=headers, c=client):
                res = c.get(f"/api/v1/reports/satisfaction?{q}", headers=h)
                assert res.status_code == 200, res.get_data(as_text=True)[:500]
                db.session.commit()
                return len(res.data)

            size = _timed(f"API {label}: cold", get, timings)
            # computed on every request, then answered from the kept text (reporting/kept.py)
            for kind, seconds in (("warm", 0), ("kept", 600)):
                app.config["REPORT_CACHE_SECONDS"] = seconds
                _median(f"API {label}: {kind}", get, repeats, timings, size)
            # stored: computed and stored once, then each new process reads it (memory cleared)
            app.config.update(REPORT_CACHE_SECONDS=600, REPORT_STORE_MB=1024)
            kept.clear()
            get()
            _median(f"API {label}: stored", get, repeats, timings, size, before=kept.clear)
    with app.app_context():
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            res = client.get(
                "/reports/satisfaction.xlsx?from=2025-01-01&to=2025-12-31", headers=headers
            )
            assert res.status_code == 200, res.status_code
            times.append(time.perf_counter() - started)
        timings["xlsx 2025"] = statistics.median(times)
        print(
            f"{f'xlsx 2025 (median of {repeats})':<44} {statistics.median(times):8.2f} s   "
            f"({len(res.data) / 1e6:.1f} MB, status {res.status_code})"
        )


if __name__ == "__main__":
    main()
