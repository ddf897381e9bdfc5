"""SMS providers behind one small interface: TwilioProvider (the real twilio client) and
ConsoleProvider (development: logs the text). Phone numbers are never logged."""

from __future__ import annotations

import enum
import logging
import re
import threading
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from flask import Flask
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

log = logging.getLogger(__name__)
TWILIO_API = "https://api.twilio.com"
#: Twilio error codes that mean the number asked to stop (21610: "unsubscribed recipient").
OPT_OUT_CODES = {"21610"}


class Outcome(enum.StrEnum):
    """What a send attempt achieved."""

    SENT = "sent"  # the provider accepted it
    RETRY = "retry"  # not sent (429, 503, connection refused): safe to retry later
    UNKNOWN = "unknown"  # may have been sent (timeout, 5xx, dropped): reconcile before a retry
    FAILED = "failed"  # permanent: invalid number, unsubscribed, ...


@dataclass(frozen=True)
class OutgoingSms:
    """One text to send, with what the provider needs to find it again."""

    invitation_id: int
    to: str
    body: str
    status_callback: str | None = None


@dataclass(frozen=True)
class SendResult:
    """The provider's answer to one send."""

    outcome: Outcome
    message_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None

    @property
    def is_opt_out(self) -> bool:
        """Whether the provider refused because the number unsubscribed."""
        return self.error_code in OPT_OUT_CODES


class ProviderUnavailable(RuntimeError):
    """The provider could not be asked (used by reconciliation: try again later)."""


class SmsProvider(ABC):
    """What the worker needs from a provider."""

    name = "abstract"

    @abstractmethod
    def send(self, sms: OutgoingSms) -> SendResult:
        """Send one text; never raises for provider or network errors."""

    @abstractmethod
    def find_sent(self, to: str, body: str, since: datetime) -> str | None:
        """The id of a message with this body sent to this number since a moment, or None."""


class ConsoleProvider(SmsProvider):
    """Development default: the text goes to the log (without the number)."""

    name = "console"

    def send(self, sms: OutgoingSms) -> SendResult:
        """Log the text and call it sent."""
        log.info("SMS for invitation %s: %s", sms.invitation_id, sms.body)
        return SendResult(Outcome.SENT, message_id=f"console-{uuid.uuid4().hex}")

    def find_sent(self, to: str, body: str, since: datetime) -> str | None:
        """The console keeps nothing: nothing is found, so the text is logged again."""
        return None


class _RebasedHttpClient(TwilioHttpClient):
    """The twilio HTTP client, pointed at another base URL (the fake server in tests)."""

    def __init__(self, base_url: str, timeout: float):
        quiet = logging.getLogger("sms_gateway.twilio_http")  # twilio logs query params (To=...)
        quiet.setLevel(logging.WARNING)
        super().__init__(logger=quiet, timeout=timeout)
        self.base_url = base_url.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        if self.base_url and url.startswith(TWILIO_API):
            url = self.base_url + url[len(TWILIO_API) :]
        return super().request(method, url, *args, **kwargs)


