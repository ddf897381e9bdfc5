"""Sign-in and sign-out for officials: Flask-Login sessions, scrypt password hashes, sign-in
attempts limited per address and per account, CSRF on every form (Flask-WTF)."""

from __future__ import annotations

import functools

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from ..errors import friendly_abort
from ..extensions import db, limiter
from ..i18n import _safe_next
from ..models import Role, User

bp = Blueprint("auth", __name__)

#: Compared against when the email is unknown, so that a wrong email costs the time of a wrong
#: password and the answer time does not tell which accounts exist.
_DUMMY_HASH = generate_password_hash("not a password of anyone")
MIN_PASSWORD_LENGTH = 12


class LoginForm(FlaskForm):
    """Email and password (CSRF token included by Flask-WTF)."""

    email = EmailField(
        _l("Email address"),
        validators=[DataRequired(_l("Enter your email address")), Length(max=255)],
    )
    password = PasswordField(
        _l("Password"), validators=[DataRequired(_l("Enter your password")), Length(max=1024)]
    )


def _account_key() -> str:
    """The rate-limit key of the account a sign-in attempt names (lower-cased email)."""
    return "login-account:" + (request.form.get("email") or "").strip().lower()[:255]


def _address_limit() -> str:
    return current_app.config.get("LOGIN_RATE_LIMIT_ADDRESS", "30 per 15 minutes")


def _account_limit() -> str:
    return current_app.config.get("LOGIN_RATE_LIMIT_ACCOUNT", "5 per 15 minutes")


def _failed(response) -> bool:
    """Only failed attempts count against the limits (a success redirects)."""
    return response.status_code != 302


def hash_password(password: str) -> str:
    """The stored hash of a password (Werkzeug's scrypt)."""
    return generate_password_hash(password, method="scrypt")


def check_credentials(email: str, password: str) -> User | None:
    """The enabled user with this email and password, else None (same work either way)."""
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    valid = check_password_hash(user.password_hash if user else _DUMMY_HASH, password)
    return user if valid and user is not None and user.is_enabled else None


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_address_limit, key_func=get_remote_address, methods=["POST"], deduct_when=_failed)
@limiter.limit(_account_limit, key_func=_account_key, methods=["POST"], deduct_when=_failed)
def login():
    """The sign-in form; a success goes on to the page asked for (on this site) or the
    dashboard."""
    form = LoginForm()
    failed = False
    if form.validate_on_submit():
        user = check_credentials(form.email.data, form.password.data)
        if user is not None:
            language = session.get("lang")
            session.clear()  # nothing from before the sign-in survives it (session fixation)
            if language:
                session["lang"] = language
            login_user(user)
            return redirect(
                _safe_next(request.args.get("next"))
                if request.args.get("next")
                else url_for("dashboard.overview")
            )
        failed = True
    errors = [str(e) for f in (form.email, form.password) for e in f.errors]
    if failed:
        errors.append(_("The email address or the password is not right."))
    status = 400 if request.method == "POST" else 200  # HEAD is GET without the body
    return render_template("dashboard/login.html", form=form, errors=errors), status


@bp.errorhandler(429)
def _too_many(_error):
    errors = [_("Too many sign-in attempts. Please wait 15 minutes and try again.")]
    return render_template("dashboard/login.html", form=LoginForm(), errors=errors), 429


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    """Sign out (POST, CSRF-checked); GET shows the button, so a link cannot sign anyone out."""
    if request.method == "POST":
        logout_user()
        language = session.get("lang")
        session.clear()
        if language:
            session["lang"] = language
        return render_template("dashboard/signed_out.html")
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return render_template("dashboard/logout.html")


def official_required(view):
    """Decorate a page: a signed-in official (else the sign-in page, which comes back here)."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        if current_user.role == Role.OFFICE_MANAGER and current_user.office_id is None:
            friendly_abort(403, _("Your account has no office yet. Ask an administrator."))
        return view(*args, **kwargs)

    return wrapped
