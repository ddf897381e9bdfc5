"""/metrics: Prometheus text behind a bearer token (404 when no token is configured), with the
request, submission, rate-limit, signature and outbox figures."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

TOKEN = "metrics-token-0123456789abcdef"


@pytest.fixture
def app_config(app_config):
    return {
        **app_config,
        "METRICS_TOKEN": TOKEN,
        "METRICS_DB_SECONDS": 0,  # read the database at every scrape
        "SURVEY_RATE_LIMIT": "2 per minute",
        # a fixed window restarts at the minute: a run across it saw three 303s (CI, once)
        "RATELIMIT_STRATEGY": "moving-window",
    }


def scrape(client) -> dict[tuple[str, tuple], float]:
    """The samples of one scrape, keyed by name and sorted labels."""
    answer = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200, answer.data
    assert answer.content_type.startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.get_data(as_text=True))
        for sample in family.samples
    }


def delta(before, after, name, **labels) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_metrics_need_the_token(client, app):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    app.config["METRICS_TOKEN"] = ""
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


def test_requests_submissions_and_refusals_are_counted_by_route(client, make_office, questionnaire):
    from tests.formfill import form_fields

    make_office(code="MET1")
    before = scrape(client)
    for _ in range(3):
        client.get("/healthz")
    fields = form_fields(client.get("/s/MET1").get_data(as_text=True))
    statuses = [client.post("/s/MET1", data=dict(fields)).status_code for _ in range(3)]
    assert statuses == [303, 303, 429]  # the third is over "2 per minute"
    after = scrape(client)
    route = "/s/<office_code>"
    assert (
        delta(
            before,
            after,
            "mscore_http_requests_total",
            method="GET",
            route="/healthz",
            status="200",
        )
        == 3
    )
    assert (
        delta(before, after, "mscore_http_requests_total", method="POST", route=route, status="303")
        == 2
    )
    assert delta(before, after, "mscore_submissions_total", channel="qr_web") == 3
    assert delta(before, after, "mscore_rate_limit_refusals_total", route=route) == 1
    assert (
        delta(
            before, after, "mscore_http_request_duration_seconds_count", method="POST", route=route
        )
        == 3
    )
    assert after[("mscore_responses_total", (("channel", "qr_web"), ("integrity", "valid")))] == 1


def test_unsigned_webhooks_and_the_outbox_are_counted(client, queue_invitations):
    queue_invitations(2)
    before = scrape(client)
    assert client.post("/sms/inbound", data={"From": "x"}).status_code == 403
    after = scrape(client)
    assert (
        delta(before, after, "mscore_webhook_signature_failures_total", route="/sms/inbound") == 1
    )
    assert after[("mscore_outbox_invitations", (("state", "queued"),))] == 2
    assert after[("mscore_database_up", ())] == 1
