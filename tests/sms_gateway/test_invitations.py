"""The invitation decision: sampling probability, opt-outs, the re-invite window, dossiers already
rated, quiet hours (frozen clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select

from survey_app.models import Channel, Invitation, OptOut, Response
from survey_app.services import dossiers as service

from .conftest import E164

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def office(make_office):
    return make_office(code="OFF1", name="UBND xã Triệu Phong")


def test_sampling_probability_is_stored(db, office, returned_dossier, monkeypatch):
    office.sms_sampling_rate = 0.25
    db.session.commit()
    monkeypatch.setattr(service, "draw", lambda: 0.2)
    assert returned_dossier("HS-1", office=office).invitation == "queued"
    assert db.session.scalar(select(Invitation)).sampling_probability == 0.25
    monkeypatch.setattr(service, "draw", lambda: 0.25)
    assert returned_dossier("HS-2", office=office, phone="0987000002").invitation == "not_sampled"


def test_opted_out_numbers_are_not_invited(db, office, returned_dossier):
    from survey_app.protection import phone_hash

    db.session.add(OptOut(phone_hash=phone_hash(E164), source="keyword"))
    db.session.commit()
    assert returned_dossier("HS-1", office=office).invitation == "opted_out"
    db.session.scalar(select(OptOut)).revoked_at = datetime.now(UTC)
    db.session.commit()
    assert returned_dossier("HS-2", office=office).invitation == "queued"


def test_reinvite_window(app, db, office, returned_dossier):
    assert returned_dossier("HS-1", office=office).invitation == "queued"
    assert returned_dossier("HS-2", office=office).invitation == "recently_invited"
    with time_machine.travel(datetime.now(UTC) + timedelta(days=31)):
        assert returned_dossier("HS-3", office=office).invitation == "queued"
    app.config["SMS_REINVITE_DAYS"] = 90
    with time_machine.travel(datetime.now(UTC) + timedelta(days=62)):
        assert returned_dossier("HS-4", office=office).invitation == "recently_invited"


def test_dossier_already_rated_is_not_invited(db, office, make_dossier, questionnaire):
    dossier = make_dossier(office, code="HS-9", phone="0912345678")
    db.session.add(
        Response(
            office=office, dossier=dossier, questionnaire=questionnaire, channel=Channel.QR_WEB
        )
    )
    db.session.commit()
    outcome = service.upsert_dossier(
        office, {"code": "HS-9", "returned_at": datetime.now(UTC), "contact_consent": True}
    )
    assert outcome.status == "updated" and outcome.invitation == "already_rated"


def test_dossier_returned_long_ago_is_not_invited(db, office, returned_dossier):
    old = datetime.now(UTC) - timedelta(days=8)
    assert returned_dossier("HS-1", office=office, returned_at=old).invitation == (
        "returned_too_long_ago"
    )


@pytest.mark.parametrize(
    "local_time, expected",
    [
        ("12:00", "same"),
        ("20:59", "same"),
        ("21:00", "07:00+1"),
        ("23:30", "07:00+1"),
        ("00:10", "07:00"),
        ("06:59", "07:00"),
        ("07:00", "same"),
    ],
)
def test_quiet_hours_move_the_send_to_the_morning(
    app, db, office, returned_dossier, local_time, expected
):
    app.config.update(SMS_QUIET_START=21, SMS_QUIET_END=7)
    hour, minute = map(int, local_time.split(":"))
    day = datetime.now(HANOI).date() + timedelta(days=2)
    moment = datetime(day.year, day.month, day.day, hour, minute, tzinfo=HANOI)
    with time_machine.travel(moment, tick=False):
        assert returned_dossier("HS-1", office=office).invitation == "queued"
    scheduled = db.session.scalar(select(Invitation)).next_attempt_at.astimezone(HANOI)
    if expected == "same":
        assert scheduled == moment
    else:
        morning_day = day + timedelta(days=1 if expected.endswith("+1") else 0)
        assert scheduled == datetime(
            morning_day.year, morning_day.month, morning_day.day, 7, tzinfo=HANOI
        )


def test_two_dossiers_of_one_phone_at_the_same_instant_invite_once(
    app, db, office, make_service, is_postgres
):
    """The second transaction waits for the first and sees its invitation."""
    import threading

    if not is_postgres:
        pytest.skip("SQLite runs one writer at a time; the advisory lock is PostgreSQL's")
    make_service(code="SV", office=office)
    db.session.commit()
    office_id, now = office.id, datetime.now(UTC)

    def decide(code: str, hold: threading.Event | None, out: dict) -> None:
        with app.app_context():
            mine = db.session.get(type(office), office_id)
            outcome = service.upsert_dossier(
                mine,
                {
                    "code": code,
                    "phone": E164,
                    "service_code": "SV",
                    "returned_at": now,
                    "contact_consent": True,
                },
            )
            out["decision"] = outcome.invitation
            if hold is not None:
                hold.wait(10)  # keep the transaction (and its lock) open
            db.session.commit()
            db.session.remove()

    first, second, release = {}, {}, threading.Event()
    a = threading.Thread(target=decide, args=("HS-A", release, first))
    a.start()
    while "decision" not in first:
        a.join(0.01)
    b = threading.Thread(target=decide, args=("HS-B", None, second))
    b.start()
    b.join(0.5)
    assert b.is_alive() and "decision" not in second  # waiting for the first transaction
    release.set()
    a.join(10)
    b.join(10)
    assert (first["decision"], second["decision"]) == ("queued", "recently_invited")
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Invitation)) == 1
