"""The default SIPAS questionnaire, the current version, and new versions instead of edits."""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import event, exists, func, select
from sqlalchemy.orm import Session

from ..extensions import db
from ..models import Answer, Dimension, Question, QuestionKind, Questionnaire, Response

D, K = Dimension, QuestionKind

#: (code, dimension, kind, Vietnamese, English, required) in the order of the national SIPAS form.
DEFAULT_QUESTIONS = [
    (
        "overall",
        D.OVERALL,
        K.LIKERT5,
        "Nhìn chung, Ông/Bà hài lòng thế nào với việc giải quyết thủ tục hành chính hôm nay?",
        "Overall, how satisfied are you with how your procedure was handled today?",
        True,
    ),
    (
        "access_signs",
        D.ACCESS,
        K.LIKERT5,
        "Nơi tiếp nhận có biển hiệu, hướng dẫn rõ ràng, dễ tìm",
        "The reception area has clear signs and guidance and is easy to find",
        False,
    ),
    (
        "access_seats",
        D.ACCESS,
        K.LIKERT5,
        "Có đủ ghế ngồi chờ và bàn viết",
        "There are enough seats and writing desks",
        False,
    ),
    (
        "access_equipment",
        D.ACCESS,
        K.LIKERT5,
        "Trang thiết bị đầy đủ, chất lượng tốt",
        "The equipment is complete and in good order",
        False,
    ),
    (
        "procedure_posted",
        D.PROCEDURE,
        K.LIKERT5,
        "Thủ tục hành chính được niêm yết công khai, dễ thấy, dễ đọc",
        "The procedure is posted publicly, easy to see and read",
        False,
    ),
    (
        "procedure_documents",
        D.PROCEDURE,
        K.LIKERT5,
        "Chỉ yêu cầu nộp hồ sơ đúng quy định",
        "Only the documents required by the rules were asked for",
        False,
    ),
    (
        "procedure_fees",
        D.PROCEDURE,
        K.LIKERT5,
        "Chỉ thu phí, lệ phí đúng quy định",
        "Only the fees set by the rules were charged",
        False,
    ),
    (
        "procedure_time",
        D.PROCEDURE,
        K.LIKERT5,
        "Thời hạn giải quyết đúng quy định",
        "The processing time is as prescribed",
        False,
    ),
    (
        "staff_polite",
        D.CIVIL_SERVANT,
        K.LIKERT5,
        "Công chức có thái độ lịch sự, tôn trọng",
        "Staff were polite and respectful",
        False,
    ),
    (
        "staff_guidance",
        D.CIVIL_SERVANT,
        K.LIKERT5,
        "Công chức hướng dẫn đầy đủ, dễ hiểu, một lần",
        "Staff gave complete, clear guidance, once",
        False,
    ),
    (
        "staff_rules",
        D.CIVIL_SERVANT,
        K.LIKERT5,
        "Công chức tuân thủ đúng quy định",
        "Staff followed the rules",
        False,
    ),
    (
        "result_on_time",
        D.RESULT,
        K.LIKERT5,
        "Kết quả được trả đúng hẹn",
        "The result was returned on time",
        False,
    ),
    (
        "result_accurate",
        D.RESULT,
        K.LIKERT5,
        "Kết quả có thông tin đầy đủ, chính xác",
        "The result is complete and accurate",
        False,
    ),
    (
        "result_fair",
        D.RESULT,
        K.LIKERT5,
        "Việc giải quyết đảm bảo công bằng",
        "The handling was fair",
        False,
    ),
    (
        "feedback_easy",
        D.FEEDBACK,
        K.LIKERT5,
        "Có hình thức góp ý, phản ánh, kiến nghị dễ dàng",
        "It is easy to give feedback, complaints or suggestions",
        False,
    ),
    (
        "feedback_handled",
        D.FEEDBACK,
        K.LIKERT5,
        "Góp ý, phản ánh, kiến nghị được tiếp nhận, xử lý đúng quy định",
        "Feedback is received and handled according to the rules",
        False,
    ),
    (
        "feedback_notified",
        D.FEEDBACK,
        K.LIKERT5,
        "Kết quả xử lý góp ý, phản ánh, kiến nghị được thông báo kịp thời",
        "The outcome of feedback is notified in time",
        False,
    ),
    (
        "extra_payment",
        D.INTEGRITY,
        K.YES_NO,
        "Ông/Bà có bị yêu cầu đưa tiền ngoài quy định không?",
        "Were you asked for any payment outside the rules?",
        False,
    ),
    (
        "comment",
        D.COMMENT,
        K.TEXT,
        "Ông/Bà có góp ý gì để cải thiện chất lượng phục vụ?",
        "What should be improved? (optional)",
        False,
    ),
]


class QuestionnaireLocked(RuntimeError):
    """A questionnaire that has answers was about to be edited; make a new version instead."""


def current_questionnaire() -> Questionnaire | None:
    """The active questionnaire with the highest version."""
    return db.session.scalars(
        select(Questionnaire)
        .where(Questionnaire.is_active.is_(True))
        .order_by(Questionnaire.version.desc())
        .limit(1)
    ).first()


def _next_version() -> int:
    return (db.session.scalar(select(func.max(Questionnaire.version))) or 0) + 1


