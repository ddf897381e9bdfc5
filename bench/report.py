"""Time the satisfaction report over 1,000 offices on PostgreSQL, through the API.

    .venv/bin/python bench/report.py --responses 1000000 [--keep] [--url postgresql://...]

Creates the database mscore_bench_report (or --name), migrates it, seeds it in SQL with
generate_series (1,000 offices in a hierarchy of 3 ranking groups, 12 services in 5 fields, 1.2
returned dossiers per response, 6 likert answers per response: the overall question and one item
per SIPAS element, 20% SMS and 2% flagged), times `flask mscore rebuild-rollup`, then the report
for 2025 and for June 2025 through GET /api/v1/reports/satisfaction, cold (first request of a
new app) and warm (median of 3), also with compare=previous and with
include=questions,breakdowns (the full document), and the Excel download of 2025; drops the
database unless --keep.
With --reuse (and --keep) it times an already seeded database again.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
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

SEED = """
INSERT INTO offices (id, code, name, kind, ranking_group, parent_id, is_active, sms_sampling_rate)
SELECT i, 'O' || lpad(i::text, 4, '0'), 'Đơn vị ' || i,
       CASE WHEN i <= 30 THEN 'department' WHEN i <= 100 THEN 'district' ELSE 'commune' END,
       CASE WHEN i <= 30 THEN 'departments' WHEN i <= 100 THEN 'districts' ELSE 'communes' END,
       CASE WHEN i > 100 THEN 31 + (i % 70) END, true, 0.5
FROM generate_series(1, 1000) i;
INSERT INTO services (id, code, name, field, is_active)
SELECT i, 'SV' || i, 'Dịch vụ ' || i, 'Lĩnh vực ' || (i % 5), true FROM generate_series(1, 12) i;
INSERT INTO dossiers (office_id, code, service_id, phone_status, returned_at, created_at,
                      updated_at)
SELECT 1 + (i % 1000), 'HS' || i, CASE WHEN i % 10 = 0 THEN NULL ELSE 1 + (i % 12) END,
       'missing', t, t, t
FROM (SELECT i, timestamptz '2024-12-31 17:00:00+00'
             + (random() * 365 * 86400) * interval '1 second' AS t
      FROM generate_series(1, :dossiers) i) s;
INSERT INTO responses (office_id, service_id, questionnaire_id, channel, submitted_at, language,
                       integrity, is_partial)
SELECT 1 + (i % 1000), CASE WHEN i % 7 = 0 THEN NULL ELSE 1 + (i % 12) END, :qid,
       CASE WHEN i % 5 = 0 THEN 'sms' ELSE 'qr_web' END,
       timestamptz '2024-12-31 17:00:00+00' + (random() * 365 * 86400) * interval '1 second',
       'vi', CASE WHEN i % 50 = 0 THEN 'flagged' ELSE 'valid' END, false
FROM generate_series(1, :responses) i;
"""
# The answers' constraints and index are dropped for the load and put back after (much faster).
DROP = (
    "ALTER TABLE answers DROP CONSTRAINT uq_answers_response_id_question_id",
    "ALTER TABLE answers DROP CONSTRAINT fk_answers_response_id_responses",
    "DROP INDEX ix_answers_question_id",
)
ADD = (
    "ALTER TABLE answers ADD CONSTRAINT uq_answers_response_id_question_id "
    "UNIQUE (response_id, question_id)",
    "ALTER TABLE answers ADD CONSTRAINT fk_answers_response_id_responses FOREIGN KEY "
    "(response_id) REFERENCES responses (id) ON DELETE CASCADE",
    "CREATE INDEX ix_answers_question_id ON answers (question_id)",
)
ANSWERS = """
INSERT INTO answers (response_id, question_id, value)
SELECT r.id, q.id,
       LEAST(5, GREATEST(1, 3 + floor(random() * 3 + (r.office_id % 10) / 9.0)::int
                          - (random() < 0.15)::int * 2))
