"""Language (Vietnamese first, English by a visible switch) and local time at the edges."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from babel import Locale
from flask import Flask, current_app, has_request_context, redirect, request, session
from flask_babel import get_locale


def select_locale() -> Locale:
    """The page language: ?lang= wins and is remembered, else the remembered one, else "vi".

    A kiosk's pages (one tablet, one citizen after another) take it from the URL alone: each
    citizen starts in Vietnamese, whatever the one before chose. Outside a request (a CLI
    command, a worker) it is the default language.
    """
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # a CLI command or a worker: the default language
        return _locale(current_app.config["BABEL_DEFAULT_LOCALE"])
    asked = request.args.get("lang")
    if request.blueprint == "kiosk":
        return _locale(asked if asked in languages else current_app.config["BABEL_DEFAULT_LOCALE"])
    if asked in languages:
        session["lang"] = asked
        return _locale(asked)
    remembered = session.get("lang")
    code = remembered if remembered in languages else current_app.config["BABEL_DEFAULT_LOCALE"]
    return _locale(code)


@cache
def _locale(code: str) -> Locale:
    """The parsed Locale of a language code. Flask-Babel would parse the selector's code on every
    request (a file check and a new object); it takes a Locale as it is."""
    return Locale.parse(code)


def select_timezone() -> str:
    """Times are shown in the configured local zone (Asia/Ho_Chi_Minh by default)."""
    return current_app.config["TIMEZONE"]


def local_time(value: datetime | None) -> datetime | None:
    """Convert a UTC timestamp to the configured local time zone."""
    if value is None:
        return None
    return value.astimezone(ZoneInfo(current_app.config["TIMEZONE"]))


def current_language() -> str:
    """'vi' or 'en', for templates and services."""
    return str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"])


def _safe_next(target: str | None) -> str:
    """Only a path on this site may be a redirect target."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def init_app(app: Flask) -> None:
    """Register the language switch and the template helpers."""

    @app.get("/lang/<code>")
    def switch_language(code: str):
        if code in app.config["LANGUAGES"]:
            session["lang"] = code
        return redirect(_safe_next(request.args.get("next")))

    app.jinja_env.filters["localtime"] = local_time
    app.jinja_env.globals["current_language"] = current_language
