"""Error pages: friendly HTML for people, JSON {code, message, details} for the API."""

from __future__ import annotations

import logging
from urllib.parse import unquote_to_bytes

from flask import Flask, jsonify, make_response, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import BadRequest, HTTPException, NotFound

log = logging.getLogger(__name__)

#: Seconds a client is asked to wait before sending again while the database is unavailable.
RETRY_AFTER_SECONDS = 30
#: SQLSTATE classes of an unavailable database: connection exception (08), operator
#: intervention (57: shutdown, terminated, starting up), insufficient resources (53).
OUTAGE_CLASSES = ("08", "57", "53")
READ_ONLY_TRANSACTION = "25006"  # default_transaction_read_only, or a standby after fail-over


def wants_json() -> bool:
    """API clients (and a kiosk's script) get JSON errors; people get pages."""
    return request.path.startswith(("/api/", "/sms/", "/k/api/"))


def json_error(status: int, code: str, message: str, details=None):
    """A JSON error answer in the one shape the API uses."""
    response = jsonify({"code": code, "message": message, "details": details or {}})
    response.status_code = status
    return response


def _friendly_message(error: HTTPException) -> str:
    messages = {
        400: _("Your answers could not be read. Please check them and try again."),
        404: _("This page does not exist. Please check the address on the QR poster."),
        405: _("This action is not allowed here."),
        413: _("What you sent is too long. Please shorten your comment."),
        429: _("Too many submissions from this connection. Please wait a moment and try again."),
    }
    return messages.get(error.code, _("Something went wrong. Please try again later."))


def refuse_broken_utf8() -> None:
    """Refuse a URL-encoded body that is not valid UTF-8 (400), raw or percent-escaped: Werkzeug
    would keep such bytes percent-encoded in a value, or drop the whole form. Separators are
    ASCII, so the whole body decodes strictly exactly when every name and value does."""
    if request.mimetype != "application/x-www-form-urlencoded":
        return
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        return  # too long: whoever reads it answers 413 (a webhook may refuse it unread first)
    try:  # the body is cached: Werkzeug parses the form from the same bytes afterwards
        unquote_to_bytes(request.get_data(cache=True)).decode()
    except UnicodeDecodeError:
        if wants_json():
            raise BadRequest("the request body is not valid UTF-8") from None
        friendly_abort(400, _("Your answers are not valid text (UTF-8). Please type them again."))


def refuse_nul() -> None:
    """Refuse a NUL character in the path or the query string before anything looks it up:
    PostgreSQL text cannot hold one, and the query would fail with a 500. No page has such a
    name (404); no query value may hold one (400)."""
    if "\x00" in request.path:
        raise NotFound()
    if b"%00" in request.query_string:
        if wants_json():
            raise BadRequest("the query string contains a NUL character (%00)")
        friendly_abort(400, _("The address contains a character that is not allowed."))


def is_database_outage(error: Exception) -> bool:
    """Whether a database error means the database is unavailable (down, restarting, read-only,
    out of connections) rather than a fault in this request."""
    if isinstance(error, PoolTimeout):  # every pooled connection busy past the pool timeout
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated or isinstance(error, OperationalError):
        return True
    sqlstate = getattr(error.orig, "sqlstate", None) or ""
    return sqlstate == READ_ONLY_TRANSACTION or sqlstate[:2] in OUTAGE_CLASSES


def database_unavailable(error: Exception):
    """503 with Retry-After when the database is unavailable: nothing was stored, and sending
    the same request again is safe (submission tokens and MessageSids make it idempotent)."""
    if not is_database_outage(error):
        raise error  # a fault of this request, not an outage: the 500 handler answers it
    orig = getattr(error, "orig", None)
    log.warning(
        "database unavailable: %s %s",
        type(orig or error).__name__,
        getattr(orig, "sqlstate", None) or "",
    )
    if wants_json():
        response = json_error(
            503,
            "database_unavailable",
            "The database is unavailable; nothing was stored. Send the same request again later.",
            {"retry_after": RETRY_AFTER_SECONDS},
        )
    else:
        # the answers go back into the page as hidden fields: "Send again" posts them unchanged,
        # with the same submission token, so a second press cannot store them twice
        resend = list(request.form.items(multi=True)) if request.method == "POST" else None
        response = make_response(
            render_template(
                "unavailable.html", resend=resend, action=request.full_path.rstrip("?")
            ),
            503,
        )
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def release_session(_error: BaseException | None = None) -> None:
    """Return the request's database session to the pool, whatever the database did meanwhile.

    Flask-SQLAlchemy's own teardown ends the session with a ROLLBACK; on a connection the
    server terminated after the view's last statement (a restart), that ROLLBACK raises, and an
    exception in a teardown escapes every Flask handler (the server's bare 500 page). Run first
    (registered after Flask-SQLAlchemy's: teardowns run in reverse), this one removes the
    session itself; a failed ROLLBACK has invalidated the connection, so removing it again
    closes the session without touching the server.
    """
    from .extensions import db

    try:
        db.session.remove()
    except DBAPIError as failed:
        log.warning("session rollback failed at teardown: %s", type(failed.orig).__name__)
        db.session.remove()


def init_database_errors(app: Flask) -> None:
    """The 503 answer for database outages and the teardown that survives one (call after
    db.init_app, so that this teardown runs before Flask-SQLAlchemy's)."""
    app.register_error_handler(DBAPIError, database_unavailable)
    app.register_error_handler(PoolTimeout, database_unavailable)
    app.teardown_appcontext(release_session)


def init_app(app: Flask) -> None:
    """Register the error handlers and the checks that the path, query and form are readable."""
    app.before_request(refuse_nul)
    app.before_request(refuse_broken_utf8)

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        if wants_json():
            return json_error(400, "csrf", error.description)
        message = _("The form expired. Please open it again and resubmit.")
        return render_template("error.html", status=400, message=message), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if wants_json():
            return json_error(
                error.code or 500, error.name.lower().replace(" ", "_"), error.description
            )
        message = error.description if getattr(error, "friendly", False) else None
        status = error.code or 500
        return render_template(
            "error.html", status=status, message=message or _friendly_message(error)
        ), status

    @app.errorhandler(500)
    def server_error(error):
        if wants_json():
            return json_error(500, "internal_error", "An unexpected error occurred.")
        return render_template("error.html", status=500, message=_friendly_message(error)), 500


def friendly_abort(status: int, message: str):
    """Abort with a message meant for the citizen (already in the page's language)."""
    from werkzeug.exceptions import default_exceptions

    error = default_exceptions[status](description=message)
    error.friendly = True
    raise error