FROM responses r CROSS JOIN questions q WHERE q.code IN :codes AND q.questionnaire_id = :qid
"""


def main() -> None:
    """Seed, time and report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="use an already seeded database")
    parser.add_argument("--name", default=NAME, help=f"the database's name (default {NAME})")
    args = parser.parse_args()
    base = args.url.replace("postgresql://", "postgresql+psycopg://", 1).rstrip("/")
    admin = create_engine(base + "/postgres", isolation_level="AUTOCOMMIT")
    url = f"{base}/{args.name}"
    os.environ.setdefault("MSCORE_INSTANCE_PATH", "/tmp/mscore-bench-instance")
    from survey_app import create_app

    config = {"SQLALCHEMY_DATABASE_URI": url, "TESTING": True}
    try:
        if not args.reuse:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{args.name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{args.name}"'))
            seed(create_app(config), args.responses)
        measure(create_app, config)
    finally:
        if not args.keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{args.name}" WITH (FORCE)'))


def _timed(label: str, fn):
    started = time.perf_counter()
    result = fn()
    print(f"{label:<44} {time.perf_counter() - started:8.2f} s", flush=True)
    return result


def seed(app, responses: int) -> None:
    """Migrate and fill the database in SQL (no ORM rows but the questionnaire)."""
    from flask_migrate import upgrade

    from survey_app.extensions import db
    from survey_app.services.questionnaires import ensure_default_questionnaire

    with app.app_context():
        upgrade()
        qid = ensure_default_questionnaire().id
        db.session.commit()
        with db.engine.begin() as conn:
            for drop in DROP:
                conn.execute(text(drop))
            for statement in SEED.split(";\n"):
                if statement.strip():
                    _timed(
                        f"seed {statement.split()[2]}",
                        lambda s=statement: conn.execute(
                            text(s),
                            {"qid": qid, "responses": responses, "dossiers": int(responses * 1.2)},
                        ),
                    )
            _timed(
                "seed answers",
                lambda: conn.execute(text(ANSWERS.replace(":codes", str(QUESTIONS))), {"qid": qid}),
            )
        with db.engine.begin() as conn:
            _timed("index answers", lambda: [conn.execute(text(add)) for add in ADD])
            conn.execute(text("SELECT setval('offices_id_seq', 1000)"))
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            _timed("vacuum analyze", lambda: conn.execute(text("VACUUM ANALYZE")))
        runner = app.test_cli_runner()
        _timed(
            "flask mscore rebuild-rollup", lambda: runner.invoke(args=["mscore", "rebuild-rollup"])
        )
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
            sizes = conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM responses), (SELECT count(*) FROM answers), "
                    "(SELECT count(*) FROM rollup_answers)"
                )
            ).one()
        print(f"rows: responses {sizes[0]:,}, answers {sizes[1]:,}, rollup_answers {sizes[2]:,}")


def measure(create_app, config) -> None:
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
    for label, query in queries.items():
        app = create_app(config)  # a new app: cold caches in the process
        with app.app_context():
            _, plain = create_token("bench", None, ("reports:read",))
            db.session.commit()
            client = app.test_client()
            headers = {"Authorization": f"Bearer {plain}"}

            def get(q=query, h=headers, c=client):
                res = c.get(f"/api/v1/reports/satisfaction?{q}", headers=h)
                assert res.status_code == 200, res.get_data(as_text=True)[:500]
                return len(res.data)

            size = _timed(f"API {label}: cold", get)
            warm = []
            for _ in range(3):
                started = time.perf_counter()
                get()
                warm.append(time.perf_counter() - started)
            print(
                f"{'API ' + label + ': warm (median of 3)':<44} {statistics.median(warm):8.2f} s"
                f"   ({size / 1e6:.1f} MB JSON)"
            )
    with app.app_context():
        times = []
        for _ in range(3):
            started = time.perf_counter()
            res = client.get(
                "/reports/satisfaction.xlsx?from=2025-01-01&to=2025-12-31", headers=headers
            )
            times.append(time.perf_counter() - started)
        print(
            f"{'xlsx 2025 (median of 3)':<44} {statistics.median(times):8.2f} s   "
            f"({len(res.data) / 1e6:.1f} MB, status {res.status_code})"
        )


if __name__ == "__main__":
    main()
