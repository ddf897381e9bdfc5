"""bench/dashboard.py's smoke mode runs: every page it times answers 200 on a tiny database."""

import importlib.util
from pathlib import Path


def test_dashboard_benchmark_smoke_mode(monkeypatch, tmp_path):
    monkeypatch.setenv("MSCORE_INSTANCE_PATH", str(tmp_path))
    path = Path(__file__).resolve().parents[1] / "bench" / "dashboard.py"
    spec = importlib.util.spec_from_file_location("bench_dashboard", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    timings = module.main(["--smoke"])
    assert set(timings) == {
        "baseline: API report",
        "dashboard",
        "funnel",
        "trends",
        "responses",
        "office page",
        "office PDF",
        "offices table (xlsx)",
    }
    assert all(cold > 0 and warm > 0 for cold, warm in timings.values())
