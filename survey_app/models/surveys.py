"""Versioned questionnaires and their questions. A questionnaire that has answers never changes."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, str_enum, utcnow


class Dimension(enum.StrEnum):
    """The SIPAS element a question measures, plus the non-element questions."""

    ACCESS = "access"  # Tiếp cận dịch vụ
    PROCEDURE = "procedure"  # Thủ tục hành chính
    CIVIL_SERVANT = "civil_servant"  # Công chức
    RESULT = "result"  # Kết quả
    FEEDBACK = "feedback"  # Tiếp nhận, xử lý góp ý, phản ánh, kiến nghị
    OVERALL = "overall"
    INTEGRITY = "integrity"  # payment outside the rules
    COMMENT = "comment"


#: The five SIPAS elements, in the order of the national form.
SIPAS_ELEMENTS = (
    Dimension.ACCESS,
    Dimension.PROCEDURE,
    Dimension.CIVIL_SERVANT,
    Dimension.RESULT,
    Dimension.FEEDBACK,
)


class QuestionKind(enum.StrEnum):
    """How a question is answered."""

    LIKERT5 = "likert5"  # 1 Rất không hài lòng … 5 Rất hài lòng
    YES_NO = "yes_no"  # 1 yes, 0 no
    CHOICE = "choice"
    TEXT = "text"


#: The integer values each kind accepts (text answers have none).
KIND_VALUES = {
    QuestionKind.LIKERT5: range(1, 6),
    QuestionKind.YES_NO: range(0, 2),
    QuestionKind.CHOICE: range(0, 6),
}


class Questionnaire(db.Model):
    """One version of the questionnaire; the active one with the highest version is current."""

    __tablename__ = "questionnaires"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    name: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    questions: Mapped[list[Question]] = relationship(
        back_populates="questionnaire", order_by="Question.position", cascade="all, delete-orphan"
    )

    def question(self, code: str) -> Question | None:
        """The question with this code, or None."""
        return next((q for q in self.questions if q.code == code), None)

    def __repr__(self) -> str:
        return f"<Questionnaire v{self.version}>"


class Question(db.Model):
    """A question of one questionnaire version, with its texts in Vietnamese and English."""

    __tablename__ = "questions"
    __table_args__ = (UniqueConstraint("questionnaire_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    questionnaire_id: Mapped[int] = mapped_column(
        ForeignKey("questionnaires.id", ondelete="CASCADE")
    )
    code: Mapped[str] = mapped_column(String(32))
    dimension: Mapped[Dimension] = mapped_column(str_enum(Dimension, "dimension"))
    kind: Mapped[QuestionKind] = mapped_column(str_enum(QuestionKind, "question_kind"))
    text_vi: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer)
    is_required: Mapped[bool] = mapped_column(Boolean, default=False)

    questionnaire: Mapped[Questionnaire] = relationship(back_populates="questions")

    def text(self, language: str) -> str:
        """The question's text in a language ('vi' or 'en')."""
        return self.text_en if language == "en" else self.text_vi

    def __repr__(self) -> str:
        return f"<Question {self.code} v{self.questionnaire_id}>"
