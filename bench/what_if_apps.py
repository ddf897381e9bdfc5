"""App factories for bench/submit.py --what-if that need more than a configuration override.

Measurement only: each gives up something issue 2 asks for.
"""

from flask import Flask, request
from flask_limiter.util import get_remote_address
from limits import parse_many
from werkzeug.exceptions import TooManyRequests

from survey_app import create_app
from survey_app.extensions import limiter


def direct_limits() -> Flask:
    """The survey POST's limit hit through Flask-Limiter's rate-limiting strategy
    (`limiter.limiter`, the `limits` library on the configured storage) in a hook of its own,
    with Flask-Limiter's per-request pass told to skip it. Nothing handles a storage failure:
    with Redis down every submission would fail, which Flask-Limiter's fallback prevents."""
    app = create_app()
    items = parse_many(app.config["SURVEY_RATE_LIMIT"])

    def survey_post() -> bool:
        return request.method == "POST" and request.blueprint == "survey"

    limiter.request_filter(survey_post)

    @app.before_request
    def survey_limit() -> None:
        if survey_post():
            key = get_remote_address()
            for item in items:
                if not limiter.limiter.hit(item, key, "survey"):
                    raise TooManyRequests()

    return app
