"""Dossiers (hồ sơ) from the one-stop software, and the SMS invitations, conversations and opt-outs
that follow them."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, str_enum, utcnow


class PhoneStatus(enum.StrEnum):
    """What normalisation made of the phone number a dossier came with."""

    MOBILE = "mobile"  # a valid mobile number: may be invited
    NOT_MOBILE = "not_mobile"  # valid but a landline or similar: never invited
    INVALID = "invalid"
    MISSING = "missing"


class Dossier(db.Model):
    """A citizen's dossier at an office, created by the one-stop software (API or CSV)."""

    __tablename__ = "dossiers"
    __table_args__ = (UniqueConstraint("office_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id"))
    # As the one-stop software sent it; an unknown code is kept, with service_id left empty.
    service_code: Mapped[str | None] = mapped_column(String(64))
    phone_encrypted: Mapped[str | None] = mapped_column(Text)
    phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    phone_status: Mapped[PhoneStatus] = mapped_column(
        str_enum(PhoneStatus, "phone_status"), default=PhoneStatus.MISSING
    )
    # Law 91/2025/QH15: the citizen agreed to be contacted for feedback (no consent, no
    # invitation); cleared with the phone number by a purge or an erasure
    contact_consent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    office = relationship("Office")
    service = relationship("Service")
    invitation: Mapped[Invitation | None] = relationship(back_populates="dossier")

    def __repr__(self) -> str:
        return f"<Dossier {self.code} of office {self.office_id}>"


class InvitationStatus(enum.StrEnum):
    """States of an SMS invitation; the invitations table is the outbox.

    queued ──claim──▶ sending ──▶ sent ──▶ delivered ──reply──▶ answered
       ▲                 │  │        └──▶ failed (undelivered)      │
       └──transient──────┘  └──permanent──▶ failed         expired ◀┘ (no reply in time)
    any state ──STOP / 21610──▶ opted_out
    """

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    ANSWERED = "answered"
    EXPIRED = "expired"
    OPTED_OUT = "opted_out"


class SmsMode(enum.StrEnum):
    """How an invitation asks for the rating (SMS_MODE): by replies to the text, or by a personal
    link to the web form (where the sender cannot receive replies, as in Vietnam)."""

    REPLY = "reply"
    LINK = "link"


_S = InvitationStatus
#: The allowed moves of InvitationStatus (see its diagram); anything else is ignored.
INVITATION_TRANSITIONS: dict[InvitationStatus, set[InvitationStatus]] = {
    _S.QUEUED: {_S.SENDING, _S.FAILED, _S.OPTED_OUT},
    _S.SENDING: {_S.QUEUED, _S.SENT, _S.DELIVERED, _S.FAILED, _S.ANSWERED, _S.OPTED_OUT},
    _S.SENT: {_S.DELIVERED, _S.FAILED, _S.ANSWERED, _S.EXPIRED, _S.OPTED_OUT},
    _S.DELIVERED: {_S.ANSWERED, _S.FAILED, _S.EXPIRED, _S.OPTED_OUT},
    _S.FAILED: {_S.DELIVERED, _S.ANSWERED, _S.OPTED_OUT},  # a late receipt or a reply proves it
    _S.ANSWERED: {_S.OPTED_OUT},
    _S.EXPIRED: {_S.OPTED_OUT},
    _S.OPTED_OUT: set(),
}


class Invitation(db.Model):
    """One SMS survey invitation for a returned dossier, with the probability it was drawn with."""

    __tablename__ = "invitations"
    __table_args__ = (
        CheckConstraint(
            "sampling_probability > 0 AND sampling_probability <= 1", name="probability_range"
        ),
        CheckConstraint("attempts >= 0", name="attempts_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), unique=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    # Emptied when the dossier's contact data are purged or erased (privacy.py)
    phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    sampling_probability: Mapped[float] = mapped_column(Float)
    status: Mapped[InvitationStatus] = mapped_column(
        str_enum(InvitationStatus, "invitation_status"), default=InvitationStatus.QUEUED
    )
    language: Mapped[str] = mapped_column(String(5), default="vi")
    # The mode of the text last built for it: set by the SMS worker when it claims the send.
    mode: Mapped[SmsMode | None] = mapped_column(str_enum(SmsMode, "sms_mode"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    provider_message_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    error_code: Mapped[str | None] = mapped_column(String(32))
    error_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    dossier: Mapped[Dossier] = relationship(back_populates="invitation")

    def move_to(self, status: InvitationStatus) -> bool:
        """Change the status if the diagram allows it; whether it changed."""
        if status not in INVITATION_TRANSITIONS[InvitationStatus(self.status)]:
            return False
        self.status = status
        return True

    def __repr__(self) -> str:
        return f"<Invitation {self.id} {self.status}>"


class ConversationStatus(enum.StrEnum):
    """States of an SMS conversation: active ──▶ completed | ended (gave up) | expired."""

    ACTIVE = "active"
    COMPLETED = "completed"
    ENDED = "ended"
    EXPIRED = "expired"


class Conversation(db.Model):
    """The SMS question-and-answer state for one invitation."""

    __tablename__ = "conversations"
    __table_args__ = (
        CheckConstraint("retries >= 0", name="retries_nonnegative"),
        # A partitioned table is referred to by its whole key: the response's id and month.
        ForeignKeyConstraint(
            ["response_id", "response_submitted_at"], ["responses.id", "responses.submitted_at"]
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitations.id"), unique=True)
    response_id: Mapped[int | None] = mapped_column(Integer)
    response_submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)  # purged: empty
    step: Mapped[int] = mapped_column(Integer, default=0)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[ConversationStatus] = mapped_column(
        str_enum(ConversationStatus, "conversation_status"), default=ConversationStatus.ACTIVE
    )
    language: Mapped[str] = mapped_column(String(5), default="vi")
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    invitation: Mapped[Invitation] = relationship()


class SmsMessage(db.Model):
    """An SMS webhook delivery already processed, kept so a repeat with the same MessageSid is
    dropped."""

    __tablename__ = "sms_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_sid: Mapped[str] = mapped_column(String(64), unique=True)
    direction: Mapped[str] = mapped_column(String(8))  # "in" or "out"
    phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    conversation: Mapped[Conversation | None] = relationship()


class OptOut(db.Model):
    """A phone number (as its keyed hash) that asked not to be texted; START revokes it."""

    __tablename__ = "opt_outs"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone_hash: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(32))  # keyword or provider error that caused it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
