"""Bearer API tokens: creation (only a hash is stored), scopes, and office scoping."""

from __future__ import annotations

import functools
import hashlib
import secrets

from flask import g, request
from sqlalchemy import select

from ..errors import json_error
from ..extensions import db
from ..models import ApiToken, Office, utcnow

#: What a token may do; a later resource adds its scope here.
SCOPES = ("dossiers:write", "reports:read", "responses:read")
DEFAULT_SCOPES = ("dossiers:write",)
TOKEN_PREFIX = "msc_"


def hash_token(token: str) -> str:
    """The SHA-256 under which a token is stored (tokens are random, so no key is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    name: str, office: Office | None = None, scopes: tuple[str, ...] = DEFAULT_SCOPES
) -> tuple[ApiToken, str]:
    """Add a token and return it with its plain value, which is never stored; flush only."""
    unknown = set(scopes) - set(SCOPES)
    if unknown:
        raise ValueError(f"unknown scope(s): {', '.join(sorted(unknown))}")
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name, token_hash=hash_token(plain), scopes=" ".join(scopes), office=office
    )
    db.session.add(token)
    db.session.flush()
    return token, plain


def bearer_token() -> str | None:
    """The token of an `Authorization: Bearer …` header, if the request has one."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return (value.strip() or None) if scheme.lower() == "bearer" else None


def unauthorized(message: str):
    """A 401 JSON answer that tells the client to authenticate with a bearer token."""
    response = json_error(401, "unauthorized", message)
    response.headers["WWW-Authenticate"] = 'Bearer realm="mscore"'
    return response


def active_token(plain: str) -> ApiToken | None:
    """The unrevoked token whose hash matches; None for an unknown or revoked token."""
    token = db.session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == hash_token(plain), ApiToken.revoked_at.is_(None)
        )
    )
    return token


def require_scope(scope: str):
    """Decorate a view: a valid, unrevoked token with this scope, kept in g.api_token."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            plain = bearer_token()
            if not plain:
                return unauthorized("send an API token: Authorization: Bearer <token>")
            token = active_token(plain)
            if token is None:
                return unauthorized("the API token is unknown or revoked")
            if not token.has_scope(scope):
                return json_error(
                    403,
                    "forbidden",
                    f"this token lacks the scope {scope!r}",
                    {"required_scope": scope},
                )
            token.last_used_at = utcnow()
            g.api_token = token
            return view(*args, **kwargs)

        return wrapped

    return decorator


def subtree(office_id: int) -> set[int]:
    """An office's id and its descendants' ids."""
    ids, frontier = {office_id}, {office_id}
    while frontier:
        frontier = (
            set(db.session.scalars(select(Office.id).where(Office.parent_id.in_(frontier)))) - ids
        )
        ids |= frontier
    return ids


def office_ids_in_scope(token: ApiToken) -> set[int] | None:
    """The ids of the token's office and its descendants; None when the token is not scoped."""
    return None if token.office_id is None else subtree(token.office_id)


def can_access_office(token: ApiToken, office: Office) -> bool:
    """Whether a token may read or write an office's data."""
    scope = g.get("api_office_scope", ...)
    if scope is ...:
        scope = g.api_office_scope = office_ids_in_scope(token)
    return scope is None or office.id in scope
