"""A live mscore server on 127.0.0.1 and headless Debian Chromium driven by Playwright."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.conftest import _test_config

OUTPUT = Path(__file__).resolve().parents[1] / "output" / "e2e"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser():
    """Headless system Chromium (never a downloaded browser); skipped where there is none."""
    executable = _chromium()
    if executable is None:
        pytest.skip("browser tests skipped: no system Chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        original = browser.new_context

        def new_context(**kwargs):
            context = original(**kwargs)
            context.set_default_timeout(10_000)  # fail fast: local pages answer in milliseconds
            return context

        browser.new_context = new_context
        yield browser
        browser.close()


@pytest.fixture
def live_app(tmp_path):
    """The app on its own migrated SQLite database, served on a free port of 127.0.0.1."""
    from flask_migrate import upgrade

    from survey_app import create_app
    from survey_app.extensions import db

    app = create_app(_test_config(f"sqlite:///{tmp_path / 'e2e.sqlite'}"))
    with app.app_context():
        upgrade()
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app.config["LIVE_URL"] = f"http://127.0.0.1:{server.server_port}"
    yield app
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def phone(browser):
    """A browser context shaped like a small Android phone (360 × 740, touch)."""
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
    )
    yield context
    context.close()


@pytest.fixture
def output_dir() -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return OUTPUT
