"""POST /api/v1/dossiers: one dossier event or a list of up to 1,000, idempotent per dossier."""

from __future__ import annotations

from collections import Counter

from flask import current_app, g, request
from marshmallow import ValidationError
from werkzeug.exceptions import BadRequest

from ..errors import json_error
from ..extensions import db
from ..models import utcnow
from ..protection import phone_protector
from ..services import dossier_bulk as bulk
from ..services.dossiers import find_office, public_decision, upsert_dossier
from ..services.rating_links import RECEIPT, rating_url
from . import bp
from .auth import can_access_office, require_scope
from .schemas import DossierIn, DossierResultOut, quick_dossier

MAX_ITEMS = 1000
_REJECT_STATUS = {"invalid": 422, "unknown_office": 422, "forbidden_office": 403}


def _label(item) -> dict:
    """The office and dossier codes of an item, when they are plain strings (for the answer)."""
    if not isinstance(item, dict):
        return {"office_code": None, "code": None}
    return {
        key: item.get(key) if isinstance(item.get(key), str) else None
        for key in ("office_code", "code")
    }


def _rejected(index: int, item, reason: str, errors: dict) -> dict:
    return {
        "index": index,
        **_label(item),
        "status": "rejected",
        "reason": reason,
        "errors": errors,
        "warnings": [],
    }


def accepted(index: int, office_code: str, item: dict) -> dict:
    """The answer's item for an applied dossier: never the phone, nor what other dossiers of its
    number or its opt-out decided (public_decision); the receipt's rating link and its QR."""
    url = rating_url(item["id"], RECEIPT)
    return {
        "index": index,
        "office_code": office_code,
        "code": item["code"],
        "status": item["status"],
        "invitation": public_decision(item["invitation"]),
        "rating_url": url,
        "rating_qr_url": url + ".png",
        "warnings": item["warnings"],
    }


def check_item(index: int, item, schema: DossierIn, offices: dict):
    """Validate one dossier event: (office, data), or the rejected result."""
    try:
        data = quick_dossier(item) or schema.load(item)
    except ValidationError as error:
        messages = error.messages
        if not isinstance(messages, dict):
            messages = {"_schema": messages}
        return _rejected(index, item, "invalid", messages)
    code = data["office_code"]
    if code not in offices:
        offices[code] = find_office(code)
    office = offices[code]
    if office is None:
        return _rejected(
            index, item, "unknown_office", {"office_code": [f"no active office with code {code!r}"]}
        )
    if not can_access_office(g.api_token, office):
        return _rejected(
            index,
            item,
            "forbidden_office",
            {"office_code": ["this token may not write this office's dossiers"]},
        )
    return office, data


def set_based() -> bool:
    """Whether this database takes the set-based path (PostgreSQL; bench/ingest.py's baseline
    replaces this to time the per-row path through the same endpoint)."""
    return db.session.get_bind().dialect.name == "postgresql"


def apply_items(checked: list, decisions: Counter) -> list[dict]:
    """Apply the valid events: set-based on PostgreSQL (one dossier named once), else per row."""
    valid = [(i, c) for i, c in enumerate(checked) if isinstance(c, tuple)]
    keys = {(office.id, data["code"]) for _, (office, data) in valid}
    if valid and len(keys) == len(valid) and set_based():
        bulk.open_stage()
        # rows built first: nothing may query the database while COPY runs
        protect = phone_protector()
        rows = [bulk.stage_row(i, office.id, data, protect) for i, (office, data) in valid]
        bulk.copy_rows(rows)
        outcome = bulk.apply_stage(utcnow(), per_item=True)
        decisions.update(outcome.decisions)
        items = outcome.items
    else:
        items = {}
        for i, (office, data) in valid:
            done = upsert_dossier(office, data)
            decisions[done.invitation] += done.invitation is not None
            items[i] = {
                "id": done.dossier.id,
                "code": done.dossier.code,
                "status": done.status,
                "invitation": done.invitation,
                "warnings": done.warnings,
            }
    return [
        accepted(i, c[1]["office_code"], items[i]) if isinstance(c, tuple) else c
        for i, c in enumerate(checked)
    ]


@bp.post("/dossiers")
@require_scope("dossiers:write")
def post_dossiers():
    """Create or update dossiers; the answer lists per item what was done or why it was not."""
    if not request.is_json:
        return json_error(
            415, "unsupported_media_type", "send JSON (Content-Type: application/json)"
        )
    try:
        payload = request.get_json()
    except BadRequest:
        return json_error(400, "bad_json", "the body is not valid JSON")
    if isinstance(payload, dict):
        items, single = [payload], True
    elif isinstance(payload, list):
        items, single = payload, False
    else:
        return json_error(400, "bad_json", "send a dossier object or a list of them")
    if len(items) > MAX_ITEMS:
        return json_error(
            422,
            "too_many",
            f"send at most {MAX_ITEMS} dossiers per request",
            {"count": len(items), "max": MAX_ITEMS},
        )
    schema, offices, decisions = DossierIn(), {}, Counter()
    results = apply_items(
        [check_item(i, item, schema, offices) for i, item in enumerate(items)], decisions
    )
    db.session.commit()
    if decisions:  # the detailed decisions stay in the log (counts only, never a number)
        current_app.logger.info("dossier invitations decided: %s", dict(decisions))
    out = DossierResultOut(many=True).dump(results)
    if single:
        result = out[0]
        if result["status"] == "rejected":
            status = _REJECT_STATUS[result["reason"]]
            return json_error(
                status, result["reason"], "the dossier was rejected", result["errors"]
            )
        return result, 201 if result["status"] == "created" else 200
    summary = {
        status: sum(r["status"] == status for r in out)
        for status in ("created", "updated", "unchanged", "rejected")
    }
    return {"results": out, "summary": summary}, 200
