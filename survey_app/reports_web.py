"""GET /reports/satisfaction.xlsx and .csv: the report as downloads, by API token or session."""

from __future__ import annotations

import io

from flask import Blueprint, Response
from marshmallow import fields, validate

from .api.report_schemas import SatisfactionQueryIn
from .api.reports import REPORTS_READ, QueryError, authenticate, load_query, report_params
from .exports import VIEWS, write_export
from .extensions import db

bp = Blueprint("reports", __name__, url_prefix="/reports")

MIME = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


class ExportQueryIn(SatisfactionQueryIn):
    """The API's report parameters, plus which view a CSV holds (an .xlsx holds them all)."""

    view = fields.String(validate=validate.OneOf(VIEWS), load_default="offices")


@bp.errorhandler(QueryError)
def _query_error(error: QueryError):
    return error.response


@bp.get("/satisfaction.<any(xlsx, csv):fmt>")
def satisfaction_download(fmt: str):
    """The satisfaction report of a period as an Excel workbook or one view as CSV."""
    scope = authenticate(REPORTS_READ)
    query = load_query(ExportQueryIn())
    params = report_params(query, scope)
    buffer = io.BytesIO()
    write_export(params, fmt, buffer, query["view"])
    db.session.commit()
    period = f"{query['start'].isoformat()}_{query['end'].isoformat()}"
    suffix = "" if fmt == "xlsx" else f"-{query['view']}"
    name = f"mscore-hai-long-{period}{suffix}.{fmt}"
    return Response(
        buffer.getvalue(),
        mimetype=MIME[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
