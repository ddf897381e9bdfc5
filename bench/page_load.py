"""The survey form on a slow phone network: bytes transferred and the load event, in Chromium
with DevTools' network emulation at issue 19's "Slow 3G" (400 ms round trip, 400 kbit/s down and
up), on a 360 x 740 phone.

    .venv/bin/python bench/page_load.py [--runs 5] [--compare DIR] [--smoke]

Each run opens the form in a new browser context (an empty cache: a citizen's first scan) and
reports what the page and its resources transferred (encoded bytes on the wire, headers
included) and when the load event ended. Goal (issue 19): under 12 KB and under 1.2 s. The app
runs under gunicorn on a SQLite copy of the demo's first office; --compare DIR also serves
another checkout's app (an older commit) and measures it in the same runs, alternating.
Needs Debian's chromium (/usr/bin/chromium) and Playwright. --smoke loads the form once and
checks that it loaded (tests/bench runs it where chromium is installed).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.servers import free_port, start_gunicorn, stop  # noqa: E402

RTT_MS, KBIT_S = 400, 400
SETUP = """
from survey_app import create_app
from survey_app.extensions import db
from survey_app.models import Office, OfficeKind, RankingGroup, Counter, Service
from survey_app.services.questionnaires import ensure_default_questionnaire
from flask_migrate import upgrade
app = create_app()
with app.app_context():
    upgrade()
    ensure_default_questionnaire()
    o = Office(code="STP", name="Sở Tư pháp tỉnh Quảng Trị", name_en="Department of Justice",
               kind=OfficeKind.DEPARTMENT, group=RankingGroup.DEPARTMENTS)
    o.counters.append(Counter(code="Q1", name="Quầy số 1"))
    for i in range(6):
        o.services.append(Service(code=f"S{i}", name=f"Thủ tục hành chính số {i}", field="Tư pháp"))
    db.session.add(o)
    db.session.commit()
"""


def prepare(root: Path, folder: Path) -> dict:
    """A migrated SQLite database with one office for the app of `root`; its environment."""
    env = {
        **os.environ,
        "PYTHONPATH": str(root),
        "DATABASE_URL": f"sqlite:///{folder / 'page.sqlite'}",
        "MSCORE_INSTANCE_PATH": str(folder),
        "SECRET_KEY": "bench-" + "x" * 40,
        "RATELIMIT_STORAGE_URI": "memory://",
    }
    subprocess.run(
        [sys.executable, "-c", SETUP], env=env, cwd=root, check=True, capture_output=True
    )
    return env


def measure(browser, url: str) -> dict:
    """One cold load of the page under the emulated network: bytes and the load event."""
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": RTT_MS,
            "downloadThroughput": KBIT_S * 1000 / 8,
            "uploadThroughput": KBIT_S * 1000 / 8,
        },
    )
    received: dict[str, float] = {}
    cdp.on(
        "Network.loadingFinished",
        lambda e: received.__setitem__(e["requestId"], e["encodedDataLength"]),
    )
    page.goto(url, wait_until="load")
    timing = page.evaluate(
        "(() => { const n = performance.getEntriesByType('navigation')[0];"
        " return {load: n.loadEventEnd, fcp: (performance.getEntriesByName("
        "'first-contentful-paint')[0] || {}).startTime || null}; })()"
    )
    page.wait_for_timeout(200)  # the last loadingFinished events
    context.close()
    return {
        "bytes": sum(received.values()),
        "requests": len(received),
        "load_ms": timing["load"],
        "fcp_ms": timing["fcp"],
    }


def main(argv=None) -> int:
    """Serve the form, load it on an emulated slow phone and print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--compare", type=Path, metavar="DIR", help="another checkout to measure")
    parser.add_argument("--smoke", action="store_true", help="one load: check that it works")
    args = parser.parse_args(argv)
    if args.smoke:
        args.runs, args.compare = 1, None
    from playwright.sync_api import sync_playwright

    roots = {"form": ROOT} | ({"compare": args.compare.resolve()} if args.compare else {})
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    servers, urls, folders = {}, {}, []
    try:
        for name, root in roots.items():
            folder = Path(tempfile.mkdtemp(prefix="mscore-page-"))
            folders.append(folder)
            port = free_port()
            servers[name] = start_gunicorn("survey_app:create_app()", port, prepare(root, folder))
            urls[name] = f"http://127.0.0.1:{port}/s/STP/Q1"
        runs: dict[str, list[dict]] = {name: [] for name in roots}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            for name in roots:
                measure(browser, urls[name])  # warm up the server
            for _ in range(args.runs):
                for name in roots:
                    runs[name].append(measure(browser, urls[name]))
            browser.close()
    finally:
        for proc in servers.values():
            stop(proc)
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(runs, indent=1))
    print(f"\nSlow 3G ({RTT_MS} ms RTT, {KBIT_S} kbit/s), {args.runs} cold loads each, medians:")
    for name, results in runs.items():
        kb = statistics.median(r["bytes"] for r in results) / 1000
        load = statistics.median(r["load_ms"] for r in results) / 1000
        fcp = statistics.median(r["fcp_ms"] or 0 for r in results) / 1000
        print(
            f"  {name}: {kb:.1f} KB transferred in {results[0]['requests']} requests, "
            f"first paint {fcp:.2f} s, load event {load:.2f} s"
        )
    if args.smoke:
        loaded = all(r["bytes"] > 0 and r["load_ms"] > 0 for rs in runs.values() for r in rs)
        print(f"smoke: the form loaded: {loaded}")
        return 0 if loaded else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
