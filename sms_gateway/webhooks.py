"""POST /sms/inbound and /sms/status: verify Twilio's signature against PUBLIC_BASE_URL, drop
duplicate deliveries by MessageSid, store, and answer at once (TwiML for replies)."""

from __future__ import annotations

import functools
import logging

from flask import Blueprint, Response, current_app, request
from sqlalchemy.exc import IntegrityError
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from survey_app.errors import json_error
from survey_app.extensions import db

from .inbound import Duplicate, handle_inbound, handle_status

bp = Blueprint("sms", __name__, url_prefix="/sms")
log = logging.getLogger(__name__)
MAX_FIELD = 2000  # characters: Twilio bodies are at most 1,600


def public_url() -> str:
    """The URL Twilio signed: the public base URL and this path, not what the proxy shows."""
    query = request.query_string.decode("utf-8", "replace")
    return current_app.config["PUBLIC_BASE_URL"] + request.path + (f"?{query}" if query else "")


def twilio_signed(view):
    """Answer 403 unless X-Twilio-Signature matches the public URL and the posted form."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        token = current_app.config.get("TWILIO_AUTH_TOKEN")
        signature = request.headers.get("X-Twilio-Signature", "")
        if not token or not signature:
            return json_error(403, "forbidden", "missing or unverifiable Twilio signature")
        if not RequestValidator(token).validate(public_url(), request.form, signature):
            return json_error(403, "forbidden", "the Twilio signature does not match")
        return view(*args, **kwargs)

    return wrapped


def _field(name: str, required: bool = True) -> str | None:
    value = request.form.get(name)
    if value is None or len(value) > MAX_FIELD or (required and not value.strip()):
        return None
    return value


def twiml(message: str | None) -> Response:
    """A TwiML answer with one message, or an empty one."""
    reply = MessagingResponse()
    if message:
        reply.message(message)
    return Response(str(reply), mimetype="text/xml")


@bp.post("/inbound")
@twilio_signed
def inbound():
    """A citizen's reply: keywords, then the conversation; the next question in the TwiML."""
    sender, sid, body = _field("From"), _field("MessageSid"), _field("Body", required=False)
    if sender is None or sid is None or body is None:
        return json_error(
            400,
            "bad_request",
            "From, MessageSid and Body are required",
            {"fields": ["From", "MessageSid", "Body"]},
        )
    try:
        reply = handle_inbound(sender, body, sid)
        db.session.commit()
    except (Duplicate, IntegrityError):
        db.session.rollback()
        log.info("duplicate inbound message %s dropped", sid)
        return twiml(None)
    return twiml(reply)


@bp.post("/status")
@twilio_signed
def status():
    """A delivery receipt (queued, sent, delivered, undelivered, failed)."""
    sid, state = _field("MessageSid"), _field("MessageStatus")
    if sid is None or state is None:
        return json_error(
            400,
            "bad_request",
            "MessageSid and MessageStatus are required",
            {"fields": ["MessageSid", "MessageStatus"]},
        )
    known = handle_status(request.args.get("i"), sid, state.lower(), _field("ErrorCode", False))
    db.session.commit()
    if not known:
        log.info("status %s for unknown message %s", state, sid)
    return Response(status=204)
