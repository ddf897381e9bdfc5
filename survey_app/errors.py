"""Error pages: friendly HTML for people, JSON {code, message, details} for the API."""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import BadRequest, HTTPException, NotFound


def wants_json() -> bool:
    """API clients get JSON errors; people get pages."""
    return request.path.startswith("/api/") or request.path.startswith("/sms/")


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
