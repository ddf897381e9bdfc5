"""bench/ingest.py's smoke mode: the API (per-row and set-based) and the import on tiny sizes, in
private databases it drops, so a change that breaks the benchmark fails here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_ingest_benchmark_runs_in_smoke_mode():
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("the benchmarks run on PostgreSQL: set TEST_DATABASE_URL (CI does)")
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "ingest.py"), "--smoke", "--database-url", url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert "smoke: ok" in done.stdout and "set_based" in done.stdout
