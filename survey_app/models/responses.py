"""Responses and their answers, one row per question (never a wide answer table)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
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


#: Marks a schema object that exists on SQLite only (see `only_on` in survey_app/partitions.py).
SQLITE_ONLY = {"only_on": "sqlite"}


class Response(db.Model):
    """One citizen's rating of one visit to an office.

    On PostgreSQL the table is partitioned by month of `submitted_at` (survey_app/partitions.py)
    and its primary key is (`id`, `submitted_at`), which the migration declares; the ORM's
    identity stays `id` (the sequence makes it unique). Rows referring to a response carry both
    columns. `submission_token` and `dossier_id` are unique through `response_keys`.
    """

    __tablename__ = "responses"
    __table_args__ = (
        # SQLite's key is `id` alone: the pair needs its own unique index there for the
        # foreign keys on (response_id, submitted_at) to refer to. PostgreSQL's key is the pair.
        UniqueConstraint("id", "submitted_at", info=SQLITE_ONLY),
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
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossiers.id"), index=True)
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
    submission_token: Mapped[str | None] = mapped_column(String(64))
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
    # The foreign key is (response_id, submitted_at): the ORM copies the response's time into
    # every answer appended here, as it copies its id.
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
        ForeignKeyConstraint(
            ["response_id", "submitted_at"],
            ["responses.id", "responses.submitted_at"],
            ondelete="CASCADE",
        ),
        # The comments of a period (exports, the responses API) without scanning every answer.
        Index(
            "ix_answers_comments",
            "response_id",
            postgresql_where=sql("text IS NOT NULL"),
            sqlite_where=sql("text IS NOT NULL"),
        ),
    )

    # One answer per question of a response: the pair is the key (no surrogate id to run out).
    # On PostgreSQL the key is (response_id, submitted_at, question_id), the partition key
    # included; the migration declares it.
    response_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    question_id: Mapped[int] = mapped_column(
        ForeignKey("questions.id"), primary_key=True, index=True
    )
    # The response's submitted_at: the month that partitions answers with their response.
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    value: Mapped[int | None] = mapped_column(SmallInteger)
    text: Mapped[str | None] = mapped_column(Text)

    response: Mapped[Response] = relationship(back_populates="answers")
    question = relationship("Question")


class ResponseKey(db.Model):
    """What must stay unique across all of a response's partitions: its form's submission token
    (a double tap stores one response) and its dossier (one response per dossier).

    A partitioned table's unique constraints must include the partition key, so these two live
    in this small unpartitioned table. A trigger on `responses` (migration 0100) writes the row
    in the statement that inserts the response, whoever inserts it (the web form's statement,
    the ORM, bulk loads): a duplicate fails that statement with an IntegrityError, as a unique
    constraint on `responses` did. Deleting the response deletes its row.
    """

    __tablename__ = "response_keys"
    __table_args__ = (
        ForeignKeyConstraint(
            ["response_id", "submitted_at"],
            ["responses.id", "responses.submitted_at"],
            ondelete="CASCADE",
        ),
    )

    response_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    submission_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    dossier_id: Mapped[int | None] = mapped_column(Integer, unique=True)
