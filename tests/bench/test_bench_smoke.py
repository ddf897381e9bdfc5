"""Every benchmark's smoke mode runs against the current code and schema, so a change that
breaks a script fails here (bench/dashboard.py, submit.py and instructions.py have theirs in
tests/test_bench_dashboard.py and test_submission_benches.py)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(script: str, *args: str, env: dict | None = None, timeout: int = 300) -> str:
    """Run a bench script with --smoke; its stdout (it must succeed and say "smoke:")."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--smoke", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert "smoke:" in done.stdout, done.stdout[-2000:]
    return done.stdout


@pytest.fixture
def pg_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("this benchmark runs on PostgreSQL only: set TEST_DATABASE_URL (CI does)")
    return url


@pytest.mark.parametrize("script", ["analysis.py", "eb_coverage.py"])
def test_the_numpy_benchmarks_run_in_smoke_mode(script):
    run(script)


@pytest.mark.parametrize("questionnaire", ["six", "default"])
def test_the_report_benchmark_runs_in_smoke_mode(pg_url, questionnaire, tmp_path):
    out = run(
        "report.py",
        "--url",
        pg_url,
        "--questionnaire",
        questionnaire,
        env={"MSCORE_INSTANCE_PATH": str(tmp_path)},
    )
    # the seed, the rollup, the busy day's update and every report step ran
    steps = (
        "flask mscore rebuild-rollup",
        "rebuild-rollup, 2 workers (median of 1)",
        "update-rollup after",
        "API year: warm",
        "API month: stored",
    )
    for step in (*steps, "xlsx"):
        assert step in out
    answers = float(re.search(r"answers [\d,]+ \(([\d.]+) each\)", out).group(1))
    assert answers == 6.0 if questionnaire == "six" else 10 < answers < 13


def test_the_sms_outbox_benchmark_runs_in_smoke_mode(pg_url):
    assert "smoke: 20 texts sent" in run("sms_outbox.py", env={"BENCH_DATABASE_URL": pg_url})


def test_the_page_load_benchmark_runs_in_smoke_mode(tmp_path):
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        pytest.skip("bench/page_load.py needs Debian's chromium, which is not installed here")
    pytest.importorskip("playwright", reason="bench/page_load.py needs Playwright")
    assert "smoke: the form loaded: True" in run("page_load.py")
