"""Kiosks: rating tablets at the counters (issue #19).

- screen.py: the tablet's pages under /k/: the rating form in large type, the thank-you that
  makes way for the next citizen, the service worker that keeps the screen working offline;
- pairing.py: a tablet takes its credential with a pairing code or a signed URL (/k/pair);
- sync.py: the tablet's JSON calls under /k/api/: submission tokens to keep in stock, and the
  ratings of its outbox (IndexedDB), where ratings wait while the tablet is offline;
- admin.py: officials enrol, list and revoke kiosks (/kiosks/); commands.py: the same from the
  command line (`flask mscore kiosk enrol|code|list|revoke`).
"""

from flask import Blueprint, Flask

bp = Blueprint("kiosk", __name__, url_prefix="/k")
admin_bp = Blueprint("kiosk_admin", __name__, url_prefix="/kiosks")


def init_app(app: Flask) -> None:
    """Register the tablet's and the officials' blueprints."""
    from . import admin, pairing, screen, sync  # noqa: F401  (routes attach on import)

    app.register_blueprint(bp)
    app.register_blueprint(admin_bp)
