"""The tablet's JSON calls: submission tokens to keep in stock (GET /k/api/tokens) and the
ratings of its outbox (POST /k/api/ratings), each answered stored, duplicate or refused.

Errors are JSON `{code, message, details}` (errors.wants_json knows /k/api/). The ratings call
is not CSRF-checked by token: it needs the kiosk's credential cookie (SameSite=Lax: never sent
with another site's POST) and a JSON body, which another site's page cannot send here without a
CORS preflight that this app never answers; a request that names another origin is refused.
"""

from __future__ import annotations

import logging
from collections import Counter as Tally

from flask import current_app, jsonify, request
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import MultiDict

from ..errors import json_error
from ..extensions import csrf, db, limiter
from ..metrics import SUBMISSIONS
from ..services import submission_tokens
from ..services.kiosk_ratings import KioskBurstRules, Outcome, record_rating, token_max_age
from ..services.kiosks import seen
from ..services.questionnaires import current_snapshot
from . import bp
from .credentials import current_kiosk, problem, rate_key, rate_limit

log = logging.getLogger(__name__)

TOKEN_BATCH = 100  # tokens per call (the tablet keeps 150-200: a busy counter's day)
RATINGS_BATCH = 20  # ratings per call
MAX_BODY = 512 * 1024  # 20 ratings with long comments (the forms' limit is 64 KB)


class RatingIn(Schema):
    """One rating of the outbox: its token, when it was made, its language, the form's fields."""

    token = fields.String(required=True, validate=validate.Length(1, 64))
    rated_at = fields.AwareDateTime(load_default=None)
    language = fields.String(load_default="vi", validate=validate.OneOf(("vi", "en")))
    answers = fields.List(
        fields.Tuple(
            (
                fields.String(validate=validate.Length(max=64)),
                fields.String(validate=validate.Length(max=4000)),
            )
        ),
        data_key="fields",
        required=True,
        validate=validate.Length(max=100),
    )


class RatingsIn(Schema):
    """A batch of ratings."""

    ratings = fields.List(
        fields.Nested(RatingIn), required=True, validate=validate.Length(max=RATINGS_BATCH)
    )


def _refusal():
    """The JSON answer for a tablet that may not send now (None when it may)."""
    why = problem(current_kiosk())
    if why == "unknown":
        return json_error(401, "kiosk_unknown", "this tablet is not enrolled as a kiosk")
    if why == "revoked":
        return json_error(403, "kiosk_revoked", "this kiosk was revoked: enrol the tablet again")
    if why == "closed":
        return json_error(403, "kiosk_closed", "this kiosk's office or counter is closed")
    return None


@bp.get("/api/tokens")
@limiter.limit("120 per hour", key_func=rate_key)
def tokens():
    """Submission tokens for ratings to come (kept by the tablet for when it is offline)."""
    refusal = _refusal()
    if refusal is not None:
        return refusal
    count = request.args.get("count", default=TOKEN_BATCH, type=int)
    if not 1 <= count <= TOKEN_BATCH:
        return json_error(400, "bad_count", f"ask for 1 to {TOKEN_BATCH} tokens")
    kiosk = current_kiosk()
    seen(kiosk)
    db.session.commit()
    office_id = kiosk.office_id
    return jsonify(
        kiosk=kiosk.code,
        max_age_seconds=token_max_age(current_app.config),
        tokens=[submission_tokens.issue(office_id) for _ in range(count)],
    )


def _same_origin() -> bool:
    """No Origin (not a browser's cross-site call), or this site's, as the browser or the
    deployment (PUBLIC_BASE_URL) names it."""
    origin = request.headers.get("Origin")
    own = {request.host_url.rstrip("/"), current_app.config["PUBLIC_BASE_URL"].rstrip("/")}
    return origin is None or origin in own


@bp.post("/api/ratings")
@limiter.limit(rate_limit, key_func=rate_key)
def ratings():
    """Record a batch of the outbox's ratings; each is answered stored, duplicate or refused."""
    refusal = _refusal()
    if refusal is not None:
        return refusal
    if not _same_origin():
        return json_error(403, "cross_origin", "ratings come from the kiosk's own pages")
    if not request.is_json:
        return json_error(415, "json_required", "send the ratings as application/json")
    request.max_content_length = MAX_BODY
    try:
        batch = RatingsIn().load(request.get_json(silent=True) or {})
    except ValidationError as error:
        return json_error(422, "invalid_ratings", "the ratings are not well formed", error.messages)
    kiosk = current_kiosk()
    questionnaire = current_snapshot()
    config = current_app.config
    rules, max_age = KioskBurstRules.from_config(config), token_max_age(config)
    SUBMISSIONS.labels("kiosk").inc(len(batch["ratings"]))
    results = [
        record_rating(
            kiosk,
            questionnaire,
            token=item["token"],
            fields=MultiDict(item["answers"]),
            language=item["language"],
            rated_at=item["rated_at"],
            rules=rules,
            max_age=max_age,
        )
        for item in batch["ratings"]
    ]
    seen(kiosk)
    try:
        db.session.commit()
    except IntegrityError:  # the same token sent at once by another request: all is safe to resend
        db.session.rollback()
        return json_error(409, "conflict", "another request stored some of these: send again")
    refused = Tally(r.reason for r in results if r.status == Outcome.REFUSED)
    if refused:
        log.warning("kiosk %s: ratings refused %s", kiosk.code, dict(refused))
    return jsonify(
        results=[
            {"token": r.token, "status": str(r.status), "reason": r.reason, "message": r.message}
            for r in results
        ]
    )


csrf.exempt(ratings)
