"""The daily rollup: cell counts per local day, derived from the raw responses (the truth).

A report over earlier days reads these tables; today is read live from the raw responses. Rows
have a grain: `day` is the first day of the day, calendar month or year they count, so a year's
report sums one row per key instead of 365.
`survey_app.reporting.rollup` fills, refreshes and rebuilds them. `service_id` 0 means "not
stated" (no foreign key: these are derived rows, and 0 keeps it in the primary key). Channel and
integrity are small-integer codes (their positions in CHANNELS and INTEGRITIES), and an answer
row holds the counts of all six values (n0 … n5) of its question: a fifth of the rows to read.
`rollup_patterns` counts respondents by which SIPAS element items they answered and were
satisfied with (bit masks over the questions' positions), what an index's variance needs; a
year's keys with many patterns hold `rollup_moments` instead, their respondents summed per key.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .dossiers import Invitation
from .responses import CHANNELS, Response  # noqa: F401  (channel codes: their positions)
from .types import UTCDateTime, utcnow

NOT_STATED = 0  # service_id of a response or dossier without a service
INTEGRITIES = ("valid", "flagged", "excluded")  # integrity codes: 0, 1, 2
VALUES = tuple(range(6))  # answer values (0/1 yes/no, 1–5 likert): columns n0 … n5
DAY, MONTH, YEAR = 0, 1, 2  # grains: a row counts one day, one calendar month or one year


class RollupAnswer(db.Model):
    """Answers per day × office × service × channel × integrity × sampling probability × question,
    one count per answer value."""

    __tablename__ = "rollup_answers"

    grain: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), primary_key=True)
    service_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    integrity: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    probability: Mapped[float] = mapped_column(Float, primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id"), primary_key=True)
    n0: Mapped[int] = mapped_column(Integer, default=0)
    n1: Mapped[int] = mapped_column(Integer, default=0)
    n2: Mapped[int] = mapped_column(Integer, default=0)
    n3: Mapped[int] = mapped_column(Integer, default=0)
    n4: Mapped[int] = mapped_column(Integer, default=0)
    n5: Mapped[int] = mapped_column(Integer, default=0)


class RollupResponse(db.Model):
    """Respondents per day × office × service × channel × integrity × sampling probability."""

    __tablename__ = "rollup_responses"

    grain: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), primary_key=True)
    service_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    integrity: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    probability: Mapped[float] = mapped_column(Float, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class RollupPattern(db.Model):
    """Respondents per day × office × service × channel × integrity × sampling probability ×
    questionnaire × pattern: the bit masks of the SIPAS element items (likert questions of the
    five elements, bit = the question's position) the respondent answered and rated 4 or 5."""

    __tablename__ = "rollup_patterns"

    grain: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), primary_key=True)
    service_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    integrity: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    probability: Mapped[float] = mapped_column(Float, primary_key=True)
    questionnaire_id: Mapped[int] = mapped_column(ForeignKey("questionnaires.id"), primary_key=True)
    answered: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    satisfied: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class RollupMoment(db.Model):
    """A year's respondents per office × service × channel × integrity × sampling probability ×
    questionnaire, summed for the indices' variance (analysis.moments): ``items`` is the bit mask
    of the positions of the questionnaire's SIPAS element items (K of them, ascending), ``count``
    the respondents who answered at least one, and ``sums`` little-endian int32s: per element (in
    SIPAS_ELEMENTS' order) the respondents who answered one of its items, then the 2K(2K+1)/2
    sums of products of the answered and satisfied indicators (analysis.moments.pairs).

    A year's patterns are nearly one row per respondent with the real questionnaire; its moments
    are one row per key, whatever the respondents. A key has either, never both
    (reporting/year_moments.py chooses the smaller)."""

    __tablename__ = "rollup_moments"

    grain: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), primary_key=True)
    service_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    integrity: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    probability: Mapped[float] = mapped_column(Float, primary_key=True)
    questionnaire_id: Mapped[int] = mapped_column(ForeignKey("questionnaires.id"), primary_key=True)
    items: Mapped[int] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(Integer)
    sums: Mapped[bytes] = mapped_column(LargeBinary)


class RollupDossier(db.Model):
    """Dossiers returned (by returned_at's day) and SMS invitations sent (by sent_at's day), with
    those sent in link mode and, per mode, those answered (by the day they were sent)."""

    __tablename__ = "rollup_dossiers"

    grain: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), primary_key=True)
    service_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    returned: Mapped[int] = mapped_column(Integer, default=0)
    sms_sent: Mapped[int] = mapped_column(Integer, default=0)
    link_sent: Mapped[int] = mapped_column(Integer, default=0)
    reply_answered: Mapped[int] = mapped_column(Integer, default=0)
    link_answered: Mapped[int] = mapped_column(Integer, default=0)


class RollupDay(db.Model):
    """A day, month or year whose rollup rows are complete; deleting the row marks it stale."""

    __tablename__ = "rollup_days"

    grain: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    rolled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReportText(db.Model):
    """A report API text of an ended period, stored under its tag (reporting/kept.py): every
    process, and each one started later, answers the same request without computing it."""

    __tablename__ = "report_texts"

    tag: Mapped[str] = mapped_column(String(40), primary_key=True)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(BigInteger)  # len(body): the store's limit adds them up
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


# Reading one day (the rollup) or today (live) over all offices needs these time indexes on the
# raw tables; the composite (office_id, submitted_at) index cannot serve an all-office range.
Index("ix_responses_submitted_at", Response.submitted_at)
Index("ix_invitations_sent_at", Invitation.sent_at)
