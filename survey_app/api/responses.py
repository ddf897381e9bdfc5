"""GET /api/v1/responses: responses with their answers and comments, by cursor pages.

The cursor is the last response id served. Ids only grow, so a response stored after a page was
read lands after the cursor: walking the pages never skips or repeats one. A response younger
than RESPONSES_SETTLE_SECONDS is held back (with everything after it) so that a transaction
still committing a smaller id cannot be overtaken. Phone numbers and device hashes never leave.
"""

from __future__ import annotations

import base64
import binascii
from datetime import timedelta

from flask import current_app, g
from sqlalchemy import select

from ..errors import json_error
from ..extensions import db
from ..models import Answer, Counter, Office, Question, Response, Service, utcnow
from ..reporting.periods import day_start
from . import bp
from .auth import office_ids_in_scope, require_scope
from .report_schemas import ResponseOut, ResponsesQueryIn
from .reports import RESPONSES_READ, QueryError, load_query, visible_offices


def encode_cursor(last_id: int) -> str:
    """An opaque cursor for the page after ``last_id``."""
    return base64.urlsafe_b64encode(f"r1:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The last id served before this cursor (0 for none); 400 when it was not ours."""
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = text.partition(":")
        if prefix != "r1" or not number.isdigit() or len(number) > 18:
            raise ValueError
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise QueryError(
            json_error(
                400, "bad_cursor", "the cursor is not one this API gave", {"cursor": cursor[:100]}
            )
        ) from None


def _page(query: dict, visible, after: int) -> list:
    stmt = (
        select(
            Response.id,
            Response.channel,
            Response.submitted_at,
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


@bp.get("/responses")
@require_scope(RESPONSES_READ)
def list_responses():
    """A page of responses (oldest first) with answers by question code and the comment."""
    query = load_query(ResponsesQueryIn())
    visible = visible_offices(office_ids_in_scope(g.api_token), query["office"])
    after = decode_cursor(query["cursor"])
    rows = _page(query, visible, after)
    more = len(rows) > query["limit"]
    rows = rows[: query["limit"]]
    settle = float(current_app.config.get("RESPONSES_SETTLE_SECONDS", 2.0))
    horizon = utcnow() - timedelta(seconds=settle)
    young = next((i for i, r in enumerate(rows) if r.submitted_at > horizon), None)
    if young is not None:
        rows, more = rows[:young], True
    answers: dict[int, dict] = {r.id: {"answers": {}, "comment": None} for r in rows}
    if rows:
        for rid, code, value, text in db.session.execute(
            select(Answer.response_id, Question.code, Answer.value, Answer.text)
            .join(Question, Question.id == Answer.question_id)
            .where(Answer.response_id.in_(list(answers)))
        ):
            if value is not None:
                answers[rid]["answers"][code] = value
            if text:
                answers[rid]["comment"] = text
    page = [
        {
            "id": r.id,
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
