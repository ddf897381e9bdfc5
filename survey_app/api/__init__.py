"""The JSON API at /api/v1: one module per resource, bearer-token auth, marshmallow schemas."""

from __future__ import annotations

from flask import Blueprint, Flask, request

bp = Blueprint("api", __name__, url_prefix="/api/v1")

#: Bodies the API accepts (a batch of 1,000 dossiers); the app-wide limit is for web forms.
MAX_API_BODY = 2 * 1024 * 1024


@bp.before_request
def _allow_larger_bodies() -> None:
    request.max_content_length = MAX_API_BODY


def init_app(app: Flask) -> None:
    """Register the API blueprint (CSRF-exempt: clients authenticate by token) and its commands."""
    from ..extensions import csrf
    from . import (  # noqa: F401  (routes attach to bp on import)
        commands,
        dossiers,
        offices,
        openapi,
        questionnaires,
        reports,
        responses,
    )

    csrf.exempt(bp)
    app.register_blueprint(bp)
    commands.register()
