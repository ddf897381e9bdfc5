"""The submission benchmarks' smoke modes: bench/submit.py and bench/instructions.py run a few
requests against the current schema, so a change that breaks either script fails here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pg_base_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("the benchmarks run on PostgreSQL: set TEST_DATABASE_URL (CI does)")
    return url


@pytest.mark.parametrize("script", ["submit.py", "instructions.py"])
def test_the_benchmark_runs_in_smoke_mode(pg_base_url, script):
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / script),
            "--smoke",
            "--database-url",
            pg_base_url,
            "--redis",
            "memory://",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert "smoke:" in done.stdout
