"""The OpenAPI 3 document at /api/openapi.json, built from the marshmallow schemas; /api/docs."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from marshmallow import Schema, fields, validate

from . import report_schemas as rs
from .schemas import DossierIn, DossierResultOut

docs_bp = Blueprint("api_docs", __name__, url_prefix="/api")

_TYPES = {
    fields.Integer: ("integer", None),
    fields.Float: ("number", None),
    fields.Boolean: ("boolean", None),
    fields.Date: ("string", "date"),
    fields.AwareDateTime: ("string", "date-time"),
    fields.DateTime: ("string", "date-time"),
    fields.String: ("string", None),
}


def field_schema(field: fields.Field) -> dict:
    """JSON Schema of one marshmallow field (types, enums, ranges, nullability)."""
    if isinstance(field, fields.Nested):
        nested = field.nested if isinstance(field.nested, type) else type(field.nested)
        out = {"$ref": f"#/components/schemas/{nested.__name__}"}
    elif isinstance(field, fields.List):
        out = {"type": "array", "items": field_schema(field.inner)}
    elif isinstance(field, fields.Dict):
        out = {"type": "object"}
        if field.value_field is not None:
            out["additionalProperties"] = field_schema(field.value_field)
    else:
        out = {}
        for kind, (name, fmt) in _TYPES.items():
            if isinstance(field, kind):
                out = {"type": name, **({"format": fmt} if fmt else {})}
                break
    for v in field.validators:
        if isinstance(v, validate.OneOf):
            out["enum"] = list(v.choices)
        elif isinstance(v, validate.Range) and out.get("type") in ("integer", "number"):
            out.update({k: b for k, b in (("minimum", v.min), ("maximum", v.max)) if b is not None})
        elif isinstance(v, validate.Range):
            out["description"] = f"from {v.min} to {v.max}"
        elif isinstance(v, validate.Length):
            key = "Length" if out.get("type") == "string" else "Items"
            out.update({f"min{key}": v.min} if v.min is not None else {})
            out.update({f"max{key}": v.max} if v.max is not None else {})
    if field.allow_none:
        out = {"allOf": [out], "nullable": True} if "$ref" in out else {**out, "nullable": True}
    return out


def schema_object(schema: type[Schema]) -> dict:
    """JSON Schema of a marshmallow schema (an object)."""
    inst = schema()
    props = {f.data_key or name: field_schema(f) for name, f in inst.fields.items()}
    required = [f.data_key or n for n, f in inst.fields.items() if f.required]
    return {
        "type": "object",
        "description": (schema.__doc__ or "").strip(),
        "properties": props,
        **({"required": required} if required else {}),
    }


def query_parameters(schema: type[Schema]) -> list[dict]:
    """The query parameters of a GET from its input schema."""
    inst = schema()
    return [
        {
            "name": f.data_key or name,
            "in": "query",
            "required": bool(f.required),
            "schema": {k: v for k, v in field_schema(f).items() if k != "nullable"},
        }
        for name, f in inst.fields.items()
    ]


def _errors(*codes: int) -> dict:
    ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}}
    text = {
        400: "Bad request",
        401: "No or unknown token",
        403: "Forbidden (scope or office)",
        404: "Not found",
        415: "Not JSON",
        422: "Invalid parameters or body",
    }
    return {str(c): {"description": text[c], **ref} for c in codes}


def _get(summary: str, query, out, scope: str, codes=(400, 401, 403, 404, 422)) -> dict:
    ok = {
        "description": "OK",
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{out.__name__}"}}
        },
    }
    return {
        "get": {
            "summary": summary,
            "security": [{"bearer": [scope]}],
            "parameters": query_parameters(query) if query else [],
            "responses": {"200": ok, **_errors(*codes)},
        }
    }


def _conditional(path: dict) -> dict:
    """An ended period's report has an entity tag: If-None-Match with it gives 304."""
    operation = path["get"]
    operation["parameters"].append(
        {
            "name": "If-None-Match",
            "in": "header",
            "required": False,
            "description": "The ETag of an earlier answer: 304 if the report is unchanged "
            "(periods that have ended only)",
            "schema": {"type": "string"},
        }
    )
    operation["responses"]["304"] = {"description": "Not modified: the tagged report is current"}
    operation["responses"]["200"]["headers"] = {
        "ETag": {
            "description": "The report's tag (periods that have ended only)",
            "schema": {"type": "string"},
        }
    }
    return path


def spec() -> dict:
    """The OpenAPI 3.0 document of /api/v1."""
    components = [
        rs.ErrorOut,
        rs.SatisfactionReportOut,
        rs.PeriodOut,
        rs.QuestionOut,
        rs.OfficeReportOut,
        rs.GroupReportOut,
        rs.DisclosureOut,
        rs.EstimateOut,
        rs.BandOut,
        rs.EbOut,
        rs.ChangeOut,
        rs.SmsOut,
        rs.OfficeOut,
        rs.ResponsePageOut,
        rs.ResponseOut,
        rs.QuestionnaireOut,
        rs.ChoiceOut,
        DossierIn,
        DossierResultOut,
    ]
    schemas = {c.__name__: schema_object(c) for c in components}
    schemas["OfficeList"] = {
        "type": "object",
        "properties": {
            "offices": {"type": "array", "items": {"$ref": "#/components/schemas/OfficeOut"}}
        },
    }
    schemas["ResponsePageOut"]["properties"]["has_more"] = {"type": "boolean"}
    paths = {
        "/reports/satisfaction": _conditional(
            _get(
                "Satisfaction report of a period",
                rs.SatisfactionQueryIn,
                rs.SatisfactionReportOut,
                "reports:read",
            )
        ),
        "/offices": _get(
            "The office hierarchy in scope",
            None,
            type("OfficeList", (), {}),
            "reports:read",
            (401, 403),
        ),
        "/responses": _get(
            "Responses by cursor pages", rs.ResponsesQueryIn, rs.ResponsePageOut, "responses:read"
        ),
        "/questionnaires/current": _get(
            "The current questionnaire", None, rs.QuestionnaireOut, "reports:read", (401, 403, 404)
        ),
        "/dossiers": {
            "post": {
                "summary": "Create or update a dossier (or a list of up to 1,000)",
                "security": [{"bearer": ["dossiers:write"]}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "oneOf": [
                                    {"$ref": "#/components/schemas/DossierIn"},
                                    {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/DossierIn"},
                                    },
                                ]
                            }
                        }
                    },
                },
                "responses": {
                    "200": {"description": "Updated, or the results of a list"},
                    "201": {"description": "Created"},
                    **_errors(400, 401, 403, 415, 422),
                },
            }
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "mscore API",
            "version": "1",
            "description": "Citizen satisfaction with one-stop public services: dossier "
            "events in, reports and responses out. Shares are in 0–1.",
        },
        "servers": [{"url": current_app.config.get("PUBLIC_BASE_URL", "") + "/api/v1"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


@docs_bp.get("/openapi.json")
def openapi_json():
    """The OpenAPI document (public: it describes, it does not reveal data)."""
    return spec()


@docs_bp.get("/docs")
def docs_page():
    """A readable page of the API's endpoints, parameters and errors."""
    return render_template("api/docs.html", spec=spec())
