"""The survey's rate limit per client (Flask-Limiter), with a low limit for the test: in memory,
in the local Redis, and with the Redis down or hung (the limit goes on in memory; no answer is
lost)."""

import socket
import threading
import time
from dataclasses import dataclass

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


def _reset_limiter_state() -> None:
    from survey_app.extensions import limiter

    limiter._storage_dead = False
    limiter._key_prefix = ""
    # as in a new process: Flask-Limiter looks for a dead storage's recovery 1, 2, 4 ... s after
    # its last look
    limiter._Limiter__check_backend_count = 0
    limiter._Limiter__last_check_backend = time.time()


@pytest.fixture(autouse=True)
def _storage_alive_again():
    """The limiter is one object for all the apps the tests create (in production, one app per
    process): a test that finds the storage dead, or sets a key prefix, must not leave it so for
    the next."""
    _reset_limiter_state()
    yield
    _reset_limiter_state()


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


@pytest.mark.parametrize("app_config", ["refused", "hung"], indirect=True)
def test_with_redis_down_submissions_are_stored_and_still_limited_in_memory(app, db, office):
    started = time.monotonic()
    assert _limited_three_times(app) == [303, 303, 429]  # counted in this process
    assert _count(db) == 2
    assert time.monotonic() - started < 3  # a hung Redis is given half a second, once


@pytest.mark.parametrize("app_config", ["hung"], indirect=True)
def test_a_hung_redis_is_asked_as_often_as_by_flask_limiters_pass(
    app, db, office, hung_server, monkeypatch
):
    """The short path's storage error goes to Flask-Limiter's pass, which does not ask the
    storage again: a hung Redis costs a submission its timeout once, not twice."""
    from survey_app.extensions import limiter

    def connections_for_one_post() -> int:
        _reset_limiter_state()  # the storage is not known to be dead yet
        before = len(hung_server.held)
        assert _post(app.test_client())[0].status_code == 303
        time.sleep(0.3)  # the server's accept loop takes connections every 0.1 s
        return len(hung_server.held) - before

    short = connections_for_one_post()
    monkeypatch.setattr(limiter, "short_path", None)
    assert short == connections_for_one_post() >= 1
    assert _count(db) == 2


def _resolved_posts(monkeypatch) -> list[str]:
    """The endpoints of the POSTs whose limits Flask-Limiter's full pass works out from now on
    (a survey POST limited on the short path of survey_app/survey/ratelimit.py never is)."""
    from flask import request

    from survey_app.extensions import limiter

    resolved, real = [], limiter.limit_manager.resolve_limits

    def resolve_limits(app, endpoint, *args):
        if request.method == "POST":
            resolved.append(endpoint)
        return real(app, endpoint, *args)

    monkeypatch.setattr(limiter.limit_manager, "resolve_limits", resolve_limits)
    return resolved


def test_a_survey_post_is_limited_on_the_short_path(app, db, office, monkeypatch):
    resolved = _resolved_posts(monkeypatch)
    assert _limited_three_times(app) == [303, 303, 429]
    assert resolved == []  # Flask-Limiter's pass was told to skip them: the short path counted
    assert _count(db) == 2
    app.test_client().post("/sms/inbound", data={})  # any other POST: Flask-Limiter's own pass
    assert len(resolved) == 1 and not resolved[0].startswith("survey.")


def test_the_short_path_is_off_when_flask_limiter_is(app, db, office, monkeypatch):
    """RATELIMIT_ENABLED turned off (the limiter is one object for every app in a process, as
    in the tests): no limit on the short path either, as in Flask-Limiter's pass."""
    from survey_app.extensions import limiter

    monkeypatch.setattr(limiter, "enabled", False)
    assert _limited_three_times(app) == [303, 303, 303]
    assert _count(db) == 3


TWO_WINDOWS = {"SURVEY_RATE_LIMIT": "2 per minute;3 per hour"}


@pytest.mark.parametrize(
    "app_config",
    [
        ("redis", TWO_WINDOWS),
        ("redis", {**TWO_WINDOWS, "RATELIMIT_KEY_PREFIX": "mscore-test"}),
    ],
    indirect=True,
    ids=["two-windows", "key-prefix"],
)
def test_the_short_path_counts_as_flask_limiters_own_pass(app, db, office, monkeypatch):
    """The same answers, and the same counts under the same keys, as Flask-Limiter's pass."""
    from survey_app.extensions import limiter

    storage = redis.Redis.from_url(LOCAL_REDIS)
    pattern = "LIMITS:LIMITER/*survey.survey_form/*"

    def four_posts():
        _forget(storage, pattern)
        codes = [_post(app.test_client())[0].status_code for _ in range(4)]
        return codes, {key.decode(): int(storage.get(key)) for key in storage.scan_iter(pattern)}

    try:
        resolved = _resolved_posts(monkeypatch)
        short = four_posts()
        assert resolved == []
        monkeypatch.setattr(limiter, "short_path", None)
        full = four_posts()
        assert resolved == ["survey.survey_form"] * 4  # this time Flask-Limiter's pass counted
    finally:
        _forget(storage, pattern)
    assert short == full
    codes, counts = short
    assert codes == [303, 303, 429, 429]  # the minute's window is checked first, as the pass does
    assert sorted(counts.values()) == [2, 4]  # a breach of the minute stops before the hour
    prefix = app.config.get("RATELIMIT_KEY_PREFIX")
    start = f"LIMITS:LIMITER/{prefix}/127.0.0.1/" if prefix else "LIMITS:LIMITER/127.0.0.1/"
    assert all(key.startswith(start) for key in counts), counts


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


@pytest.mark.parametrize("app_config", ["switchable"], indirect=True)
def test_when_redis_comes_back_it_counts_again(app, db, office, switchable_redis, monkeypatch):
    from survey_app.extensions import limiter

    app.config["SURVEY_RATE_LIMIT"] = "3 per minute"
    storage = redis.Redis.from_url(LOCAL_REDIS)
    pattern = "LIMITS:LIMITER/127.0.0.1/survey.survey_form/3/1/minute"
    _forget(storage, pattern)
    resolved = _resolved_posts(monkeypatch)
    try:
        codes = [_post(app.test_client())[0].status_code]  # counted in Redis, on the short path
        assert [int(storage.get(key)) for key in storage.keys(pattern)] == [1]
        switchable_redis.down()
        codes += [_post(app.test_client())[0].status_code for _ in range(2)]  # in memory
        assert resolved == ["survey.survey_form"] * 2  # by Flask-Limiter's pass
        switchable_redis.up()
        # Flask-Limiter looks for Redis again 1, 2, 4 ... s after its last look: as if that time
        # had passed, the next request (the form's GET) finds it back, and the POSTs are on the
        # short path again
        limiter._Limiter__last_check_backend = 0.0
        codes += [_post(app.test_client())[0].status_code for _ in range(3)]
        assert resolved == ["survey.survey_form"] * 2
        assert [int(storage.get(key)) for key in storage.keys(pattern)] == [4]
    finally:
        _forget(storage, pattern)
    assert codes == [303] * 5 + [429]  # three in Redis, two in memory, then the limit in Redis
    assert _count(db) == 5
