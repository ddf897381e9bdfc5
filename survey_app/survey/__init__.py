"""The QR web survey blueprint: the form of an office (views.py) and of a dossier's own rating
link (links.py)."""

from flask import Blueprint, current_app

from ..extensions import csrf, limiter

bp = Blueprint("survey", __name__)

# The limit per client on the survey's POSTs (SURVEY_RATE_LIMIT, "20 per minute;1000 per day"),
# counted by Flask-Limiter in RATELIMIT_STORAGE_URI (Redis in production; in memory while it is
# down). GETs are not limited: reading the form stores nothing.
limiter.limit(lambda: current_app.config["SURVEY_RATE_LIMIT"], methods=["POST"])(bp)
# The form checks its CSRF token itself, after its submission token: an expired form is shown
# again with the citizen's answers instead of an error page.
csrf.exempt(bp)

from . import links, views  # noqa: E402,F401
