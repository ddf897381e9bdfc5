"""SMS fixtures: the fake Twilio server, an app configured to send through it with the real twilio
client, signed webhook posts, and returned dossiers."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from twilio.request_validator import RequestValidator

from sms_gateway.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, MESSAGING_SERVICE_SID, FakeTwilio
from tests.conftest import PUBLIC_BASE_URL, _test_config

PHONE = "0912345678"
E164 = "+84912345678"


@pytest.fixture(scope="session")
def fake_server():
    """One fake Twilio server for the session, on 127.0.0.1."""
    fake = FakeTwilio(timeout_seconds=1.0).start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_twilio(fake_server):
    """The fake Twilio server, emptied for this test."""
    fake_server.reset()
    yield fake_server
    fake_server.reset()


def sms_config(database_url: str, base_url: str, mode: str = "reply") -> dict:
    """The test configuration with Twilio pointed at the fake server and no quiet hours; the
    conversation of replies unless `mode` is link."""
    config = _test_config(database_url)
    config.update(
        SMS_MODE=mode,
        SMS_PROVIDER="twilio",
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_MESSAGING_SERVICE_SID=MESSAGING_SERVICE_SID,
        TWILIO_API_BASE_URL=base_url,
        SMS_PROVIDER_TIMEOUT=0.5,
        SMS_RETRY_BASE_SECONDS=60,
        SMS_SEND_LEASE_SECONDS=30,
        SMS_WORKER_CONCURRENCY=4,
        SMS_POLL_SECONDS=0.05,
        SMS_QUIET_START=0,
        SMS_QUIET_END=0,
    )
    return config


@pytest.fixture
def app_config(database_url, fake_twilio):
    return sms_config(database_url, fake_twilio.base_url)


def sid(label: str) -> str:
    """A MessageSid as Twilio writes them (SM + 32 hex digits), one per label."""
    return "SM" + hashlib.md5(label.encode()).hexdigest()


@pytest.fixture
def signed_post(client):
    """POST a form to /sms/... signed as Twilio signs it (against PUBLIC_BASE_URL); the form
    carries the account's AccountSid, as Twilio's do, unless `account` is False."""

    def post(
        path: str,
        params: dict,
        token: str = AUTH_TOKEN,
        signed_url: str | None = None,
        account: bool = True,
    ):
        params = {"AccountSid": ACCOUNT_SID, **params} if account else dict(params)
        url = signed_url or PUBLIC_BASE_URL + path
        signature = RequestValidator(token).compute_signature(url, params)
        return client.post(path, data=params, headers={"X-Twilio-Signature": signature})

    return post


@pytest.fixture
def reply(signed_post):
    """Send a citizen's reply; returns the TwiML message text ('' when none)."""
    counter = iter(range(1, 10**6))

    def send(body: str, sender: str = E164, sid: str | None = None):
        sid = sid or f"SM{next(counter):032x}"
        response = signed_post(
            "/sms/inbound",
            {"From": sender, "Body": body, "MessageSid": sid, "To": "+15005550006"},
        )
        assert response.status_code == 200, response.data
        return _message_text(response.get_data(as_text=True))

    return send


def _message_text(xml: str) -> str:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(xml)
    return " ".join((m.text or "") for m in root.iter("Message"))


@pytest.fixture
def returned_dossier(db, make_office, make_service, questionnaire):
    """Create a returned dossier through the service (so the invitation decision runs)."""
    from survey_app.services.dossiers import upsert_dossier

    def make(code="HS-001", phone=PHONE, office=None, returned_at=None, **data):
        office = office or make_office(code="OFF1", name="Sở Tư pháp tỉnh Quảng Trị")
        service = make_service(code=f"SV-{code}", office=office)
        now = datetime.now(UTC)
        outcome = upsert_dossier(
            office,
            {
                "code": code,
                "phone": phone,
                "service_code": service.code,
                "received_at": now - timedelta(days=3),
                "due_at": now,
                "returned_at": returned_at or now,
                "contact_consent": True,
                **data,
            },
        )
        db.session.commit()
        return outcome

    return make


@pytest.fixture
def run_worker(app, db):
    """Run the worker once (what is due, then exit) in this process; returns the worker."""
    from sms_gateway.worker import Worker

    def run(provider=None):
        worker = Worker(provider)
        worker.run(once=True)
        db.session.remove()
        return worker

    return run


def phone_number(i: int) -> str:
    """A distinct valid Vietnamese mobile number (Viettel 098x) for each i."""
    return f"098{i:07d}"


@pytest.fixture
def queue_invitations(db, make_office, questionnaire):
    """Queue n invitations (n returned dossiers with distinct phones); their ids."""
    from survey_app.models import Office
    from survey_app.services.dossiers import upsert_dossier

    def make(n: int = 1, start: int = 0, language: str | None = None) -> list[int]:
        office = db.session.scalar(db.select(Office).where(Office.code == "OFFQ"))
        office = office or make_office(code="OFFQ", name="UBND huyện Hải Lăng")
        now = datetime.now(UTC)
        ids = []
        for i in range(start, start + n):
            outcome = upsert_dossier(
                office,
                {
                    "code": f"Q-{i:05d}",
                    "phone": phone_number(i),
                    "returned_at": now,
                    "language": language,
                    "contact_consent": True,
                },
            )
            assert outcome.invitation == "queued", outcome
            ids.append(outcome.dossier.invitation.id)
        db.session.commit()
        return ids

    return make


def make_due(db, *, stale: bool = False) -> None:
    """Make every queued invitation due now (and, with stale, every send's lease expired)."""
    from sqlalchemy import update

    from survey_app.models import Invitation, InvitationStatus

    past = datetime.now(UTC) - timedelta(hours=1)
    db.session.execute(
        update(Invitation)
        .where(Invitation.status == InvitationStatus.QUEUED)
        .values(next_attempt_at=past)
    )
    if stale:
        db.session.execute(
            update(Invitation)
            .where(Invitation.status == InvitationStatus.SENDING)
            .values(claimed_at=past)
        )
    db.session.commit()
