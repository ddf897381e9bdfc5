"""The officials' web app: sign-in (auth.py), the dashboard pages (views.py), the office page and
its printable report (offices.py, pdf.py), charts (charts.py) and table downloads (tables.py).

Every figure on these pages comes from the report document (`reporting.documents`), built for the
signed-in official's scope exactly as the API builds it for a token.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the sign-in and dashboard blueprints and Flask-Login's settings."""
    from ..extensions import login_manager
    from . import auth, formatting, offices, views

    login_manager.login_view = "auth.login"
    login_manager.login_message = None  # the sign-in page says why on its own
    formatting.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(offices.bp)
