"""Instructions per QR submission and per baseline insert, counted by valgrind's callgrind.

    .venv/bin/python bench/instructions.py [--requests 20]

Seconds on this machine's 2 shared cores vary by up to 2x within minutes; the number of
instructions the app executes per request does not, so this is how a change to the submission
path is measured (bench/submit.py gives the throughput). Both apps run in-process, called as WSGI
applications (no gunicorn, no HTTP), on PostgreSQL with the rate limits in Redis, as in
bench/submit.py. Only the app's own process is counted: PostgreSQL's and Redis's work and the
kernel's are not. Needs valgrind (Debian's package).

Each app runs under valgrind with instrumentation off until its warm-up is over; collection is
on only inside itertools.starmap's next function, which drives the measured requests.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.parse
from itertools import starmap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WARM_UP = 30


def wsgi_call(app, method: str, path: str, body: bytes = b"", headers: dict | None = None):
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_USER_AGENT": "bench",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body)),
    }
    for name, value in (headers or {}).items():
        key = "CONTENT_TYPE" if name == "Content-Type" else "HTTP_" + name.upper().replace("-", "_")
        environ[key] = value
    answer = {}

    def start_response(status, response_headers, exc_info=None):
        answer.update(status=int(status[:3]), headers=response_headers)

    data = b"".join(app(environ, start_response))
    return answer["status"], answer["headers"], data


def child(which: str, count: int) -> None:
    """Runs under valgrind: warm up, switch instrumentation on, then the counted requests."""
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    if which == "baseline":
        from bench.baseline_app import create_app

        app = create_app()
        requests = [
            ("POST", "/insert", b"value=" + secrets.token_hex(8).encode(), form_type, 201)
            for _ in range(WARM_UP + count)
        ]
    else:
        from bench.submit import FULL_ANSWERS
        from survey_app import create_app

        app = create_app()
        _status, headers, page = wsgi_call(app, "GET", "/s/BENCH/Q1")
        cookie = next(v for k, v in headers if k == "Set-Cookie").split(";", 1)[0]
        csrf = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
        requests = []
        for _ in range(WARM_UP + count):
            form = {
                **FULL_ANSWERS,
                "csrf_token": csrf,
                "submission_token": secrets.token_urlsafe(24),
            }
            requests.append(
                (
                    "POST",
                    "/s/BENCH/Q1",
                    urllib.parse.urlencode(form).encode(),
                    {**form_type, "Cookie": cookie},
                    303,
                )
            )
    for method, path, body, headers, expected in requests[:WARM_UP]:
        assert wsgi_call(app, method, path, body, headers)[0] == expected
    subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], capture_output=True)
    started = time.monotonic()
    while time.monotonic() - started < 1.0:  # valgrind takes the command at its next poll
        pass
    counted = list(
        starmap(lambda m, p, b, h, _e: wsgi_call(app, m, p, b, h)[0], requests[WARM_UP:])
    )
    assert counted == [r[4] for r in requests[WARM_UP:]], counted


def count_instructions(which: str, count: int, env: dict) -> float:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "callgrind.out"
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                "--collect-atstart=no",
                "--toggle-collect=starmap_next",
                f"--callgrind-out-file={out}",
                sys.executable,
                __file__,
                "--child",
                which,
                "--requests",
                str(count),
            ],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        total = next(
            int(line.split()[1])
            for line in out.read_text().splitlines()
            if line.startswith(("summary:", "totals:"))
        )
    return total / count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--child", choices=["app", "baseline"])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.requests)
        return 0

    from bench.submit import prepare_databases

    env, base_env = prepare_databases(
        args.database_url,
        args.redis,
        "mscore_bench_instructions",
        "mscore_bench_instructions_baseline",
    )
    result = {
        "baseline": count_instructions("baseline", args.requests, base_env),
        "submit": count_instructions("app", args.requests, env),
    }
    print(json.dumps(result))
    print(
        f"\ninstructions per request (the app's process, {args.requests} requests): "
        f"baseline {result['baseline'] / 1e6:.2f} M, full submission "
        f"{result['submit'] / 1e6:.2f} M ({result['submit'] / result['baseline']:.2f} x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