def create_questionnaire(name: str, questions: list[tuple]) -> Questionnaire:
    """Add a new questionnaire version from (code, dimension, kind, vi, en, required) tuples."""
    questionnaire = Questionnaire(version=_next_version(), name=name, is_active=True)
    for position, (code, dimension, kind, text_vi, text_en, required) in enumerate(questions):
        questionnaire.questions.append(
            Question(
                code=code,
                dimension=dimension,
                kind=kind,
                text_vi=text_vi,
                text_en=text_en,
                position=position,
                is_required=required,
            )
        )
    db.session.add(questionnaire)
    db.session.flush()
    clear_snapshot_cache()
    return questionnaire


def ensure_default_questionnaire() -> Questionnaire:
    """Return the current questionnaire, creating the default SIPAS one if there is none."""
    return current_questionnaire() or create_questionnaire("SIPAS mặc định", DEFAULT_QUESTIONS)


def new_version(old: Questionnaire, questions: list[tuple], name: str | None = None):
    """Replace a questionnaire by a new version; the old one stays, inactive, with its answers."""
    old.is_active = False
    return create_questionnaire(name or old.name, questions)


def has_answers(questionnaire_id: int, session: Session | None = None) -> bool:
    """Whether any response was given to a questionnaire version."""
    session = session or db.session
    return session.scalar(
        select(exists().where(Response.questionnaire_id == questionnaire_id))
    ) or session.scalar(
        select(
            exists().where(
                Answer.question_id.in_(
                    select(Question.id).where(Question.questionnaire_id == questionnaire_id)
                )
            )
        )
    )


_FROZEN_QUESTIONNAIRE = {"version", "name"}  # is_active may change: retiring a version is allowed


@event.listens_for(Session, "before_flush")
def _refuse_edits_to_answered(session: Session, _flush_context, _instances) -> None:
    """Raise QuestionnaireLocked when an answered questionnaire or its questions would change."""
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, Question):
            qid = obj.questionnaire_id
            changed = obj in session.deleted or session.is_modified(obj, include_collections=False)
        elif isinstance(obj, Questionnaire):
            qid = obj.id
            state = db.inspect(obj)
            changed = obj in session.deleted or any(
                state.attrs[name].history.has_changes() for name in _FROZEN_QUESTIONNAIRE
            )
        else:
            continue
        if changed and qid is not None and has_answers(qid, session):
            raise QuestionnaireLocked(
                f"questionnaire {qid} has answers and cannot be edited; create a new version"
            )
    for obj in session.new:
        if not isinstance(obj, Question):
            continue
        qid = obj.questionnaire_id or (obj.questionnaire.id if obj.questionnaire else None)
        if qid is not None and has_answers(qid, session):
            raise QuestionnaireLocked(
                f"questionnaire {qid} has answers; add questions to a new version"
            )


QUESTION_PREFIX = "q_"  # a question's form field is named by this and its code (survey/form.html)


@dataclass(frozen=True)
class QuestionInfo:
    """A question as the survey page needs it, detached from the session."""

    id: int
    code: str
    dimension: Dimension
    kind: QuestionKind
    text_vi: str
    text_en: str
    position: int
    is_required: bool

    def text(self, language: str) -> str:
        """The question's text in a language ('vi' or 'en')."""
        return self.text_en if language == "en" else self.text_vi


@dataclass(frozen=True)
class QuestionnaireSnapshot:
    """An immutable copy of one questionnaire version, safe to share between requests."""

    id: int
    version: int
    questions: tuple[QuestionInfo, ...]

    def question(self, code: str) -> QuestionInfo | None:
        """The question with this code, or None."""
        return self.by_code.get(code)

    @cached_property
    def by_code(self) -> dict[str, QuestionInfo]:
        """The questions by code (built once per snapshot; snapshots are shared and cached)."""
        return {q.code: q for q in self.questions}

    @cached_property
    def by_field(self) -> dict[str, QuestionInfo]:
        """The questions by the name of their form field."""
        return {QUESTION_PREFIX + q.code: q for q in self.questions}


_snapshot_cache: dict[str, tuple[float, QuestionnaireSnapshot]] = {}
SNAPSHOT_TTL = 30.0  # seconds before a newly published version reaches every process


def current_snapshot() -> QuestionnaireSnapshot:
    """The current questionnaire as a snapshot, cached per process for SNAPSHOT_TTL seconds.

    Answered versions never change, so a cached snapshot is never wrong, at most superseded by a
    newer version for a few seconds. Creates the default questionnaire if there is none.
    """
    key = str(db.engine.url)
    cached = _snapshot_cache.get(key)
    if cached and time.monotonic() - cached[0] < SNAPSHOT_TTL:
        return cached[1]
    questionnaire = current_questionnaire()
    if questionnaire is None:
        questionnaire = ensure_default_questionnaire()
        db.session.commit()
    snapshot = QuestionnaireSnapshot(
        id=questionnaire.id,
        version=questionnaire.version,
        questions=tuple(
            QuestionInfo(
                q.id, q.code, q.dimension, q.kind, q.text_vi, q.text_en, q.position, q.is_required
            )
            for q in questionnaire.questions
        ),
    )
    _snapshot_cache[key] = (time.monotonic(), snapshot)
    return snapshot


def clear_snapshot_cache() -> None:
    """Forget cached snapshots (after publishing a new version in this process, and in tests)."""
    _snapshot_cache.clear()
