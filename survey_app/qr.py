"""QR posters (placeholder until its helper fills it in)."""

from flask import Blueprint

bp = Blueprint("qr", __name__)


def register(group) -> None:
    """Attach this module's commands to the `flask mscore` group."""
