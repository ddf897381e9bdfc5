"""PostgreSQL restarted (cleanly, then crashed) while citizens submit the web form and Twilio
posts replies and delivery receipts to the app under gunicorn; then every webhook delivered three
times, two at once. Clients send again after a 503 or a lost connection, as a citizen pressing
"Send again" and Twilio retrying do. Nothing accepted is lost, nothing is stored twice, no answer
is a 500, and the app recovers without a restart.

The database is a private cluster on a port of its own (initdb/pg_ctl): the shared server at
5432 is never restarted."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
import requests
from sqlalchemy import create_engine, text
from twilio.request_validator import RequestValidator

from sms_gateway.fake_twilio import ACCOUNT_SID, AUTH_TOKEN
from tests.conftest import PUBLIC_BASE_URL
from tests.formfill import form_fields
from tests.log_guard import find_phone
from tests.ops.processes import PrivateCluster, app_env, flask, gunicorn, read_output, stop

pytestmark = [pytest.mark.faults, pytest.mark.slow]

FORMS, REPLIES = 90, 60  # web submissions; SMS conversations (a reply and a receipt each)
DEADLINE = 90.0  # seconds for the whole load, restarts included
OFFICE = "FLT1"


class Stack:
    """A private cluster with a migrated database, seeded, and the app under gunicorn."""

    def __init__(self):
        self.cluster = PrivateCluster()
        self.cluster.start()
        admin = create_engine(
            self.cluster.url.replace("postgresql:", "postgresql+psycopg:"),
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE mscore"))
        admin.dispose()
        self.url = self.cluster.url.rsplit("/", 1)[0] + "/mscore"
        self.env = app_env(self.url, SURVEY_RATE_LIMIT="100000 per minute", LOG_FORMAT="json")
        flask(["db", "upgrade"], self.env)
        self.invitations = seed(self.url, REPLIES)
        self.web, self.base = gunicorn(self.env, workers=2)
        self.engine = create_engine(self.url.replace("postgresql:", "postgresql+psycopg:"))

    def scalar(self, sql: str):
        with self.engine.connect() as conn:
            return conn.scalar(text(sql))

    def close(self) -> str:
        stop(self.web)
        output = read_output(self.web)
        self.engine.dispose()
        self.cluster.remove()
        return output


def seed(url: str, n: int) -> list[tuple[int, str, str]]:
    """An office, the questionnaire, and n returned dossiers whose invitations were sent:
    (invitation id, sender number, provider message id) for each."""
    from survey_app import create_app
    from survey_app.extensions import db
    from survey_app.models import Invitation, InvitationStatus, Office
    from survey_app.services.dossiers import upsert_dossier
    from survey_app.services.questionnaires import ensure_default_questionnaire
    from tests.conftest import TEST_PHONE_ENCRYPTION_KEY, TEST_PHONE_HASH_KEY

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url.replace("postgresql:", "postgresql+psycopg:"),
            "PHONE_ENCRYPTION_KEY": TEST_PHONE_ENCRYPTION_KEY,
            "PHONE_HASH_KEY": TEST_PHONE_HASH_KEY,
            "SMS_QUIET_START": 0,
            "SMS_QUIET_END": 0,
        }
    )
    seeded = []
    with app.app_context():
        ensure_default_questionnaire()
        office = Office(
            code=OFFICE, name="UBND xã Gio Linh", kind="department", group="departments"
        )
        db.session.add(office)
        db.session.flush()
        now = datetime.now(UTC)
        for i in range(n):
            number = f"097{i:07d}"
            outcome = upsert_dossier(
                office,
                {
                    "code": f"F-{i:04d}",
                    "phone": number,
                    "returned_at": now,
                    "contact_consent": True,
                },
            )
            invitation: Invitation = outcome.dossier.invitation
            invitation.status, invitation.sent_at = InvitationStatus.SENT, now
            invitation.provider_message_id = f"SMc{i:031x}"  # as Twilio: SM + 32 hex
            db.session.flush()
            seeded.append((invitation.id, f"+8497{i:07d}", invitation.provider_message_id))
        db.session.commit()
        db.engine.dispose()
    return seeded


@pytest.fixture(scope="module")
def stack():
    built = Stack()
    try:
        yield built
    finally:
        output = built.close()
        assert "Internal Server Error" not in output
        assert find_phone(output) is None, "a phone number in the app's logs"


class Deliveries:
    """Every answer each client got, and the last one."""

    def __init__(self):
        self.statuses: list = []
        self.lock = threading.Lock()
        self.done = 0

    def send(self, call, ok: set[int], deadline: float):
        """Call until an answer in `ok`; again after a 503 (with Retry-After) or a lost
        connection, as browsers' users and Twilio do. The last answer."""
        last = None
        while time.monotonic() < deadline:
            try:
                last = call()
            except requests.RequestException as error:
                self._seen(type(error).__name__)
                time.sleep(0.2)
                continue
            self._seen(last.status_code)
            if last.status_code == 503:
                assert last.headers.get("Retry-After"), "a 503 without Retry-After"
                time.sleep(0.2)
                continue
            break
        return last

    def _seen(self, status) -> None:
        with self.lock:
            self.statuses.append(status)

    def finished(self) -> None:
        with self.lock:
            self.done += 1


def signed(base: str, path: str, params: dict, timeout: float = 10):
    """POST a webhook signed as Twilio signs it (against PUBLIC_BASE_URL)."""
    signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_BASE_URL + path, params)
    return requests.post(
        base + path, data=params, timeout=timeout, headers={"X-Twilio-Signature": signature}
    )


