"""App factories for bench/submit.py --what-if that need more than a configuration override.

Measurement only.
"""

from flask import Flask

from survey_app import create_app
from survey_app.extensions import limiter


def flask_limiter_pass() -> Flask:
    """The app with the survey POST's limit checked by Flask-Limiter's full per-request pass, as
    before the short path of survey_app/survey/ratelimit.py: what that short path saves."""
    app = create_app()
    limiter.short_path = None
    return app
