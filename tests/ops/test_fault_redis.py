"""Redis (the rate limit's storage) frozen, then gone, then back: submissions go on being
recorded, each once, and /readyz says Redis is degraded without taking the app out of service.
The Redis is a private redis-server on a port of its own (others use the machine's)."""

from __future__ import annotations

import time

import pytest
import redis
from sqlalchemy import func, select

from survey_app.models import Response
from tests.formfill import form_fields
from tests.ops.processes import PrivateRedis

pytestmark = [pytest.mark.faults, pytest.mark.slow]


@pytest.fixture
def private_redis():
    server = PrivateRedis()
    server.start()
    yield server
    server.kill()


@pytest.fixture
def app_config(app_config, private_redis):
    return {
        **app_config,
        "RATELIMIT_STORAGE_URI": private_redis.url,
        "SURVEY_RATE_LIMIT": "1000 per minute",
    }


def _submit(app) -> int:
    client = app.test_client()  # a new browser each time: no rated cookie
    fields = form_fields(client.get("/s/RDS1").get_data(as_text=True))
    return client.post("/s/RDS1", data=dict(fields)).status_code


def _keys(server) -> int:
    return len(redis.Redis(port=server.port, socket_timeout=1).keys("*"))


def test_submissions_are_recorded_while_redis_is_frozen_gone_and_back(
    app, db, make_office, questionnaire, private_redis
):
    make_office(code="RDS1")
    phases = {}
    phases["up"] = [_submit(app) for _ in range(5)]
    assert _keys(private_redis) > 0  # the limit is counted in Redis

    private_redis.freeze()
    started = time.monotonic()
    phases["frozen"] = [_submit(app) for _ in range(5)]
    frozen_seconds = time.monotonic() - started
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["checks"]["redis"]["status"] == "degraded"
    private_redis.thaw()

    private_redis.kill()
    phases["gone"] = [_submit(app) for _ in range(5)]
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["checks"]["redis"]["status"] == "degraded"

    private_redis.start()  # back, empty, on the same port
    phases["back"] = [_submit(app) for _ in range(5)]
    assert app.test_client().get("/readyz").get_json()["checks"]["redis"]["status"] == "ok"

    assert all(status == 303 for statuses in phases.values() for status in statuses), phases
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Response)) == 20
    assert frozen_seconds < 5  # a hung Redis costs its timeout, not a hung request per citizen
    print(
        f"\nredis: 20 submissions (5 up, 5 frozen in {frozen_seconds:.1f} s, 5 gone, 5 back), "
        "each recorded once"
    )
