"""The QR web survey blueprint."""

from flask import Blueprint

bp = Blueprint("survey", __name__)

from . import ratelimit, views  # noqa: E402,F401
