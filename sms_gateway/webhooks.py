"""POST /sms/inbound and /sms/status: verify Twilio's signature against PUBLIC_BASE_URL, check the
identifiers' formats, drop duplicate deliveries by MessageSid, store, and answer at once (TwiML for
replies).

Twilio's signature is computed over the names and values joined without separators, so a valid
signature does not prove where one field ends: `MessageSid=SM…` followed by `NumMedia=0` signs the
same as `MessageSid=SM…NumMedia0` alone. The identifiers are therefore checked for their exact
formats before anything is stored or deduplicated.
"""

from __future__ import annotations

import functools
import logging
import re

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
MESSAGE_SID = re.compile(r"(?:SM|MM)[0-9a-fA-F]{32}")  # an SMS or an MMS
ERROR_CODE = re.compile(r"[0-9]{1,10}")
INVITATION_REF = re.compile(r"[0-9]{1,18}")  # ?i= on our status callback URL: a 64-bit id


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


def _bad_identifiers():
    """A 400 answer when MessageSid or AccountSid is not exactly what Twilio sends, else None."""
    sid, account = request.form.get("MessageSid"), request.form.get("AccountSid")
    if sid is not None and not MESSAGE_SID.fullmatch(sid):
        return json_error(
            400,
            "bad_request",
            "MessageSid must be SM or MM followed by 32 hexadecimal digits",
            {"fields": ["MessageSid"]},
        )
    if account is None or account != current_app.config.get("TWILIO_ACCOUNT_SID"):
        return json_error(
            400,
            "bad_request",
            "AccountSid must be the Twilio account this deployment is configured with",
            {"fields": ["AccountSid"]},
        )
    return None


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
    bad = _bad_identifiers()
    if bad is not None:
        return bad
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
    bad = _bad_identifiers()
    if bad is not None:
        return bad
    sid, state = _field("MessageSid"), _field("MessageStatus")
    if sid is None or state is None:
        return json_error(
            400,
            "bad_request",
            "MessageSid and MessageStatus are required",
            {"fields": ["MessageSid", "MessageStatus"]},
        )
    error_code = request.form.get("ErrorCode") or None
    if error_code is not None and not ERROR_CODE.fullmatch(error_code):
        return json_error(
            400, "bad_request", "ErrorCode must be a Twilio error number", {"fields": ["ErrorCode"]}
        )
    ref = request.args.get("i")
    if ref is not None and not INVITATION_REF.fullmatch(ref):
        return json_error(400, "bad_request", "the invitation reference ?i= must be a number")
    known = handle_status(ref, sid, state.lower(), error_code)
    db.session.commit()
    if not known:
        log.info("status %s for unknown message %s", state, sid)
    return Response(status=204)
