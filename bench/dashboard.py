"""Time the officials' pages (server time, in process): the dashboard's four pages and an office
page with their charts, for a province-sized database on PostgreSQL.

    .venv/bin/python bench/dashboard.py --url postgresql://postgres@127.0.0.1:5432/mscore_web_bench
    .venv/bin/python bench/dashboard.py --seed 1000000 --url postgresql://.../NEW_DB
    .venv/bin/python bench/dashboard.py --smoke      # tiny SQLite run, what the test suite runs

--seed N fills an empty database with `flask mscore seed-demo --responses N` (the demo's 63
offices) and rebuilds the rollup. Each page is requested by a signed-in analyst: cold (the first
request of a new app process: chart rendering and caches empty) and warm (median of --repeat).
The period is the last complete quarter (--period: another, e.g. the current one, whose
documents are reused for --live-seconds, DASHBOARD_LIVE_SECONDS, default 60; 0 computes every
view afresh).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PASSWORD = "bench password 0123"


def _pages(office: str, query: str) -> dict[str, str]:
    return {
        "dashboard": f"/dashboard?{query}",
        "funnel": f"/dashboard/funnel?{query}",
        "trends": f"/dashboard/trends?{query}",
        "responses": f"/dashboard/responses?{query}",
        "office page": f"/offices/{office}?{query}",
        "office PDF": f"/offices/{office}/report.pdf?{query}",
        "offices table (xlsx)": f"/dashboard/overview/offices.xlsx?{query}",
    }


def _sign_in(app):
    import re

    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)[1]
    res = client.post(
        "/login", data={"email": "bench@mscore.test", "password": PASSWORD, "csrf_token": token}
    )
    assert res.status_code == 302, res.status_code
    return client


def measure(
    create_app, config, repeat: int, group: str, period_key: str | None = None
) -> dict[str, tuple[float, float]]:
    """(cold, warm median) seconds per page."""
    from sqlalchemy import select

    from survey_app.dashboard.users import create_user
    from survey_app.extensions import db
    from survey_app.models import Office, User
    from survey_app.reporting import local_today

    app = create_app(config)
    with app.app_context():
        if db.session.scalar(select(User).where(User.email == "bench@mscore.test")) is None:
            create_user("bench@mscore.test", "Bench", "analyst", None, PASSWORD)
            db.session.commit()
        office = db.session.scalar(
            select(Office.code).where(Office.group == group).order_by(Office.id)
        )
        today = local_today()
        if period_key:
            quarter = period_key
        else:  # the last complete quarter
            last = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1) - timedelta(days=1)
            quarter = f"{last.year}-Q{(last.month - 1) // 3 + 1}"
        from survey_app.api.auth import create_token
        from survey_app.dashboard.filters import period_of

        _, plain = create_token("bench", None, ("reports:read",))
        db.session.commit()
    period = period_of(quarter)
    print(f"period {quarter} ({period.start} to {period.end}), group {group}")
    query = f"period={quarter}&group={group}"
    api = (
        f"/api/v1/reports/satisfaction?from={period.start}&to={period.end}&group={group}"
        "&compare=previous"
    )
    out = {}
    client = _sign_in(app)
    pages = {"baseline: API report": api, **_pages(office, query)}
    headers = {"Authorization": f"Bearer {plain}"}
    print(f"{'request':<24} {'cold':>8} {'warm':>8} {'warm CPU':>9}  (median of {repeat})")
    for label, url in pages.items():
        started = time.perf_counter()
        res = client.get(url, headers=headers if url == api else {})
        cold = time.perf_counter() - started
        assert res.status_code == 200, (url, res.status_code, res.get_data(as_text=True)[:300])
        warm, cpu = [], []
        for _ in range(repeat):
            started, started_cpu = time.perf_counter(), time.process_time()
            assert client.get(url, headers=headers if url == api else {}).status_code == 200
            warm.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        out[label] = (cold, statistics.median(warm) if warm else cold)
        print(
            f"{label:<24} {cold:7.3f}s {out[label][1]:7.3f}s "
            f"{statistics.median(cpu) if cpu else 0:8.3f}s",
            flush=True,
        )
    return out


def seed(create_app, config, responses: int) -> None:
    """Migrate, seed the demo province and rebuild the rollup."""
    from flask_migrate import upgrade

    app = create_app(config)
    with app.app_context():
        upgrade()
        runner = app.test_cli_runner()
        for args in (
            ["mscore", "seed-demo", "--responses", str(responses)],
            ["mscore", "rebuild-rollup"],
        ):
            result = runner.invoke(args=args)
            assert result.exit_code == 0, result.output
            print(result.output.strip().splitlines()[-1][:200], flush=True)


def main(argv=None) -> dict:
    """Run the benchmark (or the smoke run) and print the timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="database URL (PostgreSQL for the figures)")
    parser.add_argument("--seed", type=int, help="seed this many responses first")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--group", default="communes", help="ranking group (the largest)")
    parser.add_argument("--period", help="e.g. 2026-Q4 (default: the last complete quarter)")
    parser.add_argument(
        "--live-seconds",
        type=float,
        default=60,
        help="DASHBOARD_LIVE_SECONDS: how long a running period's document is reused (0: never)",
    )
    parser.add_argument("--smoke", action="store_true", help="a tiny SQLite run (the tests)")
    args = parser.parse_args(argv)
    os.environ.setdefault("MSCORE_INSTANCE_PATH", tempfile.mkdtemp(prefix="mscore-bench-"))
    from survey_app import create_app

    if args.smoke:
        folder = tempfile.mkdtemp(prefix="mscore-bench-smoke-")
        args.url, args.seed, args.repeat = f"sqlite:///{folder}/bench.sqlite", 200, 1
    url = (args.url or "").replace("postgresql://", "postgresql+psycopg://", 1)
    config = {"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "RATELIMIT_ENABLED": False}
    config["DASHBOARD_LIVE_SECONDS"] = args.live_seconds
    if args.seed:
        seed(create_app, config, args.seed)
    return measure(create_app, config, args.repeat, args.group, args.period)


if __name__ == "__main__":
    main()
