"""National scale reads on PostgreSQL: 34 provinces, 10,000 offices, rollup cells of 3 years.

    .venv/bin/python bench/national.py --responses 10000000 100000000 [--url postgresql://...]
    .venv/bin/python bench/national.py --smoke --url postgresql://...   (a few seconds)

For each size, creates the database bench_national_<size>, migrates it, adds 34 provinces
with their offices (a third communes, the rest departments; 120 services in 12 fields, the
default questionnaire) and writes the rollup cells that ``size`` responses over 3 years
produce (bench/national_cells.py: simulated respondents reduced to cells, no raw response is
stored): the year 2025 for every office (a third of the responses), and the 13 months that the
office page of a commune reads (October 2025 - November 2026) for one province. Then it times,
cold (first request of a new app) and warm (median of --repeat):
- the year's national report (GET /api/v1/reports/satisfaction, every office), computed on
  every request (with --national-repeat) and answered from the kept text (reporting/kept.py),
- a province's year (``office=<province code>``: its subtree), computed and kept,
- the office page of a commune (/offices/<code>, last complete month, compare, the monthly trend)
  signed in as an analyst of that province, with and without the document cache, in a new
  process once another has stored its documents, another commune's page in a new process, and
  a third's in the same process (the kept reports of its trend); signed in as a commune's own
  manager (scoped: disclosure control), in a process that keeps the group's reports and in a
  new one,
- with --reads stored: the province's and the national year as a new process reads them from the
  database's store of texts after one request stored them (what `flask mscore warm-reports` does
  nightly),
- with --reads warm: `warm-reports`' office pages of every ended period of the dashboard's
  selector (12 months, 7 quarters, 2 years), a first night and the next,
and splits the national year into SQL (fetch_counts), numpy (the rest of build_report) and the
document (JSON). Drops each database unless --keep.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, insert, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.national_cells import (  # noqa: E402
    frame_of,
    office_frame,
    office_rows,
    simulate_cells,
    write_cells,
)
from bench.national_page import PASSWORD, cold_warm, page_reads, warm_reads  # noqa: E402

PROVINCES = 34
FIELDS = 12
SERVICES = 120
YEAR, MONTHS = (
    date(2025, 1, 1),
    [date(2025, 10, 1)] + [date(2025 + (m > 12), (m - 1) % 12 + 1, 1) for m in range(11, 24)],
)


def main() -> None:
    """Seed each size, time the reads, drop the databases."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, nargs="+", default=[10_000_000, 100_000_000])
    parser.add_argument("--offices", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--national-repeat", type=int, default=0, help="warm national years")
    parser.add_argument(
        "--reads",
        default="province,page,split",
        help="what to time, comma-separated: province (the API's office=P01 year), page (the "
        "office page, cached and not), split (P01's own year and the national year by part), "
        "national (the national year, kept), stored (the province's and national year read from "
        "the database's store of texts by a new process), warm (warm-reports' office pages of "
        "every ended period of the dashboard's selector, a first night and the next)",
    )
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--reuse", action="store_true", help="time already seeded databases")
    parser.add_argument("--smoke", action="store_true", help="a tiny run: 2 provinces, 60 offices")
    parser.add_argument(
        "--province-only",
        action="store_true",
        help="write the cells of province P01 alone (its share of the responses) and time only "
        "its reads: the national year's cells of 100 M do not fit this machine's time",
    )
    args = parser.parse_args()
    if args.smoke:
        args.responses, args.offices, args.repeat = [30_000], 60, 1
        args.reads = "province,page,split,national,stored,warm"
    base = args.url.replace("postgresql://", "postgresql+psycopg://", 1).rstrip("/")
    base = base.rsplit("/", 1)[0] if base.count("/") > 2 else base
    admin = create_engine(base + "/postgres", isolation_level="AUTOCOMMIT")
    os.environ.setdefault("MSCORE_INSTANCE_PATH", "/tmp/mscore-bench-instance")
    from survey_app import create_app

    provinces = 2 if args.smoke else PROVINCES
    for size in args.responses:
        name = f"bench_national_{'smoke' if args.smoke else size}{'_p01' * args.province_only}"
        config = {"SQLALCHEMY_DATABASE_URI": f"{base}/{name}", "TESTING": True}
        try:
            if not args.reuse:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                    conn.execute(text(f'CREATE DATABASE "{name}"'))
                seed(create_app(config), size, args.offices, provinces, args.province_only)
            print(f"== {size:,} responses, {args.offices:,} offices", flush=True)
            measure(
                create_app,
                config,
                args.repeat,
                args.province_only,
                args.national_repeat,
                set(args.reads.split(",")),
            )
        finally:
            if not args.keep:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    if args.smoke:
        print("smoke: ok")


def _timed(label: str, fn):
    started = time.perf_counter()
    result = fn()
    print(f"{label:<52} {time.perf_counter() - started:8.2f} s", flush=True)
    return result


def seed(app, responses: int, n_offices: int, provinces: int, province_only=False) -> None:
    """Migrate, add offices, services, the questionnaire and users, write the rollup cells."""
    from flask_migrate import upgrade

    from survey_app.dashboard.users import create_user
    from survey_app.extensions import db
    from survey_app.models import CHANNELS, Office, Question, QuestionKind, Service
    from survey_app.models.rollups import DAY, MONTH, RollupDay
    from survey_app.models.rollups import YEAR as YEAR_GRAIN
    from survey_app.models.surveys import SIPAS_ELEMENTS, Dimension
    from survey_app.services.questionnaires import ensure_default_questionnaire

    rng = np.random.default_rng(21)
    with app.app_context():
        upgrade()
        questionnaire = ensure_default_questionnaire()
        rows = office_rows(n_offices, provinces)
        db.session.execute(
            insert(Office),
            [
                dict(
                    id=r["id"],
                    code=r["code"],
                    name=r["name"],
                    kind=r["kind"],
                    group=r["group"],
                    parent_id=r["parent"],
                    is_active=True,
                    sms_sampling_rate=0.5,
                )
                for r in rows
            ],
        )
        db.session.execute(
            insert(Service),
            [
                dict(id=s, code=f"DV{s}", name=f"Dịch vụ {s}", field=f"Lĩnh vực {s % FIELDS}")
                for s in range(1, SERVICES + 1)
            ],
        )
        db.session.execute(text(f"SELECT setval('offices_id_seq', {n_offices})"))
        db.session.execute(text(f"SELECT setval('services_id_seq', {SERVICES})"))
        create_user("bench@mscore.test", "Bench", "analyst", "P01", PASSWORD)
        questions = [
            dict(
                id=q.id,
                kind=str(q.kind),
                overall=q.dimension == Dimension.OVERALL,
                element=q.kind == QuestionKind.LIKERT5 and q.dimension in SIPAS_ELEMENTS,
                position=q.position,
                questionnaire_id=questionnaire.id,
            )
            for q in db.session.scalars(
                db.select(Question).where(
                    Question.questionnaire_id == questionnaire.id,
                    Question.kind.in_((QuestionKind.LIKERT5, QuestionKind.YES_NO)),
                )
            )
        ]
        assert max(q["position"] for q in questions) < 32
        db.session.commit()
        ids = np.array([r["id"] for r in rows if r["kind"] != "province"])
        weight = rng.lognormal(0.0, 0.8, ids.size)
        everyone = office_frame(ids, weight, rng, SERVICES)
        province = ids % provinces == 0  # parent 1 (P01): 1 + i % P == 1
        one = frame_of(everyone, province, weight)  # P01: its months
        share = weight[province].sum() / weight.sum()
        conn = db.session.connection()
        # The cells reference existing offices and questions by construction: the load skips the
        # foreign keys' per-row triggers (this transaction only).
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        written: dict[str, int] = {}
        # The year, a province at a time (its cells never add up with another's): the memory
        # is one province's cells, not the nation's (100 M responses took 14 GB at once).
        parts = [province] if province_only else [ids % provinces == p for p in range(provinces)]
        started = time.perf_counter()
        for mask in parts:
            frame = frame_of(everyone, mask, weight)
            n = int(responses / 3 * weight[mask].sum() / weight.sum())
            year = simulate_cells(rng, n, frame, questions, CHANNELS)
            write_cells(conn, YEAR_GRAIN, YEAR, year, written)
        year = None  # memory
        print(
            f"{'simulate and COPY the year 2025' + (' (P01)' if province_only else ''):<52} "
            f"{time.perf_counter() - started:8.2f} s",
            flush=True,
        )
        for month in MONTHS:
            cells = simulate_cells(rng, int(responses / 36 * share), one, questions, CHANNELS)
            write_cells(conn, MONTH, month, cells, written)
        days = [(YEAR_GRAIN, YEAR)] + [(MONTH, m) for m in MONTHS]
        db.session.execute(insert(RollupDay), [{"grain": g, "day": d} for g, d in days])
        assert DAY not in {g for g, _ in days}
        db.session.commit()
        print("rollup rows written:", {k: f"{v:,}" for k, v in written.items()}, flush=True)
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            _timed("vacuum analyze", lambda: c.execute(text("VACUUM ANALYZE")))


def measure(
    create_app, config, repeat: int, province_only=False, national_repeat=0, reads=()
) -> None:
    """Time the three reads and split the national year into SQL, numpy and JSON."""
    from survey_app.api.auth import create_token
    from survey_app.extensions import db

    def api(query, kept_seconds=0, store=False, fresh=True):
        """A new app's GET of the report; ``kept_seconds``: REPORT_CACHE_SECONDS (0: every
        request computes the report; else the warm ones are the kept text, reporting/kept.py);
        ``store``: with the database's store of texts (else REPORT_STORE_MB=0); ``fresh``: as
        a new process, with nothing kept in memory (else only the kept texts are forgotten)."""

        def make():
            from survey_app.reporting import kept

            # a new process keeps nothing; else the computed reports stay (not the texts)
            kept.clear() if fresh else kept.texts.clear()
            app = create_app(
                {
                    **config,
                    "REPORT_CACHE_SECONDS": kept_seconds,
                    "REPORT_STORE_MB": 1024 if store else 0,
                }
            )
            ctx = app.app_context()
            ctx.push()
            _, plain = create_token("bench", None, ("reports:read",))
            db.session.commit()
            client = app.test_client()

            def get():
                res = client.get(
                    f"/api/v1/reports/satisfaction?{query}",
                    headers={"Authorization": f"Bearer {plain}"},
                )
                assert res.status_code == 200, res.get_data(as_text=True)[:500]
                db.session.commit()
                return len(res.data)

            return get

        return make

    def stored(reads):
        """The first request of each (label, query) stores its text (timed once; the national
        report they need is computed once, by the first); then a new process reads each."""
        for label, query in reads:
            _timed(f"{label}, stored: the first request", api(query, 600, True, False)())
        for label, query in reads:
            cold_warm(f"{label}, stored: a new process", api(query, 600, store=True), repeat)

    year = "from=2025-01-01&to=2025-12-31"
    if "province" in reads:
        cold_warm("province year (API, office=P01)", api(year + "&office=P01"), repeat)
        cold_warm("the same, kept text", api(year + "&office=P01", 600), repeat)
    if "page" in reads:
        page_reads(create_app, config, repeat)
    if "warm" in reads:
        warm_reads(create_app, config)
    if "split" in reads:
        split(create_app(config), "P01")
        if not province_only:  # minutes at 10 M on this machine: once
            split(create_app(config), "national")
    if "national" in reads and not province_only:
        if national_repeat:
            cold_warm("national year (API, all offices)", api(year), national_repeat)
        cold_warm("national year, kept text", api(year, 600), repeat)
    if "stored" in reads:
        province = [("province year (office=P01)", year + "&office=P01")]
        stored(([] if province_only else [("national year", year)]) + province)


def split(app, office: str | None) -> None:
    """A year's time by part: SQL, numpy, JSON document ("national", or an office's subtree)."""
    if office is None:
        return
    from survey_app.api.auth import subtree
    from survey_app.extensions import db
    from survey_app.models import Office
    from survey_app.reporting import Params, Period, build_report
    from survey_app.reporting.documents import satisfaction_text
    from survey_app.reporting.fetch import fetch_counts
    from survey_app.reporting.year_moments import fetch_moments

    period = Period(date(2025, 1, 1), date(2025, 12, 31))
    with app.app_context(), app.test_request_context():
        ids = None
        if office != "national":
            ids = frozenset(subtree(db.session.scalar(db.select(Office.id).filter_by(code=office))))
        params = Params(period, visible=ids, universe=ids)
        t0 = time.perf_counter()
        only = None if ids is None else sorted(ids)
        moments = {"moments": lambda conn: fetch_moments(conn, [YEAR], ("valid",), only)}
        counts = fetch_counts(db.session, [(2, YEAR)], None, office_ids=only, also=moments)
        t1 = time.perf_counter()
        report = build_report(params)
        t2 = time.perf_counter()
        index_n = report.current.tables["index"].n.sum()
        if not index_n > 0.5 * report.current.stats["responses"].sum():
            raise SystemExit("the index counts too few respondents: patterns or moments missing")
        satisfaction_text(params)
        t3 = time.perf_counter()
    rows = {k: int(next(iter(v.values())).size) for k, v in counts.items()}
    print(
        f"split {office}: SQL (fetch_counts) {t1 - t0:.3f} s, report (SQL + numpy) "
        f"{t2 - t1:.3f} s, report + JSON text {t3 - t2:.3f} s; cells read {rows}",
        flush=True,
    )


if __name__ == "__main__":
    main()
