"""What an operator sees of each request: a request id (in the X-Request-ID header, every log line
of the request and the error pages), one structured log line per request, and the request
metrics; JSON logs in production."""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"
#: A request id passed on by the proxy is kept when it looks like one; anything else is replaced.
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
JSON_HANDLER = "mscore-json"  # the name of the handler configure_logging installs

request_log = logging.getLogger("mscore.request")


class RequestIdFilter(logging.Filter):
    """Adds the current request's id (or None outside a request) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Stamp the record; never drops one."""
        if not hasattr(record, "request_id"):
            record.request_id = g.get("request_id") if has_request_context() else None
        return True


def json_formatter() -> logging.Formatter:
    """One JSON object per line: time, level, logger, message and every extra field."""
    return JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
    )


def configure_logging(config, *, text_fallback: bool = False) -> None:
    """Send the root logger's records to stderr as JSON (LOG_FORMAT=json, the production
    default), once per process; with text_fallback (the CLI worker), plain text otherwise."""
    level = config.get("LOG_LEVEL", "INFO")
    root = logging.getLogger()
    if config.get("LOG_FORMAT") != "json":
        if text_fallback:
            logging.basicConfig(
                level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
            )
        return
    if any(handler.name == JSON_HANDLER for handler in root.handlers):
        return
    handler = logging.StreamHandler()
    handler.name = JSON_HANDLER
    handler.setFormatter(json_formatter())
    handler.addFilter(RequestIdFilter())
    root.addHandler(handler)
    root.setLevel(level)


def begin_request() -> None:
    """Start the clock and name the request (first of the before_request functions)."""
    g.request_started = time.perf_counter()
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex


def end_request(response):
    """Log the request in one line, count it, and hand its id back in a header."""
    from . import metrics

    request_id = g.get("request_id") or uuid.uuid4().hex
    response.headers[REQUEST_ID_HEADER] = request_id
    seconds = time.perf_counter() - g.get("request_started", time.perf_counter())
    route = request.url_rule.rule if request.url_rule is not None else "unmatched"
    metrics.observe_request(request.method, route, request.endpoint, response.status_code, seconds)
    if request_log.isEnabledFor(logging.INFO):
        # the route, never the query string or the form: neither may reach a log
        request_log.info(
            "%s %s %s",
            request.method,
            route,
            response.status_code,
            extra={
                "request_id": request_id,
                "method": request.method,
                "route": route,
                "status": response.status_code,
                "duration_ms": round(seconds * 1000, 1),
            },
        )
    return response


def init_app(app: Flask) -> None:
    """Register the request id and the per-request log line; JSON logs when configured."""
    configure_logging(app.config)
    app.before_request(begin_request)
    app.after_request(end_request)
