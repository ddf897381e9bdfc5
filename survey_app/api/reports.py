"""GET /api/v1/reports/satisfaction, and the query and scope helpers the reading API shares."""

from __future__ import annotations

import hashlib

from flask import Response, g, request
from flask_login import current_user
from marshmallow import Schema, ValidationError
from sqlalchemy import select

from ..errors import json_error
from ..extensions import db
from ..models import Office, Role, utcnow
from ..reporting import Params, Period
from ..reporting.documents import satisfaction_text
from ..reporting.kept import kept_text, tag
from . import bp
from .auth import active_token, bearer_token, office_ids_in_scope, subtree, unauthorized
from .report_schemas import SatisfactionQueryIn

REPORTS_READ = "reports:read"
RESPONSES_READ = "responses:read"


class QueryError(Exception):
    """A request whose query cannot be answered; carries the JSON error to send."""

    def __init__(self, response):
        super().__init__(response.status_code)
        self.response = response


def load_query(schema: Schema) -> dict:
    """Validate the query string: 400 for unknown or repeated parameters, 422 for bad values."""
    known = {f.data_key or name for name, f in schema.fields.items()}
    unknown = sorted(set(request.args) - known)
    if unknown:
        raise QueryError(
            json_error(
                400,
                "unknown_parameter",
                "unknown query parameter(s)",
                {"unknown": unknown, "known": sorted(known)},
            )
        )
    repeated = sorted(k for k in request.args if len(request.args.getlist(k)) > 1)
    if repeated:
        raise QueryError(
            json_error(
                400, "repeated_parameter", "give each parameter once", {"repeated": repeated}
            )
        )
    try:
        return schema.load(request.args.to_dict())
    except ValidationError as error:
        raise QueryError(
            json_error(422, "invalid_query", "the query parameters are invalid", error.messages)
        ) from None


def visible_offices(scope: set[int] | None, office_code: str | None) -> set[int] | None:
    """Offices a request may see: the scope, narrowed to one office's subtree when asked.

    An unknown office is a 404; one outside the scope a 403 (never its data).
    """
    if office_code is None:
        return scope
    office = db.session.scalar(select(Office).where(Office.code == office_code))
    if office is None:
        raise QueryError(
            json_error(
                404, "not_found", f"no office with code {office_code!r}", {"office": office_code}
            )
        )
    if scope is not None and office.id not in scope:
        raise QueryError(
            json_error(
                403, "forbidden", "this office is outside your scope", {"office": office_code}
            )
        )
    return subtree(office.id) if scope is None else subtree(office.id) & scope


def authenticate(*scopes: str) -> set[int] | None:
    """Office scope of a bearer token with one of ``scopes``, or of a signed-in official
    (None: every office)."""
    plain = bearer_token()
    if plain:
        token = active_token(plain)
        if token is None:
            raise QueryError(unauthorized("the API token is unknown or revoked"))
        if not any(token.has_scope(scope) for scope in scopes):
            raise QueryError(
                json_error(
                    403,
                    "forbidden",
                    "this token lacks the scope " + " or ".join(map(repr, scopes)),
                    {"required_scope": scopes[0] if len(scopes) == 1 else list(scopes)},
                )
            )
        token.last_used_at = utcnow()
        g.api_token = token
        scope = office_ids_in_scope(token)
        # The last use is committed now: a report then reads in a transaction that has written
        # nothing, so its counts can be read on other connections at once (reporting/readers.py).
        db.session.commit()
        return scope
    if current_user and current_user.is_authenticated:
        if current_user.role in (Role.ADMIN, Role.ANALYST):
            return None
        if current_user.office_id is not None:
            return subtree(current_user.office_id)
        raise QueryError(json_error(403, "forbidden", "this account has no office in scope"))
    raise QueryError(unauthorized("send an API token: Authorization: Bearer <token>"))


def report_params(
    query: dict, scope: set[int] | None, breakdowns: bool = True, questions: bool = True
) -> Params:
    """The reporting parameters of a validated query within a scope."""
    visible = visible_offices(scope, query["office"])
    return Params(
        Period(query["start"], query["end"]),
        group=query["group"],
        visible=None if visible is None else frozenset(visible),
        scope=None if scope is None else frozenset(scope),
        level=query["level"],
        method=query["method"],
        compare=query["compare"] == "previous",
        include_flagged=query["include_flagged"],
        breakdowns=breakdowns,
        questions=questions,
    )


@bp.errorhandler(QueryError)
def _query_error(error: QueryError):
    return error.response


@bp.get("/reports/satisfaction")
def satisfaction():
    """Per office and group: weighted indices, intervals, ranks, tiers, PAR points, changes."""
    scope = authenticate(REPORTS_READ)
    query = load_query(SatisfactionQueryIn())
    # Per-question estimates are part of the report (issue 5); breakdowns only when asked.
    include = set((query["include"] or "").split(",")) | {"questions"}
    params = report_params(query, scope, "breakdowns" in include, "questions" in include)
    breakdowns = "breakdowns" in include
    # An ended period's report is the same until its rollup or the catalogue changes: its text
    # is kept in memory by its tag (reporting/kept.py).
    key = tag(params, breakdowns)
    # Written column by column, not through Flask's json: a year over 1,000 offices is megabytes.
    body = kept_text(key, lambda: satisfaction_text(params, breakdowns))
    db.session.commit()  # a stored text
    response = Response(body, mimetype="application/json")
    if key is not None:
        # The entity tag is the body's digest, not the kept text's key: it changes when the
        # caller's own document does, and tells nothing of changes outside its scope.
        response.set_etag(hashlib.sha256(body).hexdigest()[:40])
        response.headers["Cache-Control"] = "private, no-cache"  # ask again; scoped to caller
        response.make_conditional(request)  # If-None-Match: 304 without the body
    return response
