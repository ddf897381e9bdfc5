"""Officials' kiosk pages at /kiosks/: enrol a tablet for a counter, see the kiosks, give a new
pairing code, revoke one.

Who: an admin (every office) or an office manager for the offices in their scope (their office
and the offices under it); analysts read reports and enrol nothing. Signed-in officials only
(Flask-Login's session); the sign-in page is the officials' web app's. Each form's CSRF token is
checked after who may post it, so that a stranger is refused as such (401/403) and never learns
more from a 400.

A pairing code is shown once, on the kiosk's page right after it was made (kept in the session
for that one page: only its keyed hash is stored).
"""

from __future__ import annotations

import functools

from flask import redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy import select
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length

from ..api.auth import subtree
from ..errors import friendly_abort
from ..extensions import csrf, db
from ..i18n import local_time
from ..models import Counter, Kiosk, Office, Role
from ..qr import qr_svg
from ..services.kiosks import MAX_NAME, KioskError, Pairing, enrol, issue_pairing, revoke
from . import admin_bp as bp

SHOWN_ONCE = "kiosk_pairing"  # session key: the pairing just issued, for the next page only

# Every form here has its CSRF token checked by Flask-WTF's form, after the role check.
csrf.exempt(bp)


def manager_required(view):
    """Decorate a page: a signed-in admin, or an office manager with an office."""

    @login_required
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        allowed = current_user.role == Role.ADMIN or (
            current_user.role == Role.OFFICE_MANAGER and current_user.office_id is not None
        )
        if not allowed:
            friendly_abort(403, _("Only an office's manager or an administrator enrols kiosks."))
        return view(*args, **kwargs)

    return wrapped


def scope() -> set[int] | None:
    """The offices the signed-in official may enrol kiosks for (None: every office)."""
    return None if current_user.role == Role.ADMIN else subtree(current_user.office_id)


def actor() -> str:
    """The signed-in official, as the audit trail names them."""
    return f"user:{current_user.id}"


class EnrolForm(FlaskForm):
    """Where the tablet stands, and what to call it."""

    target = SelectField(
        _l("Counter"), validators=[DataRequired(_l("Choose where the tablet stands."))]
    )
    name = StringField(_l("Name of the tablet (optional)"), validators=[Length(max=MAX_NAME)])


class ActionForm(FlaskForm):
    """A button that changes a kiosk (its CSRF token only)."""


def _offices(visible: set[int] | None) -> list[Office]:
    query = select(Office).where(Office.is_active).order_by(Office.name)
    if visible is not None:
        query = query.where(Office.id.in_(sorted(visible)))
    return list(db.session.scalars(query))


def _choices(offices: list[Office]) -> dict[str, list[tuple[str, str]]]:
    """The enrolment form's places, by office: the office itself, then each open counter."""
    choices = {}
    for office in offices:
        places = [(f"o{office.id}", _("%(office)s (no counter)", office=office.name))]
        places += [(f"c{c.id}", c.name) for c in office.counters if c.is_active]
        choices[office.name] = places
    return choices


def _place(value: str) -> tuple[Office, Counter | None]:
    """The office and counter of a chosen place (one of the form's choices)."""
    kind, number = value[0], int(value[1:])
    if kind == "c":
        counter = db.session.get(Counter, number)
        return counter.office, counter
    return db.session.get(Office, number), None


def _kiosk(code: str) -> Kiosk:
    """The kiosk of a URL, if the official's scope holds it (404 / 403 otherwise)."""
    kiosk = db.session.scalar(select(Kiosk).where(Kiosk.code == code))
    if kiosk is None:
        friendly_abort(404, _("There is no kiosk with this code."))
    visible = scope()
    if visible is not None and kiosk.office_id not in visible:
        friendly_abort(403, _("This kiosk belongs to an office outside your scope."))
    return kiosk


def _show_once(pairing: Pairing) -> None:
    session[SHOWN_ONCE] = {
        "kiosk": pairing.kiosk.code,
        "code": pairing.display_code,
        "url": pairing.url,
        "expires_at": local_time(pairing.expires_at).strftime("%H:%M %d/%m/%Y"),
    }


@bp.route("/", methods=["GET", "POST"])
@manager_required
def index():
    """The kiosks in the official's scope, and the form that enrols a new one."""
    visible = scope()
    offices = _offices(visible)
    form = EnrolForm()
    form.target.choices = _choices(offices)
    error = None
    if form.validate_on_submit():
        office, counter = _place(form.target.data)
        try:
            pairing = enrol(office, counter, form.name.data, actor())
        except KioskError:  # closed since the page was shown
            error = _("This office or counter is no longer open.")
        else:
            db.session.commit()
            _show_once(pairing)
            return redirect(url_for("kiosk_admin.detail", code=pairing.kiosk.code), code=303)
    query = select(Kiosk).order_by(Kiosk.office_id, Kiosk.counter_id, Kiosk.id)
    if visible is not None:
        query = query.where(Kiosk.office_id.in_(sorted(visible)))
    errors = [str(e) for field in form for e in field.errors] + ([error] if error else [])
    page = render_template(
        "kiosk_admin/index.html", form=form, kiosks=db.session.scalars(query).all(), errors=errors
    )
    return page, 400 if errors else 200


@bp.get("/<code>")
@manager_required
def detail(code: str):
    """A kiosk: where it stands, its state, and the pairing code just issued (once)."""
    kiosk = _kiosk(code)
    shown = session.get(SHOWN_ONCE)
    pairing = None
    if shown and shown.get("kiosk") == kiosk.code:
        pairing = session.pop(SHOWN_ONCE)
        pairing["qr"] = Markup(qr_svg(pairing["url"], _("QR code of the enrolment link")))
    return render_template(
        "kiosk_admin/detail.html", kiosk=kiosk, pairing=pairing, form=ActionForm()
    )


def _checked_action(code: str) -> Kiosk:
    kiosk = _kiosk(code)
    if not ActionForm().validate_on_submit():
        friendly_abort(400, _("The form expired. Please open it again and resubmit."))
    return kiosk


@bp.post("/<code>/pairing")
@manager_required
def new_pairing(code: str):
    """A new pairing code for a kiosk (a new tablet, or one whose cookie was lost)."""
    kiosk = _checked_action(code)
    try:
        pairing = issue_pairing(kiosk, actor())
    except KioskError:
        friendly_abort(409, _("This kiosk is revoked: enrol a new one."))
    db.session.commit()
    _show_once(pairing)
    return redirect(url_for("kiosk_admin.detail", code=kiosk.code), code=303)


@bp.post("/<code>/revoke")
@manager_required
def revoke_kiosk(code: str):
    """Revoke a kiosk: its tablet takes no more ratings."""
    kiosk = _checked_action(code)
    revoke(kiosk, actor())
    db.session.commit()
    return redirect(url_for("kiosk_admin.detail", code=kiosk.code), code=303)
