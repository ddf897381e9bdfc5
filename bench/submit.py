"""Benchmark: full QR survey submissions against a bare insert-one-row Flask baseline.

Both run under gunicorn (2 sync workers each) on PostgreSQL, started once and kept up; a load
generator in this process posts from N threads over 127.0.0.1 to one of them at a time, in short
windows that alternate baseline and submissions (ABBA order, so a drift in the machine's speed
falls on both alike). Each pair of neighbouring windows gives one ratio; the result is the median
of those ratios, with the ratio of the median requests/second beside it.

    .venv/bin/python bench/submit.py [--seconds 5] [--pairs 12] [--concurrency 4]
        [--what-if no-rate-limit|no-csrf|no-answer-fks] [--compare DIR] [--smoke]

Target (issue 2): full submissions >= 0.6 x the baseline's requests/second, p99 < 100 ms.

--what-if adds the app without one of its protections to every round, to show what each costs
(measurement only: each gives up something the survey must have). --compare DIR adds the app of
another checkout (an older commit, `git worktree add` or `git archive`) to every round, on its
own database migrated by its own code, so that a change is measured before and after in the same
run. --smoke runs one tiny round on private databases it drops afterwards and checks only that
every request got its expected answer (the test suite runs it, so a schema change that breaks
this script fails CI).

Each window also reports the CPU time spent per request (from /proc) by the gunicorn server,
PostgreSQL, Redis and the load generator: with the 2 cores shared, throughput follows the total.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.loadgen import load, summarize  # noqa: E402
from bench.servers import (  # noqa: E402
    compare_env,
    create_database,
    drop_database,
    free_port,
    prepare_app_database,
    prepare_databases,
    start_gunicorn,
    stop,
    survey_session,
)

FULL_ANSWERS = {
    "q_overall": "4",
    "q_access_signs": "5",
    "q_access_seats": "4",
    "q_access_equipment": "4",
    "q_procedure_posted": "5",
    "q_procedure_documents": "4",
    "q_procedure_fees": "5",
    "q_procedure_time": "3",
    "q_staff_polite": "5",
    "q_staff_guidance": "4",
    "q_staff_rules": "5",
    "q_result_on_time": "4",
    "q_result_accurate": "5",
    "q_result_fair": "5",
    "q_feedback_easy": "4",
    "q_feedback_handled": "4",
    "q_feedback_notified": "3",
    "q_extra_payment": "0",
    "q_comment": "Cán bộ hướng dẫn tận tình, chu đáo",
    "service": "",
}


def baseline_request(state, index):
    if state == "setup":
        return None
    body = b"value=" + secrets.token_hex(8).encode()
    return "POST", "/insert", body, {"Content-Type": "application/x-www-form-urlencoded"}, 201


def token_maker(root: Path, env: dict, form_token: str):
    """A function that makes one submission token as the form of the app at `root` carries it
    (`form_token`: the one its form gave): signed for the office with the app's SECRET_KEY where
    the app issues them (made here, before the clock starts, instead of one GET of the form per
    submission), random where it does not (before #16)."""
    if not (root / "survey_app" / "services" / "submission_tokens.py").exists():
        return lambda: secrets.token_urlsafe(24)
    office_id = int(form_token.split("-", 1)[0])  # tokens are signed "<office id>-<nonce>"
    from flask import Flask

    from survey_app.services.submission_tokens import issue

    signer = Flask(__name__)
    signer.config.update(SECRET_KEY=env["SECRET_KEY"])

    def new_token() -> str:
        with signer.app_context():
            return issue(office_id)

    return new_token


def survey_request_factory(port: int, root: Path = ROOT, env: dict | None = None):
    """Full submissions to the app on `port` (of the checkout `root`), each with its own token."""

    def make(state, index):
        if state == "setup":
            cookie, csrf, token = survey_session(port)
            return cookie, csrf, token_maker(root, env or {}, token)
        cookie, csrf, new_token = state
        form = {**FULL_ANSWERS, "csrf_token": csrf, "submission_token": new_token()}
        body = urllib.parse.urlencode(form).encode()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": cookie,
            "User-Agent": f"bench-phone-{index}",
        }
        return "POST", "/s/BENCH/Q1", body, headers, 303

    return make


# --what-if: the app without one of its protections, measured in the same rounds, to show what
# each costs. Never a configuration to run: each gives up something issue 2 asks for.
WHAT_IFS = {
    "no-rate-limit": "survey_app:create_app({'RATELIMIT_ENABLED': False})",
    "no-csrf": "survey_app:create_app({'WTF_CSRF_ENABLED': False})",
    "no-answer-fks": "survey_app:create_app()",  # on a copy of the schema without them
}
ANSWER_FKS = ("fk_answers_response_id_responses", "fk_answers_question_id_questions")


