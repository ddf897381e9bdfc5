"""Marshmallow schemas of the API: input and output kept apart (load() gives a service a dict)."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, pre_load, validate

from ..importers.csvcore import CONTROL_CHARACTERS, FALSE_WORDS, TRUE_WORDS

#: A lone surrogate (JSON allows "\ud800"): no UTF-8 encoding exists, so PostgreSQL cannot take it
SURROGATES = re.compile("[\ud800-\udfff]")
#: The times a dossier may carry (UTC): year 9999 with an offset overflows when converted
EARLIEST, LATEST = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)


def printable(value: str) -> None:
    """No control characters in a code or a number (PostgreSQL text cannot even hold a NUL) and no
    lone surrogate (it has no UTF-8 form)."""
    if CONTROL_CHARACTERS.search(value):
        raise ValidationError("Must not contain control characters.")
    if SURROGATES.search(value):
        raise ValidationError("Must be valid Unicode text (a lone surrogate is not).")


def plausible_time(value: datetime) -> None:
    """A dossier's time lies in 2000-2099 (UTC); further ones overflow date arithmetic."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise ValidationError("Must be a time from 2000-01-01 to 2099-12-31 (UTC).")


_UNPRINTABLE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
_LIMITS = {"office_code": 32, "code": 64, "service_code": 64}


def quick_dossier(values) -> dict | None:
    """DossierIn().load() of an event in its usual form (a JSON object or a CSV row), several
    times faster; None whenever the schema must judge (it then names the errors). A test compares
    both on valid and invalid events."""
    if not isinstance(values, dict):
        return None
    out = dict.fromkeys(DOSSIER_KEYS)
    for key, value in values.items():
        if key not in out:
            return None
        if value is None and key not in ("office_code", "code"):
            continue
        if key == "contact_consent" and isinstance(value, bool):
            out[key] = value
            continue
        if not isinstance(value, str) or _UNPRINTABLE.search(value):
            return None
        value = value.strip()
        if key in ("office_code", "code"):
            if not 0 < len(value) <= _LIMITS[key]:
                return None
            out[key] = value
        elif not value:
            continue
        elif key == "service_code" or key == "phone":
            if len(value) > _LIMITS.get(key, 32):
                return None
            out[key] = value
        elif key in ("received_at", "due_at", "returned_at"):
            try:
                moment = datetime.fromisoformat(value)
                plausible_time(moment)
            except (ValueError, ValidationError):
                return None
            if moment.tzinfo is None:
                return None
            out[key] = moment
        elif key == "language" and value in ("vi", "en"):
            out[key] = value
        elif key == "contact_consent":
            word = unicodedata.normalize("NFC", value).lower()
            if word not in TRUE_WORDS and word not in FALSE_WORDS:
                return None
            out[key] = word in TRUE_WORDS
        else:
            return None
    if out["office_code"] is None or out["code"] is None:
        return None
    return out


class DossierIn(Schema):
    """A dossier event from the one-stop software (DESIGN.md section 7)."""

    class Meta:
        unknown = RAISE

    office_code = fields.String(required=True, validate=[validate.Length(1, 32), printable])
    code = fields.String(required=True, validate=[validate.Length(1, 64), printable])
    service_code = fields.String(
        load_default=None, allow_none=True, validate=[validate.Length(1, 64), printable]
    )
    phone = fields.String(
        load_default=None, allow_none=True, validate=[validate.Length(max=32), printable]
    )
    received_at = fields.AwareDateTime(load_default=None, allow_none=True, validate=plausible_time)
    due_at = fields.AwareDateTime(load_default=None, allow_none=True, validate=plausible_time)
    returned_at = fields.AwareDateTime(load_default=None, allow_none=True, validate=plausible_time)
    language = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(("vi", "en"))
    )
    # Law 91/2025/QH15: whether the citizen agreed to be contacted for feedback. Absent: the
    # stored value is kept (a new dossier: no consent, so no invitation).
    contact_consent = fields.Boolean(
        load_default=None,
        allow_none=True,
        truthy={True, *TRUE_WORDS},
        falsy={False, *FALSE_WORDS},
    )

    @pre_load
    def _strip(self, data, **kwargs):
        """Strip strings; a blank optional value means absent (CSV cells are often blank)."""
        if not isinstance(data, dict):
            return data
        cleaned = {}
        for key, value in data.items():
            if isinstance(value, str):
                value = value.strip()
                if key == "contact_consent":  # CSV words: true/false, 1/0, yes/no, có/không
                    value = unicodedata.normalize("NFC", value).lower()
                if value == "" and key not in ("office_code", "code"):
                    value = None
            cleaned[key] = value
        return cleaned


class DossierResultOut(Schema):
    """What happened to one dossier of a request: never the phone number."""

    class Meta:
        unknown = EXCLUDE
        ordered = True

    index = fields.Integer()
    office_code = fields.String(allow_none=True)
    code = fields.String(allow_none=True)
    status = fields.String()  # created | updated | unchanged | rejected
    # When the returned time first arrives: "eligible" or a reason about this dossier alone
    invitation = fields.String(allow_none=True)
    rating_url = fields.String(allow_none=True)  # the receipt's personal rating link
    rating_qr_url = fields.String(allow_none=True)  # GET: its QR code (PNG)
    warnings = fields.List(fields.String())
    reason = fields.String(allow_none=True)  # for rejected: invalid | unknown_office | forbidden
    errors = fields.Dict(allow_none=True)  # field -> messages


DOSSIER_KEYS = tuple(DossierIn().fields)