def inbound(sender: str, body: str, sid: str) -> dict:
    """The form Twilio posts for an incoming SMS."""
    return {
        "From": sender,
        "Body": body,
        "MessageSid": sid,
        "AccountSid": ACCOUNT_SID,
        "To": "+15005550006",
    }


def receipt(message_sid: str, status: str = "delivered") -> dict:
    """The form Twilio posts for a delivery receipt."""
    return {"MessageSid": message_sid, "MessageStatus": status, "AccountSid": ACCOUNT_SID}


def test_postgresql_restarts_under_load_lose_and_double_nothing(stack):
    deliveries, deadline = Deliveries(), time.monotonic() + DEADLINE
    url = f"{stack.base}/s/{OFFICE}"
    answers: list = []

    def citizen(_i):
        session = requests.Session()  # one browser: its own session and rated cookie
        page = deliveries.send(lambda: session.get(url, timeout=10), {200}, deadline)
        fields = form_fields(page.text)
        sent = deliveries.send(
            lambda: session.post(url, data=fields, allow_redirects=False, timeout=10),
            {303},
            deadline,
        )
        answers.append(sent.status_code)
        deliveries.finished()

    def twilio(i):
        invitation_id, sender, message_id = stack.invitations[i]
        reply = deliveries.send(
            lambda: signed(stack.base, "/sms/inbound", inbound(sender, "5", f"SMa{i:031x}")),
            {200},
            deadline,
        )
        delivered = deliveries.send(
            lambda: signed(stack.base, f"/sms/status?i={invitation_id}", receipt(message_id)),
            {204},
            deadline,
        )
        answers.extend([reply.status_code, delivered.status_code])
        deliveries.finished()

    total = FORMS + REPLIES
    jobs = [(citizen, i) for i in range(FORMS)] + [(twilio, i) for i in range(REPLIES)]
    jobs.sort(key=lambda job: job[1] / (FORMS if job[0] is citizen else REPLIES))  # interleaved
    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(job, i) for job, i in jobs]
        wait_for = lambda share: time.monotonic() < deadline and deliveries.done < total * share  # noqa: E731
        while wait_for(0.25):
            time.sleep(0.05)
        stack.cluster.restart("fast", down_seconds=1.0)  # a clean restart: backends terminated
        while wait_for(0.6):
            time.sleep(0.05)
        stack.cluster.restart("immediate", down_seconds=0.5)  # a crash, then recovery
        for future in futures:
            future.result()

    statuses = set(deliveries.statuses)
    assert 503 in statuses or any(isinstance(s, str) for s in statuses)  # the outage was felt
    assert not statuses - {200, 204, 303, 503, "ConnectionError", "ReadTimeout"}, statuses
    assert answers.count(303) == FORMS and answers.count(200) == REPLIES
    assert answers.count(204) == REPLIES
    # nothing lost, nothing doubled
    assert stack.scalar("SELECT count(*) FROM responses WHERE channel = 'qr_web'") == FORMS
    assert (
        stack.scalar(
            "SELECT count(DISTINCT submission_token) FROM responses WHERE channel = 'qr_web'"
        )
        == FORMS
    )
    assert stack.scalar("SELECT count(*) FROM responses WHERE channel = 'sms'") == REPLIES
    assert stack.scalar("SELECT count(*) FROM sms_messages WHERE direction = 'in'") == REPLIES
    assert (
        stack.scalar(
            "SELECT count(*) FROM answers a JOIN responses r ON r.id = a.response_id "
            "WHERE r.channel = 'sms'"
        )
        == REPLIES
    )
    assert stack.scalar("SELECT count(*) FROM invitations WHERE delivered_at IS NULL") == 0
    # and the app recovered by itself
    assert requests.get(stack.base + "/readyz", timeout=10).status_code == 200
    print(
        f"\nrestarts: {FORMS} forms, {REPLIES} replies + {REPLIES} receipts; answers seen: "
        + ", ".join(f"{s}: {deliveries.statuses.count(s)}" for s in sorted(statuses, key=str))
    )


def test_every_webhook_delivered_three_times_two_at_once_is_stored_once(stack):
    before = stack.scalar("SELECT count(*) FROM answers")
    messages: dict[int, list[str]] = {}

    def three_times(i):
        _invitation_id, sender, message_id = stack.invitations[i]
        params = inbound(sender, "4", f"SMb{i:031x}")  # the second question (1-5)
        with ThreadPoolExecutor(2) as pair:  # two at once, then one more
            first = list(pair.map(lambda _: signed(stack.base, "/sms/inbound", params), (1, 2)))
        answers = [*first, signed(stack.base, "/sms/inbound", params)]
        assert [a.status_code for a in answers] == [200, 200, 200]
        messages[i] = [a.text for a in answers]
        path = f"/sms/status?i={_invitation_id}"
        assert {signed(stack.base, path, receipt(message_id)).status_code for _ in range(3)} == {
            204
        }

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(three_times, range(REPLIES)))

    assert stack.scalar("SELECT count(*) FROM answers") - before == REPLIES  # one each
    assert stack.scalar("SELECT count(*) FROM sms_messages WHERE direction = 'in'") == 2 * REPLIES
    for texts in messages.values():  # the next question was texted back once, not three times
        assert sum("<Message>" in t for t in texts) == 1, texts
    print(
        f"\nduplicates: {REPLIES} replies and {REPLIES} receipts delivered 3 times each "
        "(two at once): each stored once"
    )
