"""Instructions per QR submission and per baseline insert, counted by valgrind's callgrind.

    .venv/bin/python bench/instructions.py [--requests 20] [--compare DIR] [--smoke]

Seconds on this machine's 2 shared cores vary by up to 2x within minutes; the number of
instructions the app executes per request does not, so this is how a change to the submission
path is measured (bench/submit.py gives the throughput). Both apps run in-process, called as WSGI
applications (no gunicorn, no HTTP), on PostgreSQL with the rate limits in Redis, as in
bench/submit.py. Only the app's own process is counted: PostgreSQL's and Redis's work and the
kernel's are not. Needs valgrind (Debian's package).

Each app runs under valgrind with instrumentation off until its warm-up is over; collection is
on only inside itertools.starmap's next function, which drives the measured requests. Each
submission carries the tokens of a form opened before (outside the count), as a phone's does.

--compare DIR also counts the submission of another checkout (an older commit), on its own
database migrated by its own code: a change measured before and after in one run. --smoke runs
a few requests of each app without valgrind on private databases it drops afterwards, checking
only that each got its expected answer (the test suite runs it: a schema change that breaks this
script fails CI).
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
# the checkout whose app a child runs (--compare: another one); this one's otherwise
sys.path.insert(0, os.environ.get("MSCORE_BENCH_APP_ROOT") or str(ROOT))
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


def survey_requests(app, n: int) -> list[tuple]:
    """n full submissions, each with the tokens of the form page opened just before it."""
    from bench.submit import FULL_ANSWERS

    _status, headers, _page = wsgi_call(app, "GET", "/s/BENCH/Q1")
    cookie = next(v for k, v in headers if k == "Set-Cookie").split(";", 1)[0]
    requests = []
    for _ in range(n):
        _status, _headers, page = wsgi_call(app, "GET", "/s/BENCH/Q1", headers={"Cookie": cookie})
        fields = dict(re.findall(rb'name="(csrf_token|submission_token)" value="([^"]+)"', page))
        form = {**FULL_ANSWERS, **{k.decode(): v.decode() for k, v in fields.items()}}
        body = urllib.parse.urlencode(form).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
        requests.append(("POST", "/s/BENCH/Q1", body, headers, 303))
    return requests


def child(which: str, count: int, warm_up: int = WARM_UP, counted: bool = True) -> None:
    """Runs under valgrind: warm up, switch instrumentation on, then the counted requests."""
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    if which == "baseline":
        from bench.baseline_app import create_app

        app = create_app()
        requests = [
            ("POST", "/insert", b"value=" + secrets.token_hex(8).encode(), form_type, 201)
            for _ in range(warm_up + count)
        ]
    else:
        from survey_app import create_app

        app = create_app()
        requests = survey_requests(app, warm_up + count)
    for method, path, body, headers, expected in requests[:warm_up]:
        assert wsgi_call(app, method, path, body, headers)[0] == expected
    if counted:
        subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], capture_output=True)
        started = time.monotonic()
        while time.monotonic() - started < 1.0:  # valgrind takes the command at its next poll
            pass
    statuses = list(
        starmap(lambda m, p, b, h, _e: wsgi_call(app, m, p, b, h)[0], requests[warm_up:])
    )
    assert statuses == [r[4] for r in requests[warm_up:]], statuses


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
            cwd=env.get("MSCORE_BENCH_APP_ROOT") or ROOT,
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
    parser.add_argument("--compare", type=Path, metavar="DIR", help="another checkout to count")
    parser.add_argument("--smoke", action="store_true", help="a few requests, no valgrind")
    parser.add_argument("--warm-up", type=int, default=WARM_UP, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.requests, args.warm_up, counted=not args.smoke)
        return 0

    from bench.servers import compare_env, drop_database, prepare_databases

    suffix = f"_{os.getpid()}" if args.smoke else ""
    env, base_env = prepare_databases(
        args.database_url,
        args.redis,
        "mscore_bench_instructions" + suffix,
        "mscore_bench_instructions_baseline" + suffix,
    )
    sides = {"baseline": ("baseline", base_env), "submit": ("app", env)}
    if args.compare:
        root = args.compare.resolve()
        other = compare_env(
            env, args.database_url, root, "mscore_bench_instructions_compare" + suffix
        )
        sides["compare"] = ("app", {**other, "MSCORE_BENCH_APP_ROOT": str(root)})
    if args.smoke:
        try:
            for which, side_env in sides.values():
                command = [__file__, "--child", which, "--requests", "3", "--warm-up", "2"]
                subprocess.run([sys.executable, *command, "--smoke"], env=side_env, check=True)
        finally:
            for _which, side_env in sides.values():
                drop_database(side_env["DATABASE_URL"])
        print("smoke: every request got its expected answer")
        return 0
    result = {
        name: count_instructions(which, args.requests, e) for name, (which, e) in sides.items()
    }
    print(json.dumps(result))
    print(
        f"\ninstructions per request (the app's process, {args.requests} requests): "
        f"baseline {result['baseline'] / 1e6:.2f} M, full submission "
        f"{result['submit'] / 1e6:.2f} M ({result['submit'] / result['baseline']:.2f} x)"
        + (
            f", the compared checkout's {result['compare'] / 1e6:.2f} M "
            f"({result['compare'] / result['baseline']:.2f} x; after/before "
            f"{result['submit'] / result['compare']:.3f})"
            if "compare" in result
            else ""
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
