"""bench/national.py's smoke mode: the national rollup cells are written with the rollup tables'
current columns and read by the report API, the province report and the office page, so a
schema change that breaks the benchmark fails here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_national_benchmark_runs_in_smoke_mode():
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("the benchmark runs on PostgreSQL: set TEST_DATABASE_URL (CI does)")
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "national.py"), "--smoke", "--url", url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    for line in (
        "national year",
        "province year",
        "office page",
        "warm office pages, 2025:",  # warm-reports' office pages, managers' own included
        "warm every ended period's office pages, next night:",
        "warm every ended period's office pages, 18 days later:",
        "stored texts not marked stored again 18 days later:",
        "a manager not warmed, first view of 2025, a new process:",
        "split national:",
        "split P01:",
        "national year, stored: a new process",
        "smoke: ok",
    ):
        assert line in done.stdout
