"""GET /api/v1/responses: responses with their answers and comments, by cursor pages.

The cursor is the last response id served. Ids only grow, so a response stored after a page was
read lands after the cursor: walking the pages never skips or repeats one. A response stored
less than RESPONSES_SETTLE_SECONDS ago is held back (with everything after it) so that a
transaction still committing a smaller id cannot be overtaken; "stored" is `stored_at` where it
is set (a kiosk's offline rating arrives hours after it was made), `submitted_at` otherwise.
Phone numbers and device hashes never leave.

Database ids are numbered across all offices, so the gaps between one office's ids would count
the responses of every other office: a caller limited to some offices could learn them. So no
id leaves in clear: a response is named by a keyed hash of its id, and the cursor is encrypted
(Fernet, with a key derived from SECRET_KEY; keys in SECRET_KEY_FALLBACKS are still read).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import select

from ..errors import json_error
from ..extensions import db
from ..models import Answer, Counter, Office, Question, Response, Service, utcnow
from ..reporting.periods import day_start
from . import bp
from .report_schemas import ResponseOut, ResponsesQueryIn
from .reports import RESPONSES_READ, QueryError, authenticate, load_query, visible_offices

#: responses.id is a 32-bit INTEGER: a larger number compared with it fails in PostgreSQL.
MAX_ID = 2**31 - 1
CURSOR_PREFIX = "r2:"


def _derived_key(secret: str, purpose: bytes) -> bytes:
    """A 32-byte key for one purpose, derived from a secret with HKDF-SHA256."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        secret.encode()
    )


def _secrets() -> list[str]:
    config = current_app.config
    return [config["SECRET_KEY"], *(config.get("SECRET_KEY_FALLBACKS") or ())]


def _cursor_cipher() -> MultiFernet:
    return MultiFernet(
        [
            Fernet(base64.urlsafe_b64encode(_derived_key(s, b"mscore responses cursor")))
            for s in _secrets()
        ]
    )


def response_key(response_id: int) -> str:
    """The public name of a response: a keyed hash of its id (16 characters, 96 bits)."""
    key = _derived_key(current_app.config["SECRET_KEY"], b"mscore response id")
    digest = hmac.new(key, str(response_id).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:12]).decode()


def encode_cursor(last_id: int) -> str:
    """An opaque, encrypted cursor for the page after ``last_id``."""
    return _cursor_cipher().encrypt(f"{CURSOR_PREFIX}{last_id}".encode()).decode()


def _bad_cursor(cursor: str) -> QueryError:
    return QueryError(
        json_error(
            400, "bad_cursor", "the cursor is not one this API gave", {"cursor": cursor[:100]}
        )
    )


def decode_cursor(cursor: str | None) -> int:
    """The last id served before this cursor (0 for none); 400 when it was not ours or names
    an id no response can have."""
    if not cursor:
        return 0
    try:
        text = _cursor_cipher().decrypt(cursor.encode()).decode()
    except (InvalidToken, UnicodeError):
        raise _bad_cursor(cursor) from None
    number = text.removeprefix(CURSOR_PREFIX)
    if not text.startswith(CURSOR_PREFIX) or not number.isdigit() or len(number) > 12:
        raise _bad_cursor(cursor)
    if int(number) > MAX_ID:
        raise _bad_cursor(cursor)
    return int(number)


def _page(query: dict, visible, after: int) -> list:
    stmt = (
        select(
            Response.id,
            Response.channel,
            Response.submitted_at,
            Response.stored_at,
            Response.language,
            Response.integrity,
            Response.is_partial,
            Response.dossier_id,
            Response.claimed_dossier_code,
            Office.code.label("office_code"),
            Counter.code.label("counter_code"),
            Service.code.label("service_code"),
        )
        .join(Office, Office.id == Response.office_id)
        .outerjoin(Counter, Counter.id == Response.counter_id)
        .outerjoin(Service, Service.id == Response.service_id)
        .where(Response.id > after)
        .order_by(Response.id)
        .limit(query["limit"] + 1)
    )
    if query["start"]:
        stmt = stmt.where(Response.submitted_at >= day_start(query["start"]))
    if query["end"]:
        stmt = stmt.where(Response.submitted_at < day_start(query["end"] + timedelta(days=1)))
    if visible is not None:
        stmt = stmt.where(Response.office_id.in_(sorted(visible)))
    if query["channel"]:
        stmt = stmt.where(Response.channel == query["channel"])
    return db.session.execute(stmt).all()


def answers_query(response_ids: list[int], first: datetime, last: datetime):
    """The answers of a page's responses, submitted between ``first`` and ``last``: the span
    lets PostgreSQL read only those months' partitions of answers, not probe every one."""
    return (
        select(Answer.response_id, Question.code, Answer.value, Answer.text)
        .join(Question, Question.id == Answer.question_id)
        .where(Answer.response_id.in_(response_ids), Answer.submitted_at.between(first, last))
    )


@bp.get("/responses")
def list_responses():
    """A page of responses (oldest first) with answers by question code and the comment."""
    scope = authenticate(RESPONSES_READ)
    query = load_query(ResponsesQueryIn())
    visible = visible_offices(scope, query["office"])
    after = decode_cursor(query["cursor"])
    rows = _page(query, visible, after)
    more = len(rows) > query["limit"]
    rows = rows[: query["limit"]]
    settle = float(current_app.config.get("RESPONSES_SETTLE_SECONDS", 2.0))
    horizon = utcnow() - timedelta(seconds=settle)
    young = next((i for i, r in enumerate(rows) if (r.stored_at or r.submitted_at) > horizon), None)
    if young is not None:
        rows, more = rows[:young], True
    answers: dict[int, dict] = {r.id: {"answers": {}, "comment": None} for r in rows}
    if rows:
        stamps = [r.submitted_at for r in rows]
        for rid, code, value, text in db.session.execute(
            answers_query(list(answers), min(stamps), max(stamps))
        ):
            if value is not None:
                answers[rid]["answers"][code] = value
            if text:
                answers[rid]["comment"] = text
    page = [
        {
            "id": response_key(r.id),
            "office_code": r.office_code,
            "counter_code": r.counter_code,
            "service_code": r.service_code,
            "channel": str(r.channel),
            "submitted_at": r.submitted_at.isoformat().replace("+00:00", "Z"),
            "language": r.language,
            "integrity": str(r.integrity),
            "is_partial": r.is_partial,
            "has_dossier": r.dossier_id is not None,
            # verified: through the dossier's own rating link or SMS; claimed: a typed code
            "dossier_binding": "verified"
            if r.dossier_id is not None
            else "claimed"
            if r.claimed_dossier_code
            else None,
            **answers[r.id],
        }
        for r in rows
    ]
    db.session.commit()
    last = rows[-1].id if rows else after
    return {
        "responses": ResponseOut(many=True).dump(page),
        "has_more": more,
        "next_cursor": encode_cursor(last),
    }
