"""The survey's rate limit per client (Flask-Limiter), checked on a short path for the form's POST.

Flask-Limiter works out, on every request, which limits apply: it gathers the application's,
the blueprint's and the route's limits, asks the limit's provider for its text, parses it and
builds new limit objects, hashes them into ordered sets, then hits the storage. For the survey's
POST that work always gives the same answer (BENCHMARKS.md measures it). So the POST's limits are
worked out once per limit text, and `survey_post_limited_here`, the limiter's short path
(`ShortPathLimiter` in survey_app/extensions.py), hits them through Flask-Limiter's own rate
limiter: `limiter.limiter`, the configured strategy on the configured storage, with the same keys
as Flask-Limiter's pass, which then does not run for the request.

When the storage fails, Flask-Limiter handles the failure as its own: it marks the storage dead
and counts in memory (its in-memory fallback). While it counts in memory the short path steps
aside, so that Flask-Limiter's full pass takes every request and notices when the storage is
back; the short path resumes from then on.

The short path honours the limit text, the strategy, the storage, RATELIMIT_KEY_PREFIX and
Flask-Limiter's order of windows (the shortest first, stopping at the first one exceeded, as
Flask-Limiter does by default). It does not know the features the survey's limit does not use:
meta limits, `exempt_when`, `deduct_when`, `on_breach` callbacks, RATELIMIT_FAIL_ON_FIRST_BREACH
turned off and rate-limit headers (off: RATELIMIT_HEADERS_ENABLED is False). A survey limit that
needs one of them must drop the short path.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from flask import current_app, request
from flask_limiter import RateLimitExceeded, RouteLimit

from ..extensions import limiter
from . import bp

if TYPE_CHECKING:
    from flask_limiter._limits import RuntimeLimit  # what iterating a RouteLimit yields

log = logging.getLogger(__name__)

#: The limit per client on the survey blueprint's POSTs (the form is its only POST), from the
#: SURVEY_RATE_LIMIT setting ("20 per minute;200 per day"). Flask-Limiter's full pass applies it
#: whenever the short path below steps aside.
SURVEY_LIMIT: RouteLimit = limiter.limit(
    lambda: current_app.config["SURVEY_RATE_LIMIT"], methods=["POST"]
)
SURVEY_LIMIT(bp)

_parsed: dict[str, list[RuntimeLimit]] = {}


def _survey_limits() -> list[RuntimeLimit]:
    """SURVEY_LIMIT's limits in the order Flask-Limiter checks them, parsed once per limit text."""
    text = current_app.config["SURVEY_RATE_LIMIT"]
    limits = _parsed.get(text)
    if limits is None:
        limits = _parsed[text] = sorted(SURVEY_LIMIT, key=lambda lim: lim.limit)
    return limits


def survey_post_limited_here() -> bool:
    """For a survey POST, hit its limits as Flask-Limiter's pass would (True: the pass does not
    run), or raise RateLimitExceeded. False (the pass checks the request itself) for any other
    request, and while Flask-Limiter counts in memory after a storage failure.

    A storage error raised here goes to Flask-Limiter's pass, which handles it as if it had met
    it (the storage is marked dead and the request is counted in memory), so a hung storage
    costs its timeout once, not twice.
    """
    if request.method != "POST" or request.blueprint != bp.name:
        return False
    strategy = limiter.limiter  # the in-memory fallback's while the storage is marked dead
    if strategy.storage is not limiter.storage:
        return False  # Flask-Limiter's pass counts in memory and checks when the storage is back
    endpoint = request.endpoint or ""
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or ""
    for lim in _survey_limits():
        key = [lim.key_func(), lim.scope_for(endpoint, request.method)]
        if not strategy.hit(
            lim.limit, *([prefix, *key] if prefix else key), cost=lim.deduction_amount
        ):
            log.info("ratelimit %s (%s) exceeded at endpoint: %s", lim.limit, *key)
            raise RateLimitExceeded(lim)
    return True


limiter.short_path = survey_post_limited_here
