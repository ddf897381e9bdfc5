"""Offices (one-stop shops) in their hierarchy, their counters, and the services they handle."""

from __future__ import annotations

import enum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import str_enum


class OfficeKind(enum.StrEnum):
    """What level of administration an office belongs to."""

    PROVINCE = "province"
    DEPARTMENT = "department"
    DISTRICT = "district"
    COMMUNE = "commune"
    OTHER = "other"


class RankingGroup(enum.StrEnum):
    """The ranking block ("khối") an office is compared within."""

    DEPARTMENTS = "departments"  # sở, ban, ngành
    DISTRICTS = "districts"  # huyện, thị xã, thành phố
    COMMUNES = "communes"  # xã, phường, thị trấn


office_services = Table(
    "office_services",
    db.metadata,
    Column("office_id", ForeignKey("offices.id", ondelete="CASCADE"), primary_key=True),
    Column("service_id", ForeignKey("services.id", ondelete="CASCADE"), primary_key=True),
)


class Office(db.Model):
    """A one-stop-shop office (bộ phận một cửa) that citizens rate."""

    __tablename__ = "offices"
    __table_args__ = (
        CheckConstraint(
            "sms_sampling_rate > 0 AND sms_sampling_rate <= 1", name="sampling_rate_range"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    name_en: Mapped[str | None] = mapped_column(String(255))
    kind: Mapped[OfficeKind] = mapped_column(str_enum(OfficeKind, "office_kind"))
    group: Mapped[RankingGroup | None] = mapped_column(
        "ranking_group", str_enum(RankingGroup, "ranking_group"), index=True
    )
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("offices.id"), index=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    sms_sampling_rate: Mapped[float] = mapped_column(Float, default=1.0)
    # What the thank-you page offers as the next step; an office without its own takes its
    # nearest parent's (the province's), then the deployment's (PROVINCE_HOTLINE, ...).
    hotline: Mapped[str | None] = mapped_column(String(32))
    complaint_route: Mapped[str | None] = mapped_column(String(500))

    parent: Mapped[Office | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Office]] = relationship(back_populates="parent")
    counters: Mapped[list[Counter]] = relationship(back_populates="office", order_by="Counter.code")
    services: Mapped[list[Service]] = relationship(
        secondary=office_services, order_by="Service.name"
    )

    def __repr__(self) -> str:
        return f"<Office {self.code}>"


class Counter(db.Model):
    """A counter (quầy) inside an office; it has its own QR poster."""

    __tablename__ = "counters"
    __table_args__ = (UniqueConstraint("office_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255))
    name_en: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    office: Mapped[Office] = relationship(back_populates="counters")

    def __repr__(self) -> str:
        return f"<Counter {self.code} of office {self.office_id}>"


class Service(db.Model):
    """An administrative procedure (thủ tục hành chính) in a field (lĩnh vực)."""

    __tablename__ = "services"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(500))
    name_en: Mapped[str | None] = mapped_column(String(500))
    field: Mapped[str] = mapped_column(String(255), index=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    def __repr__(self) -> str:
        return f"<Service {self.code}>"
