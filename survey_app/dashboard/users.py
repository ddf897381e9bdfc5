"""Officials' accounts: creating one (the CLI), and the demo's one account per role."""

from __future__ import annotations

import secrets

from sqlalchemy import select

from ..extensions import db
from ..models import Office, Role, User
from .auth import hash_password

DEMO_USERS = (
    (Role.ADMIN, "admin@demo.mscore.vn", "Quản trị (demo)", None),
    (Role.ANALYST, "analyst@demo.mscore.vn", "Chuyên viên Sở Nội vụ (demo)", None),
    (Role.OFFICE_MANAGER, "manager@demo.mscore.vn", "Trưởng bộ phận một cửa (demo)", "DONGHA"),
)


class UserError(ValueError):
    """An account that cannot be made; ``param`` names the option at fault."""

    def __init__(self, message: str, param: str):
        super().__init__(message)
        self.param = param


def create_user(email: str, name: str, role: str, office_code: str | None, password: str) -> User:
    """Add an official (flush only)."""
    office = None
    if office_code:
        office = db.session.scalar(select(Office).where(Office.code == office_code))
        if office is None:
            raise UserError(f"no office with code {office_code!r}", "--office")
    if role == Role.OFFICE_MANAGER and office is None:
        raise UserError("an office manager needs --office", "--office")
    email = email.strip().lower()
    if db.session.scalar(select(User).where(User.email == email)):
        raise UserError(f"a user with email {email!r} exists", "--email")
    user = User(
        email=email,
        name=name,
        role=Role(role),
        office=office,
        password_hash=hash_password(password),
    )
    db.session.add(user)
    db.session.flush()
    return user


def reset_demo_users() -> list[tuple[str, str, str, str | None]]:
    """Create the demo officials or give them new random passwords; (role, email, password,
    office code) each (flush only)."""
    out = []
    for role, email, name, office_code in DEMO_USERS:
        office = (
            db.session.scalar(select(Office).where(Office.code == office_code))
            if office_code
            else None
        )
        if office_code and office is None:  # a province without the demo's offices
            office = db.session.scalars(select(Office).order_by(Office.id)).first()
        password = secrets.token_urlsafe(12)
        user = db.session.scalar(select(User).where(User.email == email))
        if user is None:
            user = User(email=email, name=name, role=role)
            db.session.add(user)
        user.office = office
        user.is_enabled = True
        user.password_hash = hash_password(password)
        out.append((str(role), email, password, office.code if office else None))
    db.session.flush()
    return out
