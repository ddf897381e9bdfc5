"""Responses and their answers, one row per question (never a wide answer table)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy import text as sql
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, str_enum, utcnow


class Channel(enum.StrEnum):
    """How a response reached mscore."""

    QR_WEB = "qr_web"  # the web form: a poster's QR code, or a receipt's rating link
    SMS = "sms"  # the SMS conversation (reply mode)
    KIOSK = "kiosk"  # a tablet enrolled at a counter (survey_app/kiosk/)
    SMS_LINK = "sms_link"  # the web form opened from the link of an SMS invitation (link mode)


#: Every channel's name, in the order of their small-integer codes in the rollup and reports
#: (new channels go at the end, so that stored codes keep their meaning).
CHANNELS = tuple(channel.value for channel in Channel)


class Integrity(enum.StrEnum):
    """Whether a response counts: flagged and excluded ones are left out of reports by default."""

    VALID = "valid"
    FLAGGED = "flagged"
    EXCLUDED = "excluded"


class Response(db.Model):
    """One citizen's rating of one visit to an office."""

    __tablename__ = "responses"
    __table_args__ = (
        Index("ix_responses_office_submitted", "office_id", "submitted_at"),
        Index("ix_responses_client_office_submitted", "client_hash", "office_id", "submitted_at"),
        Index("ix_responses_address_office_submitted", "address_hash", "office_id", "submitted_at"),
        # A kiosk's recent responses (its burst rules), on the few rows that have one
        Index(
            "ix_responses_kiosk_submitted",
            "kiosk_id",
            "submitted_at",
            postgresql_where=sql("kiosk_id IS NOT NULL"),
            sqlite_where=sql("kiosk_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"))
    counter_id: Mapped[int | None] = mapped_column(ForeignKey("counters.id"))
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id"))
    # A verified binding: the response came through the dossier's own rating link (receipt or
    # SMS) or its SMS conversation. One response per dossier.
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossiers.id"), unique=True)
    # An unverified claim: the code a citizen typed in the form, and the dossier it named when
    # the response arrived. Anyone can type any code, so a claim binds nothing and blocks nothing.
    claimed_dossier_code: Mapped[str | None] = mapped_column(String(64))
    claimed_dossier_id: Mapped[int | None] = mapped_column(
        ForeignKey("dossiers.id", ondelete="SET NULL"), index=True
    )
    questionnaire_id: Mapped[int] = mapped_column(ForeignKey("questionnaires.id"))
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "channel"))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the server stored it, where that is later than submitted_at: a kiosk's rating made
    # offline arrives hours after it was made. None means submitted_at. The responses API holds
    # back what was stored less than RESPONSES_SETTLE_SECONDS ago by this time, not the other.
    stored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    language: Mapped[str] = mapped_column(String(5), default="vi")
    integrity: Mapped[Integrity] = mapped_column(
        str_enum(Integrity, "integrity"), default=Integrity.VALID
    )
    integrity_reason: Mapped[str | None] = mapped_column(String(255))
    # Keyed hash of the device (QR) or phone (SMS): duplicate checks without keeping the raw value.
    client_hash: Mapped[str | None] = mapped_column(String(64))
    # Keyed hash of the address alone (QR): a burst from one address, whatever its browsers.
    address_hash: Mapped[str | None] = mapped_column(String(64))
    # Random token rendered into the form: a double tap or a refresh cannot make a second response.
    submission_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    is_partial: Mapped[bool] = mapped_column(Boolean, default=False)
    # The tablet that took a kiosk response (channel kiosk): its bursts, and its responses set
    # aside together if it turns out to have been misused.
    kiosk_id: Mapped[int | None] = mapped_column(ForeignKey("kiosks.id"))

    office = relationship("Office")
    counter = relationship("Counter")
    service = relationship("Service")
    dossier = relationship("Dossier", foreign_keys=[dossier_id])
    kiosk = relationship("Kiosk")
    questionnaire = relationship("Questionnaire")
    answers: Mapped[list[Answer]] = relationship(
        back_populates="response", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Response {self.id} {self.channel}>"


class Answer(db.Model):
    """The answer to one question: a small integer for scales and yes/no, text for comments."""

    __tablename__ = "answers"
    __table_args__ = (
        CheckConstraint("value IS NULL OR (value >= 0 AND value <= 5)", name="value_range"),
        CheckConstraint("value IS NOT NULL OR text IS NOT NULL", name="has_value"),
        # The comments of a period (exports, the responses API) without scanning every answer.
        Index(
            "ix_answers_comments",
            "response_id",
            postgresql_where=sql("text IS NOT NULL"),
            sqlite_where=sql("text IS NOT NULL"),
        ),
    )

    # One answer per question of a response: the pair is the key (no surrogate id to run out).
    response_id: Mapped[int] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True
    )
    question_id: Mapped[int] = mapped_column(
        ForeignKey("questions.id"), primary_key=True, index=True
    )
    value: Mapped[int | None] = mapped_column(SmallInteger)
    text: Mapped[str | None] = mapped_column(Text)

    response: Mapped[Response] = relationship(back_populates="answers")
    question = relationship("Question")
