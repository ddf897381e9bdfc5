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

    hops = app.config.get("PROXY_FIX_X_FOR")
    hops = 1 if hops is None else hops  # development: gunicorn behind one nginx, as Procfile runs
    if hops:  # the client's address is the one the nearest trusted proxy saw
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=1, x_host=1)

    from . import (
        errors,
        models,  # noqa: F401  (registers the tables on the metadata)
        observability,
        security,
    )
    from .extensions import (
        babel,
        csrf,
        db,
        limiter,
        login_manager,
        migrate,
        ping_when_idle,
    )
    from .i18n import select_locale, select_timezone

    observability.init_app(app)  # first: every request gets its id and its log line
    errors.init_app(app)  # first: its NUL and UTF-8 checks run before anything reads the request
    security.init_app(app)  # headers on every response, JSON nesting refused
    db.init_app(app)
    errors.init_database_errors(app)  # after db.init_app: its teardown must run first
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

    from . import assets, i18n, kiosk, qr, survey

    assets.init_app(app)
    i18n.init_app(app)
    app.register_blueprint(survey.bp)
    app.register_blueprint(qr.bp)
    kiosk.init_app(app)  # /k/ (the tablets) and /kiosks/ (officials enrol them)

    from . import api

    api.init_app(app)

    from . import reports_web
    from .api.openapi import docs_bp
    from .reporting import source
    from .reporting.staleness import mark_stale_on_flush

    mark_stale_on_flush()  # changes to past days invalidate their rollup
    source.init_app(app)  # report reads on the read replica (DATABASE_REPLICA_URL), if any
    app.register_blueprint(reports_web.bp)  # /reports/* downloads
    app.register_blueprint(docs_bp)  # /api/openapi.json and /api/docs

    from . import dashboard

    dashboard.init_app(app)  # /login, /logout, /dashboard, /offices/<code>

    import sms_gateway

    sms_gateway.init_app(app)

    from . import cli

    cli.init_app(app)

    from . import health, metrics

    app.register_blueprint(health.bp)  # /healthz, /readyz
    app.register_blueprint(metrics.bp)  # /metrics (with METRICS_TOKEN)

    return app
