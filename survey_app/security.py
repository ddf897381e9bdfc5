"""What every response carries and every JSON body must respect (issue 16 §6, §7).

- Security headers on every response: the content security policy the team agreed (no inline
  script or style: CSS and JS live in survey_app/static/), nosniff, no framing, a referrer
  policy, and HSTS in production. A view may set its own value of a header; then it is kept.
- JSON bodies: a body nested deeper than MAX_JSON_DEPTH is refused as bad JSON (400) by the app's
  JSON provider, for every endpoint at once; 100,000 nested `[` was a RecursionError (500).
"""

from __future__ import annotations

from flask import Flask, Response, current_app
from flask.json.provider import DefaultJSONProvider

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors 'none' for browsers that predate CSP 2
    # The Referer goes to our own pages only: Flask-WTF checks it on HTTPS form posts, and no
    # other site learns a page's address (which may hold a rating-link token).
    "Referrer-Policy": "same-origin",
}
#: HSTS in production only (a development server on http:// would be unreachable for a year);
#: without includeSubDomains: the province's other sites are not ours to decide for.
HSTS = "max-age=31536000"
#: The deepest JSON body accepted: the API's documents are 3 levels deep.
MAX_JSON_DEPTH = 32


def add_security_headers(response: Response) -> Response:
    """Set the security headers a view did not set itself."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if current_app.config.get("MSCORE_ENV") == "production":
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def json_depth(value) -> int:
    """How deeply lists and objects nest in a parsed JSON value (a scalar is 0)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth > MAX_JSON_DEPTH:  # deep enough to refuse: stop walking
                return depth
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, refusing a body nested deeper than MAX_JSON_DEPTH (a ValueError, which
    Flask's request.get_json answers with 400)."""

    def loads(self, s, **kwargs):
        """Parse JSON text, refusing deep nesting."""
        try:
            value = super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
        if json_depth(value) > MAX_JSON_DEPTH:
            raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        return value


def init_app(app: Flask) -> None:
    """Install the JSON provider and the headers on every response."""
    app.json = JSONProvider(app)
    app.after_request(add_security_headers)
