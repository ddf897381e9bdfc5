"""The survey's rate limit per client (Flask-Limiter), with a low limit for the test: in memory,
in the local Redis, and with the Redis down or hung (the limit goes on in memory; no answer is
lost)."""

import socket
import threading
import time

import pytest
import redis

from .test_survey import _count, _post

LOCAL_REDIS = "redis://127.0.0.1:6379/15"


@pytest.fixture
def app_config(app_config, request):
    """A low limit; the storage by name (indirect parameter): memory (the default), the local
    Redis, or a Redis that refuses connections or accepts them and never answers."""
    kind = getattr(request, "param", "memory")
    if kind == "redis":
        try:
            redis.Redis.from_url(LOCAL_REDIS, socket_connect_timeout=1).ping()
        except redis.ConnectionError:
            pytest.skip("no Redis at 127.0.0.1:6379 (CI has one): the Redis storage is not tested")
        uri = LOCAL_REDIS
    elif kind == "refused":
        uri = f"redis://127.0.0.1:{_closed_port()}/0"
    elif kind == "hung":
        uri = f"redis://127.0.0.1:{request.getfixturevalue('hung_server')}/0"
    else:
        uri = "memory://"
    return {**app_config, "SURVEY_RATE_LIMIT": "2 per minute", "RATELIMIT_STORAGE_URI": uri}


@pytest.fixture(autouse=True)
def _storage_alive_again():
    """The limiter is one object for all the apps the tests create (in production, one app per
    process): a test that finds the storage dead must not leave it marked so for the next."""
    yield
    from survey_app.extensions import limiter

    limiter._storage_dead = False


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
    yield server.getsockname()[1]
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
