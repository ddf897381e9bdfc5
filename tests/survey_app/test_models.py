"""Invariants live in the database, not only in Python."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, StatementError

from survey_app.models import (
    Answer,
    Channel,
    Dossier,
    Office,
    OfficeKind,
    Response,
)
from survey_app.services.questionnaires import (
    DEFAULT_QUESTIONS,
    QuestionnaireLocked,
    current_questionnaire,
    new_version,
)


def _response(office, questionnaire, **kw):
    return Response(office=office, questionnaire=questionnaire, channel=Channel.QR_WEB, **kw)


def test_office_code_is_unique(db, make_office):
    make_office(code="A1")
    db.session.add(Office(code="A1", name="Khác", kind=OfficeKind.DISTRICT))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_dossier_code_is_unique_per_office_only(db, make_office):
    a, b = make_office(code="A"), make_office(code="B", name="UBND huyện Đông Hà")
    db.session.add_all([Dossier(office=a, code="HS1"), Dossier(office=b, code="HS1")])
    db.session.commit()  # the same code at two offices is fine
    db.session.add(Dossier(office=a, code="HS1"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_one_response_per_dossier(db, make_office, make_dossier, questionnaire):
    office = make_office()
    dossier = make_dossier(office)
    db.session.add(_response(office, questionnaire, dossier=dossier))
    db.session.commit()
    db.session.add(_response(office, questionnaire, dossier=dossier))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


@pytest.mark.parametrize("value", [-1, 6, 100])
def test_answer_values_out_of_range_are_refused_by_the_database(
    db, make_office, questionnaire, value
):
    office = make_office()
    response = _response(office, questionnaire)
    response.answers.append(Answer(question=questionnaire.questions[0], value=value))
    db.session.add(response)
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_unknown_enum_value_is_refused(db):
    db.session.add(Office(code="X", name="X", kind="castle"))
    with pytest.raises((StatementError, LookupError, IntegrityError)):
        db.session.commit()
    db.session.rollback()


def test_timestamps_round_trip_as_aware_utc(db, make_office):
    office = make_office()
    hanoi = timezone(timedelta(hours=7))
    returned = datetime(2026, 3, 1, 16, 30, tzinfo=hanoi)
    db.session.add(Dossier(office=office, code="T1", returned_at=returned))
    db.session.commit()
    db.session.expire_all()
    stored = db.session.scalar(select(Dossier).where(Dossier.code == "T1")).returned_at
    assert stored == returned and stored.tzinfo is not None
    assert stored.utcoffset() == timedelta(0)
    assert stored.hour == 9  # 16:30 in Hanoi is 09:30 UTC


def test_naive_timestamps_are_refused(db, make_office):
    office = make_office()
    db.session.add(Dossier(office=office, code="T2", returned_at=datetime(2026, 3, 1)))
    with pytest.raises(StatementError, match="naive datetime"):
        db.session.commit()
    db.session.rollback()


def test_default_questionnaire_follows_sipas(questionnaire):
    dims = [q.dimension.value for q in questionnaire.questions]
    assert dims.count("access") == 3 and dims.count("procedure") == 4
    assert dims.count("civil_servant") == 3 and dims.count("result") == 3
    assert dims.count("feedback") == 3
    assert [q.code for q in questionnaire.questions if q.is_required] == ["overall"]
    kinds = {q.code: q.kind.value for q in questionnaire.questions}
    assert kinds["extra_payment"] == "yes_no" and kinds["comment"] == "text"
    assert "thái độ lịch sự" in questionnaire.question("staff_polite").text_vi
    assert all(q.text_en and q.text_vi for q in questionnaire.questions)


def test_unanswered_questionnaire_may_be_edited(db, questionnaire):
    questionnaire.questions[1].text_en = "Clear signs"
    db.session.commit()


def test_answered_questionnaire_is_never_edited_in_place(db, make_office, questionnaire):
    office = make_office()
    response = _response(office, questionnaire)
    response.answers.append(Answer(question=questionnaire.questions[0], value=5))
    db.session.add(response)
    db.session.commit()

    questionnaire.questions[0].text_vi = "Câu hỏi khác"
    with pytest.raises(QuestionnaireLocked):
        db.session.commit()
    db.session.rollback()

    questionnaire.name = "đổi tên"
    with pytest.raises(QuestionnaireLocked):
        db.session.commit()
    db.session.rollback()

    # a change makes a new version; the old one keeps its answers
    newer = new_version(questionnaire, DEFAULT_QUESTIONS[:3])
    db.session.commit()
    assert current_questionnaire().id == newer.id and newer.version == questionnaire.version + 1
    assert db.session.get(Response, response.id).questionnaire_id == questionnaire.id


def test_submitted_at_defaults_to_now_utc(db, make_office, questionnaire):
    office = make_office()
    response = _response(office, questionnaire)
    db.session.add(response)
    db.session.commit()
    assert abs(response.submitted_at - datetime.now(UTC)) < timedelta(minutes=1)
