"""Officials who sign in, and API tokens for machine clients."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db, login_manager
from .types import UTCDateTime, str_enum, utcnow


class Role(enum.StrEnum):
    """What an official may see: admins everything, analysts all reports, managers their offices."""

    ADMIN = "admin"
    ANALYST = "analyst"
    OFFICE_MANAGER = "office_manager"


class User(UserMixin, db.Model):
    """An official with a role and, for office managers, the office (and its descendants) in
    scope."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(str_enum(Role, "role"))
    office_id: Mapped[int | None] = mapped_column(ForeignKey("offices.id"))
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    office = relationship("Office")

    @property
    def is_active(self) -> bool:  # Flask-Login asks this
        return self.is_enabled


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The signed-in official of a session, if still enabled."""
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.is_enabled else None


class ApiToken(db.Model):
    """A bearer token for a machine client; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(255))  # space-separated
    office_id: Mapped[int | None] = mapped_column(ForeignKey("offices.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    office = relationship("Office")

    def has_scope(self, scope: str) -> bool:
        """Whether this token carries a scope."""
        return scope in self.scopes.split()
