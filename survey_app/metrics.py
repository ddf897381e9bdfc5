"""Prometheus metrics (prometheus-client) at /metrics, behind a bearer token.

Counted where they happen, in every process: requests and their latency by route, submissions
by channel, rate-limit refusals, webhook signature failures, 503s for database outages, SMS sends
by outcome (the worker). Read from the database when scraped: responses by channel and integrity
(flagged ones included), the outbox's depth and its oldest due invitation.

Under gunicorn (several worker processes) and with the SMS worker, set PROMETHEUS_MULTIPROC_DIR
to an empty directory shared by all of them, before they start: prometheus-client then keeps
each process's values in a file there, and /metrics adds them up (its multiprocess mode).

The endpoint needs `Authorization: Bearer <METRICS_TOKEN>`; with no METRICS_TOKEN it does not
exist (404). A token, not an address allow-list: behind the reverse proxy the client address is
whatever X-Forwarded-For says, and a token works wherever Prometheus scrapes from.
"""

from __future__ import annotations

import hmac
import os
import time

from flask import Blueprint, Response, abort, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import func, select

bp = Blueprint("metrics", __name__)

REQUESTS = Counter(
    "mscore_http_requests_total",
    "HTTP requests by method, route and status.",
    ["method", "route", "status"],
)  # the route is the URL rule (/s/<office_code>), never the URL itself
LATENCY = Histogram(
    "mscore_http_request_duration_seconds",
    "Time to answer a request, by method and route.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
SUBMISSIONS = Counter(
    "mscore_submissions_total",
    "Survey submissions received (before any check), by channel.",
    ["channel"],
)
RATE_LIMITED = Counter(
    "mscore_rate_limit_refusals_total",
    "Requests refused by the rate limit (429), by route.",
    ["route"],
)
SIGNATURE_FAILURES = Counter(
    "mscore_webhook_signature_failures_total",
    "Twilio webhooks refused for a missing or wrong signature (403), by route.",
    ["route"],
)
DATABASE_UNAVAILABLE = Counter(
    "mscore_database_unavailable_total", "Requests answered 503 because the database was down."
)
SMS_SENDS = Counter(
    "mscore_sms_sends_total", "Invitation sends by the provider's outcome.", ["outcome"]
)
SMS_BATCH_SECONDS = Histogram(
    "mscore_sms_batch_duration_seconds",
    "Time for the SMS worker to claim, send and record one batch.",
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)

#: The endpoints that receive submissions, and their channel. (Channels added by new
#: endpoints: add them here.)
SUBMISSION_ENDPOINTS = {
    "survey.survey_form": "qr_web",
    "survey.rating_link": "rating_link",  # a receipt (qr_web) or SMS link (sms_link)
    "sms.inbound": "sms",
    "kiosk.screen": "kiosk",  # a kiosk's form sent without JavaScript (GETs are not counted)
}
# (A kiosk's outbox sends ratings in batches, /k/api/ratings: kiosk/sync.py counts each one.)
DB_CACHE = "mscore.metrics_db"  # app.extensions key: (when, families) of the last reading


def observe_request(method: str, route: str, endpoint: str | None, status: int, seconds: float):
    """Count one answered request (observability.end_request calls it)."""
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(seconds)
    if method == "POST" and endpoint in SUBMISSION_ENDPOINTS:
        SUBMISSIONS.labels(SUBMISSION_ENDPOINTS[endpoint]).inc()
    if status == 429:
        RATE_LIMITED.labels(route).inc()
    elif status == 403 and endpoint and endpoint.startswith("sms."):
        SIGNATURE_FAILURES.labels(route).inc()  # the only 403 of the webhooks (twilio_signed)
    elif status == 503:
        DATABASE_UNAVAILABLE.inc()


def observe_sms_batch(outcomes: dict[str, int], seconds: float) -> None:
    """Count one SMS worker batch: sends by outcome, and its duration."""
    for outcome, count in outcomes.items():
        SMS_SENDS.labels(outcome).inc(count)
    SMS_BATCH_SECONDS.observe(seconds)


class DatabaseCollector:
    """Figures read from the database when scraped (at most every METRICS_DB_SECONDS)."""

    def __init__(self, families: list):
        self.families = families

    def collect(self):
        """The families read last."""
        return iter(self.families)


def database_families() -> list:
    """Responses by channel and integrity, and the outbox, as metric families; read at most
    every METRICS_DB_SECONDS per process (counting every response is a scan of the table)."""
    from .extensions import db
    from .models import Invitation, InvitationStatus, Response, utcnow

    now = time.monotonic()
    hit = current_app.extensions.get(DB_CACHE)
    if hit is not None and now - hit[0] < current_app.config.get("METRICS_DB_SECONDS", 15):
        return hit[1]
    up = GaugeMetricFamily("mscore_database_up", "Whether /metrics could read the database.")
    families = [up]
    try:
        with db.engine.connect() as conn:
            counts = conn.execute(
                select(Response.channel, Response.integrity, func.count()).group_by(
                    Response.channel, Response.integrity
                )
            ).all()
            moment = utcnow()
            queued, due, oldest = conn.execute(
                select(
                    func.count(),
                    func.count().filter(Invitation.next_attempt_at <= moment),
                    func.min(Invitation.next_attempt_at),
                ).where(Invitation.status == InvitationStatus.QUEUED)
            ).one()
            sending = conn.scalar(
                select(func.count()).where(Invitation.status == InvitationStatus.SENDING)
            )
    except Exception:  # noqa: BLE001  (any database failure: say so, keep the other metrics)
        up.add_metric([], 0)
        return families
    up.add_metric([], 1)
    responses = CounterMetricFamily(
        "mscore_responses",
        "Responses stored, by channel and integrity (flagged: left out of reports by default).",
        labels=["channel", "integrity"],
    )
    for channel, integrity, count in counts:
        responses.add_metric([str(channel), str(integrity)], count)
    outbox = GaugeMetricFamily(
        "mscore_outbox_invitations", "Invitations waiting in the outbox.", labels=["state"]
    )
    outbox.add_metric(["queued"], queued)
    outbox.add_metric(["due"], due)
    outbox.add_metric(["sending"], sending or 0)
    age = GaugeMetricFamily(
        "mscore_outbox_oldest_due_seconds",
        "How long the oldest due invitation has waited past its send time (0: none due).",
    )
    age.add_metric([], max(0.0, (moment - oldest).total_seconds()) if due and oldest else 0.0)
    families += [responses, outbox, age]
    current_app.extensions[DB_CACHE] = (now, families)
    return families


def _authorized() -> bool:
    token = current_app.config.get("METRICS_TOKEN") or ""
    if not token:
        abort(404)  # metrics are off
    given = request.headers.get("Authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


@bp.get("/metrics")
def scrape():
    """The Prometheus exposition: every process's counters, and the database's figures."""
    if not _authorized():
        return Response(
            "a bearer token is required\n",
            status=401,
            mimetype="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    from_db = CollectorRegistry()
    from_db.register(DatabaseCollector(database_families()))
    body = generate_latest(registry) + generate_latest(from_db)
    return Response(body, content_type=CONTENT_TYPE_LATEST)
