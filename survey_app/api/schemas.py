"""Marshmallow schemas of the API: input and output kept apart (load() gives a service a dict)."""

from __future__ import annotations

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, pre_load, validate

from ..importers.csvcore import CONTROL_CHARACTERS


def printable(value: str) -> None:
    """No control characters in a code or a number: PostgreSQL text cannot even hold a NUL."""
    if CONTROL_CHARACTERS.search(value):
        raise ValidationError("Must not contain control characters.")


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
    received_at = fields.AwareDateTime(load_default=None, allow_none=True)
    due_at = fields.AwareDateTime(load_default=None, allow_none=True)
    returned_at = fields.AwareDateTime(load_default=None, allow_none=True)
    language = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(("vi", "en"))
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
    invitation = fields.String(allow_none=True)  # "queued" or why not, when decided now
    warnings = fields.List(fields.String())
    reason = fields.String(allow_none=True)  # for rejected: invalid | unknown_office | forbidden
    errors = fields.Dict(allow_none=True)  # field -> messages
