"""Monthly partitions of `responses` and `answers` on PostgreSQL (nothing to do on SQLite).

Both tables are partitioned by RANGE on `submitted_at` (migration 0100), one partition a month,
named `responses_p2026_12` and `answers_p2026_12`, beside a DEFAULT partition each that takes any
row outside the months created, so that no insert is ever refused. The months are local months
in the configured TIMEZONE (Asia/Ho_Chi_Minh by default): the months of the reports and of their
periods, so a month's report, its live part and its comments read one partition. Vietnam keeps no
daylight saving time: a month starts at 17:00 UTC on the last day of the month before.

`add_partitions` creates the coming months ahead of time (`flask mscore update-rollup` keeps
three ahead; `flask mscore add-partitions --months N`). A month whose rows already sit in DEFAULT
is not created (PostgreSQL would refuse it): those rows stay in DEFAULT, where they are read and
written like any other, only without pruning (docs/operations.md, "Partitions").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import text

#: The partitioned tables, parents first (answers refer to responses).
PARTITIONED = ("responses", "answers")
_PARTITION = re.compile(r"^(responses|answers)_(p\d{4}_\d{2}|default)$")


def month_start(day: date) -> date:
    """The first day of the day's month."""
    return day.replace(day=1)


def next_month(month: date) -> date:
    """The first day of the following month."""
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def month_bounds(month: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants at which the local month begins and the next one begins."""

    def start(day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)

    return start(month_start(month)), start(next_month(month_start(month)))


def partition_name(table: str, month: date) -> str:
    """The name of a table's partition for a month: responses_p2026_12."""
    return f"{table}_p{month.year:04d}_{month.month:02d}"


def is_partition(name: str) -> bool:
    """Whether a table name is one of the partitions (not a table of the models)."""
    return _PARTITION.match(name) is not None


def include_object(dialect_name: str):
    """An Alembic `include_object` for comparing the models with a database of this dialect:
    leave out the partitions (and the foreign keys PostgreSQL keeps to each of them beside
    the one to the partitioned table), and the models' objects marked for another dialect only
    (`info={"only_on": "sqlite"}`)."""

    def include(obj, name, type_, reflected, compare_to) -> bool:
        if type_ == "table" and name and is_partition(name):
            return False
        if type_ == "foreign_key_constraint" and is_partition(obj.referred_table.name):
            return False
        only_on = getattr(obj, "info", {}).get("only_on") if not reflected else None
        if only_on is None and compare_to is not None:
            only_on = getattr(compare_to, "info", {}).get("only_on")
        return only_on is None or only_on == dialect_name

    return include


@dataclass
class Added:
    """What add_partitions did: partitions created, and months left in DEFAULT."""

    created: list[str] = field(default_factory=list)
    in_default: list[date] = field(default_factory=list)


def partitions(connection, table: str) -> set[str]:
    """The names of a partitioned table's partitions."""
    return set(
        connection.scalars(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = CAST(:table AS regclass)"
            ),
            {"table": table},
        )
    )


def _has_default_rows(connection, lower: datetime, upper: datetime) -> bool:
    return connection.scalar(
        text(
            "SELECT EXISTS (SELECT 1 FROM responses_default "
            "WHERE submitted_at >= :lower AND submitted_at < :upper)"
        ),
        {"lower": lower, "upper": upper},
    )


def add_partitions(connection, first: date, months: int, zone: ZoneInfo) -> Added:
    """Create the partitions of `responses` and `answers` for `months` months from `first`'s
    month where they are missing; idempotent. On SQLite, nothing."""
    added = Added()
    if connection.dialect.name != "postgresql":
        return added
    existing = partitions(connection, "responses") | partitions(connection, "answers")
    month = month_start(first)
    for _ in range(months):
        lower, upper = month_bounds(month, zone)
        names = [partition_name(table, month) for table in PARTITIONED]
        if not set(names) <= existing:
            if _has_default_rows(connection, lower, upper):
                added.in_default.append(month)
            else:
                for table, name in zip(PARTITIONED, names, strict=True):
                    if name not in existing:
                        # DDL takes no parameters; the bounds are our own datetimes
                        connection.execute(
                            text(
                                f"CREATE TABLE {name} PARTITION OF {table} FOR VALUES "
                                f"FROM ('{lower.isoformat()}') TO ('{upper.isoformat()}')"
                            )
                        )
                        added.created.append(name)
        month = next_month(month)
    return added


def add_coming_partitions(months: int = 3) -> Added:
    """Create this month's partitions and the next `months` months' in the app's database, in
    the session's transaction (the caller commits)."""
    from .extensions import db
    from .reporting.periods import local_today, zone

    return add_partitions(db.session.connection(), local_today(), months + 1, zone())
