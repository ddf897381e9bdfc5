"""Issue 16 §7: the retention purge and data-subject requests (export, erasure) with an audit
line; the anonymous answers stay."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

OLD_PHONE, NEW_PHONE = "0912345678", "0987654321"
OLD_E164, NEW_E164 = "+84912345678", "+84987654321"


@pytest.fixture
def held(db, make_office, make_dossier, questionnaire):
    """An old dossier (returned three years ago) and a recent one, each with an SMS invitation,
    a conversation, message records and an SMS response; an opt-out for the old number."""
    from survey_app.models import (
        Answer,
        Conversation,
        Invitation,
        OptOut,
        Response,
        SmsMessage,
    )

    office = make_office("HCC1")
    now = datetime.now(UTC)
    out = {}
    for name, phone, when in (
        ("old", OLD_PHONE, now - timedelta(days=3 * 365)),
        ("new", NEW_PHONE, now - timedelta(days=30)),
    ):
        dossier = make_dossier(
            office, code=f"HS-{name}", phone=phone, returned_at=when, contact_consent=True
        )
        invitation = Invitation(
            dossier=dossier,
            office_id=office.id,
            phone_hash=dossier.phone_hash,
            sampling_probability=0.5,
            status="answered",
            next_attempt_at=when,
            sent_at=when,
            provider_message_id=f"SM{name}",
            error_message=f"earlier failure for {phone}",
        )
        db.session.add(invitation)
        response = Response(
            office=office,
            dossier=dossier,
            questionnaire_id=questionnaire.id,
            channel="sms",
            submitted_at=when + timedelta(hours=1),
            client_hash=dossier.phone_hash,
        )
        response.answers = [
            Answer(question_id=questionnaire.questions[0].id, value=4),
            Answer(question_id=questionnaire.questions[-1].id, text=f"góp ý {name}"),
        ]
        db.session.add(response)
        db.session.flush()
        conversation = Conversation(
            invitation=invitation,
            response_id=response.id,
            response_submitted_at=response.submitted_at,
            phone_hash=dossier.phone_hash,
            expires_at=when + timedelta(days=3),
            status="completed",
        )
        db.session.add(conversation)
        db.session.flush()
        for i, direction in enumerate(("out", "in")):
            db.session.add(
                SmsMessage(
                    message_sid=f"SM{name}{i}",
                    direction=direction,
                    phone_hash=dossier.phone_hash,
                    conversation_id=conversation.id,
                    received_at=when + timedelta(minutes=i),
                )
            )
        out[name] = {"dossier": dossier.id, "hash": dossier.phone_hash, "response": response.id}
    db.session.add(OptOut(phone_hash=out["old"]["hash"], source="STOP"))
    db.session.commit()
    return out


def _contact_data(db, phone_hash, dossier_id):
    """Every place the phone (or its hash) is held, for one dossier."""
    from survey_app.models import Conversation, Dossier, Invitation, Response, SmsMessage

    dossier = db.session.get(Dossier, dossier_id)
    invitation = db.session.scalar(select(Invitation).where(Invitation.dossier_id == dossier_id))
    return {
        "dossier": (dossier.phone_encrypted, dossier.phone_hash),
        "invitation": (
            invitation.phone_hash,
            invitation.error_message,
            invitation.provider_message_id,
        ),
        "conversation": db.session.scalar(
            select(Conversation.phone_hash).where(Conversation.invitation_id == invitation.id)
        ),
        "messages": db.session.scalar(
            select(func.count(SmsMessage.id)).where(SmsMessage.phone_hash == phone_hash)
        ),
        "responses": db.session.scalar(
            select(func.count(Response.id)).where(Response.client_hash == phone_hash)
        ),
    }


EMPTY = {
    "dossier": (None, None),
    "invitation": (None, None, None),
    "conversation": None,
    "messages": 0,
    "responses": 0,
}


def _answers(db):
    from survey_app.models import Answer

    return db.session.execute(
        select(Answer.response_id, Answer.question_id, Answer.value, Answer.text).order_by(
            Answer.response_id, Answer.question_id
        )
    ).all()


def _audit(db):
    from survey_app.models import AuditEvent

    return db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()


def _consents(db, held) -> dict[str, bool]:
    from survey_app.models import Dossier

    return {k: db.session.get(Dossier, held[k]["dossier"]).contact_consent for k in ("old", "new")}


def test_purge_removes_contact_data_past_retention_and_keeps_answers(db, runner, held):
    answers = _answers(db)
    result = runner.invoke(args=["mscore", "purge", "--older-than", "24m", "--by", "ops"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert _contact_data(db, held["old"]["hash"], held["old"]["dossier"]) == EMPTY
    assert _consents(db, held) == {"old": False, "new": True}  # consent goes with the number
    recent = _contact_data(db, held["new"]["hash"], held["new"]["dossier"])
    assert recent["dossier"][1] == held["new"]["hash"] and recent["messages"] == 2
    assert recent["conversation"] == held["new"]["hash"] and recent["responses"] == 1
    assert _answers(db) == answers  # the anonymous answers stay
    assert "removed dossier phones: 1" in result.output
    assert "removed sms messages: 2" in result.output
    assert "kept opt outs: 1" in result.output
    (event,) = _audit(db)
    assert (event.actor, event.action) == ("cli:ops", "purge")
    assert event.after["dossier_phones"] == 1 and event.after["conversation_phones"] == 1
    assert OLD_E164[3:] not in json.dumps([event.before, event.after])
    # idempotent: nothing left to remove
    again = runner.invoke(args=["mscore", "purge", "--older-than", "730d"])
    assert again.exit_code == 0 and "removed dossier phones: 0" in again.output
    assert _audit(db)[-1].after["sms_messages"] == 0


def test_purge_dry_run_changes_nothing(db, runner, held):
    result = runner.invoke(args=["mscore", "purge", "--older-than", "24m", "--dry-run"])
    assert result.exit_code == 0 and "would remove dossier phones: 1" in result.output
    db.session.expire_all()
    assert _contact_data(db, held["old"]["hash"], held["old"]["dossier"])["messages"] == 2
    assert _audit(db) == []


@pytest.mark.parametrize("value", ["24", "0m", "two years", "-3m", "24y"])
def test_purge_refuses_an_unclear_retention(runner, value):
    result = runner.invoke(args=["mscore", "purge", "--older-than", value])
    assert result.exit_code != 0 and "--older-than" in result.output


def test_cutoff_counts_calendar_months():
    from survey_app.privacy_commands import cutoff_before

    now = datetime(2026, 3, 31, 12, tzinfo=UTC)
    assert cutoff_before("24m", now) == datetime(2024, 3, 31, 12, tzinfo=UTC)
    assert cutoff_before("1m", now) == datetime(2026, 2, 28, 12, tzinfo=UTC)
    assert cutoff_before("730d", now) == now - timedelta(days=730)


def test_subject_request_exports_everything_held_for_one_number(db, runner, held, tmp_path):
    out = tmp_path / "request.json"
    result = runner.invoke(
        args=["mscore", "subject-request", "--phone", "+84 912 345 678", "--export", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "912345678" not in result.output  # the number only in the file
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    doc = json.loads(out.read_text())
    assert doc["phone"] == OLD_E164
    assert [d["code"] for d in doc["dossiers"]] == ["HS-old"]
    assert doc["dossiers"][0]["phone"] == OLD_E164
    assert doc["dossiers"][0]["contact_consent"] is True
    assert len(doc["sms_invitations"]) == len(doc["sms_conversations"]) == 1
    assert len(doc["sms_messages"]) == 2 and doc["opt_outs"][0]["source"] == "STOP"
    assert doc["responses"][0]["answers"]["comment"] == "góp ý old"
    assert "HS-new" not in out.read_text() and "987654321" not in out.read_text()
    (event,) = _audit(db)
    assert event.action == "subject_request.export" and event.after["dossiers"] == 1
    assert held["old"]["hash"] not in json.dumps(event.after)


def test_subject_request_erases_and_keeps_anonymous_answers(db, runner, held):
    answers = _answers(db)
    result = runner.invoke(
        args=["mscore", "subject-request", "--phone", OLD_PHONE, "--erase", "--reference", "T-1"]
    )
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert _contact_data(db, held["old"]["hash"], held["old"]["dossier"]) == EMPTY
    assert _consents(db, held) == {"old": False, "new": True}
    from survey_app.models import Dossier

    code = db.session.get(Dossier, held["old"]["dossier"]).code
    assert code.startswith("erased-")  # the answers cannot be traced back to the dossier
    assert _answers(db) == answers
    other = _contact_data(db, held["new"]["hash"], held["new"]["dossier"])
    assert other["dossier"][1] == held["new"]["hash"] and other["messages"] == 2
    (event,) = _audit(db)
    assert event.action == "subject_request.erase" and event.before == {"reference": "T-1"}
    assert held["old"]["hash"] not in json.dumps(event.after) and "912345678" not in str(
        event.after
    )
    assert "kept opt outs: 1" in result.output  # the number stays unsubscribed
    again = runner.invoke(args=["mscore", "subject-request", "--phone", OLD_PHONE, "--erase"])
    assert "erased dossier phones: 0" in again.output


@pytest.mark.parametrize(
    "args",
    [
        ["--phone", OLD_PHONE],
        ["--phone", OLD_PHONE, "--erase", "--export", "x.json"],
        ["--phone", "12", "--erase"],
    ],
)
def test_subject_request_needs_one_action_and_a_valid_number(runner, args):
    result = runner.invoke(args=["mscore", "subject-request", *args])
    assert result.exit_code != 0
