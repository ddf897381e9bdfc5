"""The office and counter of a survey URL: ORM objects for pages, cached plain values for POSTs."""

from __future__ import annotations

import time
from dataclasses import dataclass

from flask import current_app, has_app_context
from flask_babel import gettext as _
from sqlalchemy import bindparam, event, select
from sqlalchemy.orm import Session

from ..errors import friendly_abort
from ..extensions import db
from ..models import Counter, Office


@dataclass(frozen=True)
class OfficeRef:
    """What a submission needs of its office, without loading the ORM object."""

    id: int
    code: str
    name: str


@dataclass(frozen=True)
class CounterRef:
    """What a submission needs of its counter."""

    id: int
    code: str
    name: str


_ON_COUNTER = (
    (Counter.office_id == Office.id) & (Counter.code == bindparam("counter")) & (Counter.is_active)
)
_FULL_TARGET = (
    select(Office, Counter)
    .outerjoin(Counter, _ON_COUNTER)
    .where(Office.code == bindparam("office"), Office.is_active)
)
_LIGHT_TARGET = (
    select(Office.id, Office.code, Office.name, Counter.id, Counter.code, Counter.name)
    .outerjoin(Counter, _ON_COUNTER)
    .where(Office.code == bindparam("office"), Office.is_active)
)


def office_and_counter(office_code: str, counter_code: str | None, *, light: bool = False):
    """The active office and counter of a QR URL, in one query; a friendly 404 otherwise.

    `light` gives plain OfficeRef/CounterRef values for the submission path, which needs no
    relationships, from a short per-process cache; pages that render the form get ORM objects.
    """
    if light:
        return _light_target(office_code, counter_code)
    params = {"office": office_code, "counter": counter_code or ""}
    row = db.session.execute(_FULL_TARGET, params).first()
    if row is None:
        friendly_abort(404, _("We could not find this office. Please check the QR poster."))
    office, counter = row
    if counter_code is not None and counter is None:
        friendly_abort(404, _("We could not find this counter. Please check the QR poster."))
    return office, counter


TARGET_TTL = 30.0  # seconds a worker may go on accepting a poster's office after it is closed
TARGETS = "mscore.survey_targets"  # app.extensions key: {(office, counter): (time, refs)}


def _light_target(office_code: str, counter_code: str | None):
    """OfficeRef and CounterRef of a QR URL. Found ones are kept TARGET_TTL seconds per process
    (changes made in this process clear them at once); unknown codes always ask the database."""
    cache = current_app.extensions.setdefault(TARGETS, {})
    key = (office_code, counter_code)
    hit = cache.get(key)
    if hit is not None and time.monotonic() - hit[0] < TARGET_TTL:
        return hit[1]
    params = {"office": office_code, "counter": counter_code or ""}
    # plain columns: run on the connection, without the ORM's execution machinery
    row = db.session.connection().execute(_LIGHT_TARGET, params).first()
    if row is None:
        friendly_abort(404, _("We could not find this office. Please check the QR poster."))
    office = OfficeRef(*row[:3])
    counter = CounterRef(*row[3:]) if row[3] is not None else None
    if counter_code is not None and counter is None:
        friendly_abort(404, _("We could not find this counter. Please check the QR poster."))
    if len(cache) >= 10_000:  # every poster of a province fits; never grows without bound
        cache.clear()
    cache[key] = (time.monotonic(), (office, counter))
    return office, counter


def forget_targets() -> None:
    """Drop this process's cached offices and counters (one was removed behind its back)."""
    current_app.extensions.get(TARGETS, {}).clear()


@event.listens_for(Session, "after_flush")
def _forget_changed_targets(session: Session, _context) -> None:
    """An office or counter changed in this process: its submissions see it at once."""
    if not has_app_context() or TARGETS not in current_app.extensions:
        return
    if any(
        isinstance(obj, (Office, Counter))
        for obj in (*session.new, *session.dirty, *session.deleted)
    ):
        current_app.extensions[TARGETS].clear()
