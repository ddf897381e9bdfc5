"""GET /reports/satisfaction.xlsx and .csv: the report as downloads, by API token or session."""

from __future__ import annotations

import io

from flask import Blueprint, Response, redirect, request, url_for
from flask_login import current_user
from marshmallow import fields, validate

from .api.auth import bearer_token
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


def _scope_name(query: dict, scope) -> str:
    """Whose offices a download holds, for its title."""
    if query["office"]:
        return f"đơn vị {query['office']} và các đơn vị trực thuộc"
    if scope is None:
        return "tất cả đơn vị"
    if current_user.is_authenticated and current_user.office is not None:
        return f"{current_user.office.name} và các đơn vị trực thuộc"
    return "các đơn vị trong phạm vi được xem"


@bp.errorhandler(QueryError)
def _query_error(error: QueryError):
    return error.response


@bp.get("/satisfaction.<any(xlsx, csv):fmt>")
def satisfaction_download(fmt: str):
    """The satisfaction report of a period as an Excel workbook or one view as CSV."""
    if (
        not bearer_token()
        and not current_user.is_authenticated
        and "text/html" in request.headers.get("Accept", "")
    ):  # a person following the link in a browser: sign in first, then the download
        return redirect(url_for("auth.login", next=request.full_path))
    scope = authenticate(REPORTS_READ)
    query = load_query(ExportQueryIn())
    params = report_params(query, scope)
    buffer = io.BytesIO()
    write_export(params, fmt, buffer, query["view"], _scope_name(query, scope))
    db.session.commit()
    period = f"{query['start'].isoformat()}_{query['end'].isoformat()}"
    suffix = "" if fmt == "xlsx" else f"-{query['view']}"
    name = f"mscore-hai-long-{period}{suffix}.{fmt}"
    return Response(
        buffer.getvalue(),
        mimetype=MIME[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
