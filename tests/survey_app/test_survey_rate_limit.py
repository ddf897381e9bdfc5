"""The survey's rate limit per client (Flask-Limiter), with a low limit for the test: in memory,
in the local Redis, and with the Redis down or hung (the limit goes on in memory; no answer is
lost). The tests that take the storage down run the app in a process of its own
(limiter_child.py), as a gunicorn worker runs it."""

import json
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from .test_survey import _count, _post

LOCAL_REDIS = "redis://127.0.0.1:6379/15"


@pytest.fixture
def app_config(app_config, request):
    """A low limit; the storage by name (indirect parameter, alone or with settings to add):
    memory (the default), the local Redis, a Redis that refuses connections or accepts them and
    never answers, or the local Redis behind a proxy the test can take down and bring back."""
    kind, settings = getattr(request, "param", "memory"), {}
    if isinstance(kind, tuple):
        kind, settings = kind
    if kind in ("redis", "switchable"):
        try:
            redis.Redis.from_url(LOCAL_REDIS, socket_connect_timeout=1).ping()
        except redis.ConnectionError:
            pytest.skip("no Redis at 127.0.0.1:6379 (CI has one): the Redis storage is not tested")
    if kind == "redis":
        uri = LOCAL_REDIS
    elif kind == "switchable":
        uri = f"redis://127.0.0.1:{request.getfixturevalue('switchable_redis').port}/15"
    elif kind == "refused":
        uri = f"redis://127.0.0.1:{_closed_port()}/0"
    elif kind == "hung":
        uri = f"redis://127.0.0.1:{request.getfixturevalue('hung_server').port}/0"
    else:
        uri = "memory://"
    return {
        **app_config,
        "SURVEY_RATE_LIMIT": "2 per minute",
        "RATELIMIT_STORAGE_URI": uri,
        **settings,
    }


@pytest.fixture
def office(make_office, questionnaire):
    return make_office(code="HCC-TP", name="Sở Tư pháp")


def test_rate_limit_per_client_answers_429_with_a_friendly_page(app, db, office):
    codes = [_post(app.test_client())[0].status_code for _ in range(2)]
    limited, _ = _post(app.test_client())
    assert codes == [303, 303] and limited.status_code == 429
    assert "Có quá nhiều lượt gửi" in limited.get_data(as_text=True)
    assert _count(db) == 2
    assert app.test_client().get("/s/HCC-TP").status_code == 200  # reading is not limited


def _limited_three_times(app) -> list[int]:
    return [_post(app.test_client())[0].status_code for _ in range(3)]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class HungServer:
    port: int
    held: list[socket.socket]  # the connections it accepted


@pytest.fixture
def hung_server():
    """A TCP server on 127.0.0.1 that accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)
    held, stop = [], threading.Event()

    def accept():
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield HungServer(server.getsockname()[1], held)
    stop.set()
    thread.join(timeout=2)
    for conn in held:
        conn.close()
    server.close()


def _forget(storage: redis.Redis, pattern: str) -> None:
    for key in storage.scan_iter(pattern):
        storage.delete(key)


@pytest.mark.parametrize("app_config", ["redis"], indirect=True)
def test_the_limit_is_counted_in_redis(app, db, office):
    storage = redis.Redis.from_url(LOCAL_REDIS)
    pattern = "LIMITS:LIMITER*/127.0.0.1/survey.survey_form/2/1/minute"  # this test's limit
    _forget(storage, pattern)
    try:
        assert _limited_three_times(app) == [303, 303, 429]
        keys = storage.keys(pattern)
        assert len(keys) == 1 and storage.get(keys[0]) == b"3"  # the count is Redis's
        assert _count(db) == 2
    finally:
        _forget(storage, pattern)


ROOT = Path(__file__).resolve().parents[2]


class _Worker:
    """The app in a process of its own (tests/survey_app/limiter_child.py), driven line by line."""

    def __init__(self, config: dict):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.survey_app.limiter_child", json.dumps(config)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def ask(self, command: str) -> str:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().strip()

    def posts(self, n: int) -> list[int]:
        return [int(self.ask("post")) for _ in range(n)]

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture
def worker(app_config):
    started = _Worker(app_config)
    yield started
    started.close()


@pytest.mark.parametrize("app_config", ["refused", "hung"], indirect=True)
def test_with_redis_down_submissions_are_stored_and_still_limited_in_memory(
    app, db, office, worker
):
    worker.posts(1)  # the first of the three, and the worker's start-up
    started = time.monotonic()
    codes = worker.posts(2)
    assert time.monotonic() - started < 3  # a hung Redis is given half a second, not more
    assert codes == [303, 429]  # counted in the worker's memory
    assert _count(db) == 2


class _SwitchableRedis:
    """A TCP proxy on 127.0.0.1 to the local Redis that can be taken down (new connections
    refused, open ones cut) and brought back on the same port."""

    def __init__(self):
        self.port = _closed_port()
        self._open: list[socket.socket] = []
        self._stop = threading.Event()
        self.up()

    def up(self) -> None:
        self._stop = threading.Event()
        server = socket.create_server(("127.0.0.1", self.port))
        server.settimeout(0.05)
        threading.Thread(target=self._accept, args=(server, self._stop), daemon=True).start()

    def _accept(self, server: socket.socket, stop: threading.Event) -> None:
        with server:
            while not stop.is_set():
                try:
                    client = server.accept()[0]
                except TimeoutError:
                    continue
                upstream = socket.create_connection(("127.0.0.1", 6379))
                self._open += [client, upstream]
                for source, sink in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def down(self) -> None:
        self._stop.set()
        time.sleep(0.1)  # the listening socket is closed by its thread
        for conn in self._open:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
        self._open.clear()


@pytest.fixture
def switchable_redis():
    proxy = _SwitchableRedis()
    yield proxy
    proxy.down()


@pytest.mark.parametrize(
    "app_config", [("switchable", {"SURVEY_RATE_LIMIT": "3 per minute"})], indirect=True
)
def test_when_redis_comes_back_it_counts_again(app, db, office, switchable_redis, worker):
    storage = redis.Redis.from_url(LOCAL_REDIS)
    pattern = "LIMITS:LIMITER/127.0.0.1/survey.survey_form/3/1/minute"
    _forget(storage, pattern)
    try:
        codes = worker.posts(1)  # counted in Redis
        assert [int(storage.get(key)) for key in storage.keys(pattern)] == [1]
        switchable_redis.down()
        codes += worker.posts(2)  # counted in the worker's memory
        switchable_redis.up()
        # Flask-Limiter looks for its storage again 1, 2, 4 ... s after its last look
        assert worker.ask("later 30") == "ok"
        codes += worker.posts(3)
        assert [int(storage.get(key)) for key in storage.keys(pattern)] == [4]
    finally:
        _forget(storage, pattern)
    assert codes == [303] * 5 + [429]  # one in Redis, two in memory, then the limit in Redis
    assert _count(db) == 5