def _never_reached(exc: requests.ConnectionError) -> bool:
    """Whether a connection error happened before the request could reach the provider."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    text = f"{type(reason).__name__} {reason}"
    return "NewConnectionError" in text or "Connection refused" in text or "NameResolution" in text


#: A run of digits with the separators people and providers write numbers with ("+84 912 345 678",
#: "0912.345.678", "(091) 234-5678"), not inside a word (a message SID's hex digits).
_DIGIT_RUN = re.compile(r"(?<!\w)\(?\+?\d(?:[\s().\-]{0,2}\d)+\)?(?!\w)")
MIN_PHONE_DIGITS = 7  # shorter runs are error codes, statuses, counts


def without_phone_numbers(text: str | None) -> str | None:
    """The text with every phone number in it, E.164 or local, replaced by [phone]."""
    if not text:
        return text

    def hide(match: re.Match) -> str:
        digits = sum(ch.isdigit() for ch in match.group())
        return "[phone]" if digits >= MIN_PHONE_DIGITS else match.group()

    return _DIGIT_RUN.sub(hide, text)


def classify_twilio_error(exc: TwilioRestException) -> SendResult:
    """Turn a Twilio API error into retry, unknown or permanent failure (its text without the
    number: Twilio's error texts often quote it)."""
    code = str(exc.code) if exc.code else f"http_{exc.status}"
    message = without_phone_numbers(exc.msg or "")[:500]
    if exc.status in (429, 503) or exc.status in (401, 403):  # throttled / down / misconfigured
        return SendResult(Outcome.RETRY, error_code=code, error_message=message)
    if exc.status >= 500:
        return SendResult(Outcome.UNKNOWN, error_code=code, error_message=message)
    return SendResult(Outcome.FAILED, error_code=code, error_message=message)


class TwilioProvider(SmsProvider):
    """Twilio Programmable Messaging: a Messaging Service SID or a From number."""

    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        messaging_service_sid: str = "",
        from_number: str = "",
        base_url: str = "",
        timeout: float = 10.0,
    ):
        if not (messaging_service_sid or from_number):
            raise ValueError("set TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM_NUMBER")
        self.account_sid, self.auth_token = account_sid, auth_token
        self.messaging_service_sid, self.from_number = messaging_service_sid, from_number
        self.base_url, self.timeout = base_url, timeout
        self._local = threading.local()  # one client (one HTTP session) per worker thread

    @property
    def client(self) -> Client:
        """This thread's twilio client."""
        client = getattr(self._local, "client", None)
        if client is None:
            http = _RebasedHttpClient(self.base_url, self.timeout)
            client = self._local.client = Client(
                self.account_sid, self.auth_token, http_client=http
            )
        return client

    def send(self, sms: OutgoingSms) -> SendResult:
        """Create the message; classify any failure."""
        sender = (
            {"messaging_service_sid": self.messaging_service_sid}
            if self.messaging_service_sid
            else {"from_": self.from_number}
        )
        if sms.status_callback:
            sender["status_callback"] = sms.status_callback
        try:
            message = self.client.messages.create(to=sms.to, body=sms.body, **sender)
        except TwilioRestException as exc:
            return classify_twilio_error(exc)
        except requests.exceptions.ConnectionError as exc:
            outcome = Outcome.RETRY if _never_reached(exc) else Outcome.UNKNOWN
            return SendResult(outcome, error_code="connection", error_message=type(exc).__name__)
        except requests.exceptions.Timeout as exc:
            return SendResult(
                Outcome.UNKNOWN, error_code="timeout", error_message=type(exc).__name__
            )
        except requests.exceptions.RequestException as exc:
            return SendResult(Outcome.UNKNOWN, error_code="http", error_message=type(exc).__name__)
        return SendResult(Outcome.SENT, message_id=message.sid)

    def find_sent(self, to: str, body: str, since: datetime) -> str | None:
        """Search the account's recent messages to this number for this exact body.

        Twilio's message list does not show the StatusCallback URL, so the match is on the
        recipient, the body (it names the dossier) and the creation time.
        """
        earliest = since - timedelta(minutes=10)  # clock skew between us and Twilio
        try:
            messages = self.client.messages.list(to=to, limit=50, page_size=50)
        except (TwilioRestException, requests.exceptions.RequestException) as exc:
            raise ProviderUnavailable(f"cannot list messages: {type(exc).__name__}") from exc
        for message in messages:
            created = message.date_created
            if message.body == body and (created is None or created >= earliest):
                return message.sid
        return None


def make_provider(app: Flask) -> SmsProvider:
    """The provider SMS_PROVIDER names; under TESTING, Twilio must point at a local server."""
    config = app.config
    kind = config.get("SMS_PROVIDER", "console")
    if kind == "console":
        return ConsoleProvider()
    if kind != "twilio":
        raise ValueError(f"SMS_PROVIDER={kind!r}: use 'console' or 'twilio'")
    base_url = config.get("TWILIO_API_BASE_URL", "")
    if app.testing and not base_url.startswith(("http://127.0.0.1", "http://localhost")):
        raise RuntimeError("tests must never reach Twilio: set TWILIO_API_BASE_URL to the fake")
    return TwilioProvider(
        config["TWILIO_ACCOUNT_SID"],
        config["TWILIO_AUTH_TOKEN"],
        messaging_service_sid=config.get("TWILIO_MESSAGING_SERVICE_SID", ""),
        from_number=config.get("TWILIO_FROM_NUMBER", ""),
        base_url=base_url,
        timeout=config.get("SMS_PROVIDER_TIMEOUT", 10.0),
    )
