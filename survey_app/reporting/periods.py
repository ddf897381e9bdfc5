"""Report periods: local dates in the configured TIMEZONE, their UTC bounds, local days in SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Date, cast, func, literal_column


def zone() -> ZoneInfo:
    """The configured local time zone (Asia/Ho_Chi_Minh by default)."""
    return ZoneInfo(current_app.config.get("TIMEZONE", "Asia/Ho_Chi_Minh"))


def local_today(now: datetime | None = None) -> date:
    """Today's local date."""
    return (now or datetime.now(UTC)).astimezone(zone()).date()


def day_start(day: date) -> datetime:
    """The UTC instant at which a local day begins."""
    return datetime.combine(day, time(0), tzinfo=zone()).astimezone(UTC)


@dataclass(frozen=True)
class Period:
    """Local days ``start`` to ``end``, both included."""

    start: date
    end: date

    def __post_init__(self):
        if self.end < self.start:
            raise ValueError("the period ends before it starts")

    @property
    def days(self) -> int:
        """How many days the period has."""
        return (self.end - self.start).days + 1

    @property
    def utc_bounds(self) -> tuple[datetime, datetime]:
        """[start 00:00 local, end + 1 00:00 local) in UTC."""
        return day_start(self.start), day_start(self.end + timedelta(days=1))

    def previous(self) -> Period:
        """The period of equal length that ends the day before this one starts."""
        end = self.start - timedelta(days=1)
        return Period(end - timedelta(days=self.days - 1), end)

    def split(self, today: date) -> tuple[Period | None, Period | None]:
        """(days before today, from rollup; today or later, read live); either may be None."""
        past = (
            Period(self.start, min(self.end, today - timedelta(days=1)))
            if self.start < today
            else None
        )
        live = Period(max(self.start, today), self.end) if self.end >= today else None
        return past, live

    def as_dict(self) -> dict:
        """ISO dates and the length, for answers and exports."""
        return {"from": self.start.isoformat(), "to": self.end.isoformat(), "days": self.days}


def local_day(column, dialect: str):
    """SQL for the local date of a UTC timestamp column.

    PostgreSQL converts with the zone's rules; SQLite (development) adds the zone's current UTC
    offset, which is exact for zones without daylight saving time such as Vietnam's.
    """
    if dialect == "postgresql":
        return cast(func.timezone(zone().key, column), Date)
    offset = int(datetime.now(UTC).astimezone(zone()).utcoffset().total_seconds())
    return func.date(column, literal_column(f"'{offset:+d} seconds'"))
