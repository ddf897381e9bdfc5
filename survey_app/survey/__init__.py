"""The QR web survey blueprint."""

from flask import Blueprint, current_app

from ..extensions import limiter

bp = Blueprint("survey", __name__)

# The limit per client on the survey's POSTs (SURVEY_RATE_LIMIT, "20 per minute;1000 per day"),
# counted by Flask-Limiter in RATELIMIT_STORAGE_URI (Redis in production; in memory while it is
# down). GETs are not limited: reading the form stores nothing.
limiter.limit(lambda: current_app.config["SURVEY_RATE_LIMIT"], methods=["POST"])(bp)

from . import views  # noqa: E402,F401
