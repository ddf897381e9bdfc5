"""mscore: continuous citizen-satisfaction measurement for one-stop public-service offices."""

from __future__ import annotations

import os

from flask import Flask


def create_app(test_config: dict | None = None) -> Flask:
    """Create and configure the mscore Flask application."""
    app = Flask(
        __name__,
        instance_path=os.environ.get("MSCORE_INSTANCE_PATH") or None,
        instance_relative_config=True,
        template_folder="../templates",
    )
    from .config import check_production, load_config

    app.config.from_mapping(load_config(app.instance_path))
    if test_config:
        app.config.from_mapping(test_config)
    check_production(app.config)

    from werkzeug.middleware.proxy_fix import ProxyFix

    if app.config.get("PROXY_FIX_HOPS", 1):  # behind one reverse proxy (gunicorn behind nginx)
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)

    from . import (
        errors,
        models,  # noqa: F401  (registers the tables on the metadata)
    )
    from .extensions import (
        SignedCookieSessions,
        babel,
        csrf,
        db,
        limiter,
        login_manager,
        migrate,
        ping_when_idle,
    )
    from .i18n import select_locale, select_timezone

    app.session_interface = SignedCookieSessions()
    errors.init_app(app)  # first: its NUL check runs before anything looks a name up
    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            if engine.dialect.name != "sqlite":  # a file on this machine: nothing to lose
                ping_when_idle(engine, app.config["DB_PING_AFTER_IDLE_SECONDS"])
    migrate.init_app(
        app,
        db,
        directory=os.path.join(os.path.dirname(__file__), "migrations"),
        render_as_batch=True,
    )
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)

    from . import i18n, qr, survey

    i18n.init_app(app)
    app.register_blueprint(survey.bp)
    app.register_blueprint(qr.bp)

    from . import api

    api.init_app(app)

    from . import reports_web
    from .api.openapi import docs_bp
    from .reporting.rollup import mark_stale_on_flush

    mark_stale_on_flush()  # changes to past days invalidate their rollup
    app.register_blueprint(reports_web.bp)  # /reports/* downloads
    app.register_blueprint(docs_bp)  # /api/openapi.json and /api/docs

    from . import dashboard

    dashboard.init_app(app)  # /login, /logout, /dashboard, /offices/<code>

    import sms_gateway

    sms_gateway.init_app(app)

    from . import cli

    cli.init_app(app)

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    return app
