"""Static files with versioned URLs, cached by browsers for a year, and compressed responses.

`asset_url('mscore.css')` gives `/static/mscore.css?v=<first 10 hex of its SHA-256>`: a page
asks for a new URL whenever the file changes, so a URL's content never changes and a phone keeps
it for a year (`Cache-Control: immutable`) instead of asking again on every page. Pages and
files are compressed by Flask-Compress (zstd, brotli or gzip, as the browser accepts).
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from flask import Flask, current_app, request, url_for
from flask_compress import Compress

YEAR = 365 * 24 * 3600
compress = Compress()


@cache
def _version(path: Path, mtime_ns: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:10]


def asset_version(filename: str) -> str:
    """A short hash of a static file's content (recomputed when the file changes)."""
    path = Path(current_app.static_folder) / filename
    return _version(path, path.stat().st_mtime_ns)


def asset_url(filename: str) -> str:
    """The versioned URL of a static file."""
    return url_for("static", filename=filename, v=asset_version(filename))


def _cache_versioned(response):
    """A static file asked for by its current version is cached for a year."""
    if request.endpoint == "static" and response.status_code == 200:
        filename = (request.view_args or {}).get("filename", "")
        if request.args.get("v") and request.args.get("v") == asset_version(filename):
            response.cache_control.no_cache = None
            response.cache_control.public = True
            response.cache_control.max_age = YEAR
            response.cache_control.immutable = True
    return response


def init_app(app: Flask) -> None:
    """Register compression, the versioned-URL helper and the static files' cache header."""
    compress.init_app(app)
    app.jinja_env.globals["asset_url"] = asset_url
    app.after_request(_cache_versioned)
