"""The submission benchmarks' load generator: requests from threads over 127.0.0.1 for a window
of seconds, their latencies, and the CPU time each process taking part spent per request
(bench/submit.py, instructions.py)."""

from __future__ import annotations

import os
import statistics
import threading
import time
from pathlib import Path

from bench.servers import request

MAX_RPS = 2000  # per run, an upper bound used to pre-build enough request bodies


def cpu_seconds(server_pid: int | None) -> dict[str, float]:
    """CPU time used so far (user + system, from /proc) by the processes taking part: the
    gunicorn server (master and workers), PostgreSQL, Redis, and this load generator."""
    tick = os.sysconf("SC_CLK_TCK")
    totals = {"client": 0.0, "server": 0.0, "postgres": 0.0, "redis": 0.0}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            command = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")[0].decode()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        pid, parent, used = int(entry), int(fields[1]), (int(fields[11]) + int(fields[12])) / tick
        if pid == os.getpid():
            totals["client"] += used
        elif server_pid is not None and server_pid in (pid, parent):
            totals["server"] += used
        elif command.startswith("postgres"):
            totals["postgres"] += used
        elif "redis-server" in command:
            totals["redis"] += used
    return totals


def load(
    port: int, seconds: float, concurrency: int, make_request, server_pid: int | None = None
) -> dict:
    """Send requests from `concurrency` threads for `seconds`; latencies of the successful ones.

    Request bodies are built before the clock starts: the load generator shares the machine's
    cores with the server, and building a 20-field form per request would tax the survey run
    more than the baseline's.
    """
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    ready = threading.Barrier(concurrency + 1)
    window: dict[str, float] = {}
    per_thread = int(seconds * MAX_RPS / concurrency) + 100

    def worker(index: int):
        try:
            state = make_request("setup", index)
            prepared = [make_request(state, index) for _ in range(per_thread)]
        except BaseException:
            ready.abort()  # the others and the clock stop waiting: the run fails, not hangs
            raise
        local, bad = [], 0
        ready.wait()
        for method, path, body, headers, expected in prepared:
            if time.monotonic() >= window["stop"]:
                break
            started = time.perf_counter()
            status, _cookie, _data = request(port, method, path, body, headers)
            elapsed = time.perf_counter() - started
            if status == expected:
                local.append(elapsed)
            else:
                bad += 1
        else:
            raise RuntimeError("ran out of prepared requests: raise MAX_RPS")
        with lock:
            latencies.extend(local)
            errors[0] += bad

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    window["stop"] = float("inf")
    ready.wait()  # every thread has its requests ready
    cpu_before = cpu_seconds(server_pid)
    began = time.monotonic()
    window["stop"] = began + seconds
    for t in threads:
        t.join()
    duration = time.monotonic() - began
    cpu_after = cpu_seconds(server_pid)
    latencies.sort()
    served = max(len(latencies), 1)
    cpu = {k: round(1000 * (cpu_after[k] - cpu_before[k]) / served, 3) for k in cpu_after}
    return {
        "cpu_ms_per_request": cpu,
        "cpu_ms_total": round(sum(cpu.values()), 3),
        "requests": len(latencies),
        "errors": errors[0],
        "rps": len(latencies) / duration,
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
        "latencies": latencies,
    }


def percentile(ordered: list[float], share: float) -> float:
    """The `share` percentile of sorted latencies in seconds, in milliseconds."""
    return 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else 0.0


def summarize(windows: list[dict]) -> dict:
    """Medians over one side's windows; latency percentiles over all its requests pooled."""
    pooled = sorted(x for w in windows for x in w["latencies"])
    cpu = {
        k: statistics.median(w["cpu_ms_per_request"][k] for w in windows)
        for k in windows[0]["cpu_ms_per_request"]
    }
    return {
        "rps": statistics.median(w["rps"] for w in windows),
        "requests": sum(w["requests"] for w in windows),
        "errors": sum(w["errors"] for w in windows),
        "p50_ms": percentile(pooled, 0.50),
        "p99_ms": percentile(pooled, 0.99),
        "cpu_ms_per_request": cpu,
        "cpu_ms_total": statistics.median(w["cpu_ms_total"] for w in windows),
    }
