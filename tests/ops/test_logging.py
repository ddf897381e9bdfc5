"""One structured log line per request and per SMS worker batch, with the request id that the
response and its error page carry; JSON as production writes it."""

from __future__ import annotations

import json
import logging

from prometheus_client import REGISTRY

from survey_app.observability import configure_logging, json_formatter


def test_one_line_per_request_with_its_id_route_status_and_duration(client, caplog):
    caplog.set_level(logging.INFO, logger="mscore.request")
    answer = client.get("/s/NOPE?lang=en")
    lines = [r for r in caplog.records if r.name == "mscore.request"]
    assert len(lines) == 1
    line = json.loads(json_formatter().format(lines[0]))
    assert line["request_id"] == answer.headers["X-Request-ID"]
    assert line["route"] == "/s/<office_code>" and line["status"] == 404
    assert line["method"] == "GET" and line["duration_ms"] >= 0
    assert line["level"] == "INFO" and line["logger"] == "mscore.request" and "time" in line
    assert "lang=en" not in json.dumps(line)  # never the query string


def test_a_proxy_request_id_is_kept_and_a_bad_one_replaced(client):
    kept = client.get("/healthz", headers={"X-Request-ID": "abc-DEF_123.456"})
    assert kept.headers["X-Request-ID"] == "abc-DEF_123.456"
    replaced = client.get("/healthz", headers={"X-Request-ID": "<script>"})
    assert len(replaced.headers["X-Request-ID"]) == 32


def test_production_logs_json_on_the_root_logger_once(monkeypatch):
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        configure_logging({"LOG_FORMAT": "json", "LOG_LEVEL": "INFO"})
        configure_logging({"LOG_FORMAT": "json", "LOG_LEVEL": "INFO"})
        added = [h for h in root.handlers if h not in before]
        assert len(added) == 1 and added[0].name == "mscore-json"
        record = logging.LogRecord("x", logging.WARNING, __file__, 1, "hello %s", ("you",), None)
        assert added[0].filter(record)  # stamps request_id (None outside a request)
        assert json.loads(added[0].format(record))["message"] == "hello you"
    finally:
        for handler in root.handlers[:]:
            if handler not in before:
                root.removeHandler(handler)


def test_one_line_and_the_send_counts_per_worker_batch(db, queue_invitations, run_worker, caplog):
    caplog.set_level(logging.INFO, logger="sms_gateway.worker")

    def sent() -> float:
        return REGISTRY.get_sample_value("mscore_sms_sends_total", {"outcome": "sent"}) or 0.0

    sent_before = sent()
    queue_invitations(3)
    run_worker()
    batches = [r for r in caplog.records if r.getMessage().startswith("sms batch")]
    assert len(batches) == 1
    assert batches[0].claimed == 3 and batches[0].outcomes == {"sent": 3}
    assert sent() - sent_before == 3
