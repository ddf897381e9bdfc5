"""Processes the operations tests start and stop themselves, all on 127.0.0.1 and bounded in
time: a private PostgreSQL cluster (initdb/pg_ctl of the installed server, on a port of its own,
so the shared server at 5432 is never restarted), a private redis-server, the fake Twilio as a
process, the app under gunicorn, and the SMS worker."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

from sms_gateway.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, MESSAGING_SERVICE_SID
from tests.conftest import PUBLIC_BASE_URL, TEST_PHONE_HASH_KEY

ROOT = Path(__file__).resolve().parents[2]
SECRET_KEY = "ops-test-secret-key-0123456789abcdef0123"


def free_port() -> int:
    """A TCP port nobody listens on at the moment, on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(check, timeout: float, what: str, every: float = 0.05):
    """Call check until it returns something true; fail the test after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = check()
        except (OSError, requests.RequestException):
            result = None
        if result:
            return result
        time.sleep(every)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def stop(process: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL if it has not exited in time."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _postgres_bindir() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return os.path.dirname(found[-1])
    pg_config = shutil.which("pg_config")
    if pg_config:
        return subprocess.check_output([pg_config, "--bindir"], text=True).strip()
    pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl) on this machine")


class PrivateCluster:
    """A PostgreSQL cluster of this test alone: initdb into a temporary directory, served on a
    free port of 127.0.0.1, stopped and started at will, removed at the end."""

    def __init__(self) -> None:
        self.bindir = _postgres_bindir()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="mscore-pg-"))
        self.data = self.root / "data"
        if os.geteuid() == 0:  # the server refuses to run as root: it runs as postgres
            shutil.chown(self.root, "postgres", "postgres")
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        )

    def _run(self, tool: str, *args: str, timeout: float = 60) -> None:
        command = [os.path.join(self.bindir, tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=timeout)

    @property
    def url(self) -> str:
        """The URL of its `postgres` database."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
            "-c fsync=off -c full_page_writes=off -c max_connections=60"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "log"),
            "-o",
            options,
            "-w",
            "-t",
            "30",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop it: fast (a clean restart: backends terminated) or immediate (a crash)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def restart(self, mode: str = "fast", down_seconds: float = 0.0) -> None:
        """Stop, stay down a while, start again."""
        self.stop(mode)
        time.sleep(down_seconds)
        self.start()

    def remove(self) -> None:
        """Stop if running and delete the cluster."""
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass  # not running
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis:
    """A redis-server of this test alone, on a free port, without persistence."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        self.binary, self.port, self.process = binary, free_port(), None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it and wait for its port."""
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: socket.create_connection(("127.0.0.1", self.port), 0.2), 10, "redis")

    def freeze(self) -> None:
        """SIGSTOP: connections are accepted by the kernel and never answered."""
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT."""
        self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL: gone, connections refused."""
        self.process.send_signal(signal.SIGCONT)
        self.process.kill()
        self.process.wait(5)


def app_env(database_url: str, **extra: str) -> dict:
    """The environment of an app process (web or worker) against a database."""
    from tests.conftest import TEST_PHONE_ENCRYPTION_KEY

    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "MSCORE_INSTANCE_PATH": "/tmp/mscore-test-instance",
        "SECRET_KEY": SECRET_KEY,
        "PHONE_ENCRYPTION_KEY": TEST_PHONE_ENCRYPTION_KEY,
        "PHONE_HASH_KEY": TEST_PHONE_HASH_KEY,
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_MESSAGING_SERVICE_SID": MESSAGING_SERVICE_SID,
        "SMS_QUIET_START": "0",
        "SMS_QUIET_END": "0",
        "SMS_MODE": "reply",  # the conversation by SMS (the tests answer the questions)
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(extra)
    return env


def flask(args: list[str], env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run a `flask --app survey_app` command to its end."""
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "survey_app", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )


def output_file():
    """Where a child process writes: a file, not a pipe nobody reads until the end (a full
    pipe blocks the child at its next log line)."""
    return tempfile.TemporaryFile("w+")


def read_output(process: subprocess.Popen) -> str:
    """All a child wrote to the output file it was started with."""
    process.output.seek(0)
    return process.output.read()


def gunicorn(env: dict, workers: int = 2) -> tuple[subprocess.Popen, str]:
    """The app under gunicorn on a free port of 127.0.0.1; its process (output: read_output)
    and base URL."""
    port = free_port()
    output = output_file()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--graceful-timeout",
            "5",
            "survey_app:create_app()",
        ],
        env=env,
        cwd=ROOT,
        stdout=output,
        stderr=subprocess.STDOUT,
        text=True,
    )
    process.output = output
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: requests.get(base + "/healthz", timeout=1).ok, 30, "gunicorn")
    return process, base


def fake_twilio_process(timeout_seconds: float = 1.0) -> tuple[subprocess.Popen, str]:
    """The fake Twilio in a process of its own; its process and base URL."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sms_gateway.fake_twilio",
            "--port",
            "0",
            "--timeout",
            str(timeout_seconds),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    return process, process.stdout.readline().strip()


def sms_worker(env: dict, *, once: bool = False, **settings) -> subprocess.Popen:
    """`flask sms worker` with SMS_* settings given as keyword arguments (batch_size=10); its
    output in read_output."""
    extra = {f"SMS_{key.upper()}": str(value) for key, value in settings.items()}
    command = [sys.executable, "-m", "flask", "--app", "survey_app", "sms", "worker"]
    output = output_file()
    process = subprocess.Popen(
        command + (["--once"] if once else []),
        env={**env, "SMS_PROVIDER": "twilio", **extra},
        cwd=ROOT,
        stdout=output,
        stderr=subprocess.STDOUT,
        text=True,
    )
    process.output = output
    return process