def answer_fks_dropped_env(env: dict, base_url: str) -> dict:
    """A migrated app database whose answers have no foreign keys, and the env that uses it."""
    from sqlalchemy import create_engine, text

    url = create_database(base_url, "mscore_bench_submit_no_fks")
    what_if_env = {**env, "DATABASE_URL": url}
    prepare_app_database(url, what_if_env)
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        for name in ANSWER_FKS:
            conn.execute(text(f"ALTER TABLE answers DROP CONSTRAINT {name}"))
    engine.dispose()
    return what_if_env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5, help="length of one window")
    parser.add_argument(
        "--pairs", type=int, default=12, help="rounds: one window of each side per round"
    )
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--what-if",
        action="append",
        default=[],
        choices=sorted(WHAT_IFS),
        help="also measure the app without this protection",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    parser.add_argument(
        "--compare",
        type=Path,
        metavar="DIR",
        help="also measure the app of another checkout (e.g. the commit before a change)",
    )
    parser.add_argument(
        "--smoke", action="store_true", help="one tiny round: check that every request works"
    )
    args = parser.parse_args()
    if args.smoke:
        args.seconds, args.pairs, args.concurrency = 0.3, 1, 1
    suffix = f"_{os.getpid()}" if args.smoke else ""
    env, base_env = prepare_databases(
        args.database_url,
        args.redis,
        "mscore_bench_submit" + suffix,
        "mscore_bench_baseline" + suffix,
    )
    specs = {
        "baseline": ("bench.baseline_app:create_app()", base_env),
        "submit": ("survey_app:create_app()", env),
    }
    if args.compare:
        root = args.compare.resolve()
        other = compare_env(env, args.database_url, root, "mscore_bench_submit_compare" + suffix)
        specs["compare"] = ("survey_app:create_app()", other)
    for name in args.what_if:
        what_if_env = (
            answer_fks_dropped_env(env, args.database_url) if name == "no-answer-fks" else env
        )
        specs[name] = (WHAT_IFS[name], what_if_env)
    servers: dict[str, subprocess.Popen] = {}
    sides: dict[str, tuple] = {}
    try:
        for name, (spec, side_env) in specs.items():
            port = free_port()
            servers[name] = start_gunicorn(spec, port, side_env)
            sides[name] = (
                port,
                baseline_request
                if name == "baseline"
                else survey_request_factory(port, Path(side_env["PYTHONPATH"]), side_env),
            )
        for port, make in sides.values():
            load(port, 0.2 if args.smoke else 2, args.concurrency, make)  # warm up: caches
        runs: dict[str, list[dict]] = {name: [] for name in sides}
        for pair in range(args.pairs):
            order = list(sides) if pair % 2 == 0 else list(sides)[::-1]
            for name in order:  # ABBA: a steady drift in speed favours no side
                port, make = sides[name]
                runs[name].append(
                    load(port, args.seconds, args.concurrency, make, servers[name].pid)
                )
            base = runs["baseline"][-1]
            print(
                f"round {pair + 1:2}: baseline {base['rps']:4.0f} req/s "
                f"({base['cpu_ms_total']:.2f} ms CPU), "
                + ", ".join(
                    f"{name} {w['rps']:4.0f} req/s ({w['cpu_ms_total']:.2f} ms CPU, ratio "
                    f"{w['rps'] / base['rps']:.2f})"
                    for name, w in ((n, runs[n][-1]) for n in sides if n != "baseline")
                ),
                file=sys.stderr,
                flush=True,
            )
    finally:
        for proc in servers.values():
            stop(proc)
        if args.smoke:
            for _spec, side_env in specs.values():
                drop_database(side_env["DATABASE_URL"])

    if args.smoke:
        failed = {name: sum(w["errors"] for w in windows) for name, windows in runs.items()}
        served = {name: sum(w["requests"] for w in windows) for name, windows in runs.items()}
        print(f"smoke: requests served {served}, unexpected answers {failed}")
        return 0 if not any(failed.values()) and all(served.values()) else 1

    summary = {name: summarize(windows) for name, windows in runs.items()}
    ratios = {
        name: sorted(w["rps"] / b["rps"] for b, w in zip(runs["baseline"], runs[name], strict=True))
        for name in runs
        if name != "baseline"
    }
    ratio = statistics.median(ratios["submit"])
    ratio_of_medians = summary["submit"]["rps"] / summary["baseline"]["rps"]
    for windows in runs.values():
        for w in windows:
            del w["latencies"]
    print(
        json.dumps(
            {
                "windows": runs,
                "median": summary,
                "pair_ratios": ratios,
                "ratio": ratio,
                "ratio_of_medians": ratio_of_medians,
            },
            indent=2,
        )
    )
    print(
        f"\n{args.pairs} rounds of {args.seconds:g} s windows, {args.concurrency} client "
        "threads\n\n| | req/s (median) | ratio to the baseline (median of the rounds; "
        "middle half) | p50 ms | p99 ms | errors | CPU ms per request: server, PostgreSQL, "
        "Redis, load generator = total |\n|---|---|---|---|---|---|---|"
    )
    for name, s in summary.items():
        c = s["cpu_ms_per_request"]
        spread = "" if name == "baseline" else _ratio_text(ratios[name])
        print(
            f"| {name} | {s['rps']:.0f} | {spread} | {s['p50_ms']:.1f} | {s['p99_ms']:.1f} | "
            f"{s['errors']:.0f} | {c['server']:.2f}, {c['postgres']:.2f}, {c['redis']:.2f}, "
            f"{c['client']:.2f} = {s['cpu_ms_total']:.2f} |"
        )
    print(
        f"\nratio submit/baseline, median of the pairs = {ratio:.3f} (target >= 0.60; pairs "
        f"{ratios['submit'][0]:.2f} to {ratios['submit'][-1]:.2f}); ratio of the median "
        f"req/s = {ratio_of_medians:.2f}; p99 {summary['submit']['p99_ms']:.1f} ms "
        "(target < 100)"
    )
    return 0 if ratio >= 0.6 and summary["submit"]["p99_ms"] < 100 else 1


def _ratio_text(ratios: list[float]) -> str:
    """'0.55 (0.51 to 0.61)': the median of sorted ratios and the quartiles around it."""
    low, mid, high = (
        statistics.quantiles(ratios, n=4, method="inclusive") if len(ratios) > 1 else ratios * 3
    )
    return f"{mid:.2f} ({low:.2f} to {high:.2f})"


if __name__ == "__main__":
    sys.exit(main())
