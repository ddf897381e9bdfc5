"""The dashboard pages, one per question an official asks, all with the period and group in the
URL: /dashboard (how are we doing, which offices stand out), /dashboard/funnel (which differences
are more than chance), /dashboard/trends (is it getting better), /dashboard/responses (are
citizens answering). Every table and chart downloads (CSV, Excel, SVG)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..extensions import db
from . import chart_views, charts, pages
from .auth import official_required
from .data import monthly_documents, official_scope, page_document, quiet_document
from .downloads import send_chart, send_table
from .filters import own_group, read_filters, scope_label

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")

PAGES = ("overview", "funnel", "trends", "responses")


def _overview(scope, filters) -> dict:
    doc = page_document(scope, filters)
    head = pages.headline(doc, filters.group)
    sort = request.args.get("sort", "rank")
    descending = request.args.get("dir") == "desc"
    rows = pages.office_rows(doc, filters.group, sort, descending)
    ranking, ranking_text = chart_views.ranking_chart(rows, head, filters)
    entry = pages.group_entry(doc, filters.group)
    elements, elements_text, elements_table = chart_views.elements_view(
        [(filters.group_label, entry)] if entry else [],
        _(
            "The five elements: %(group)s, %(period)s",
            group=filters.group_label,
            period=filters.label,
        ),
    )
    return {
        "doc": doc,
        "head": head,
        "withheld": None if head else pages.withheld_reason(doc, filters.group),
        "sort": sort,
        "descending": descending,
        "tables": {"offices": pages.office_table(rows, filters), "elements": elements_table},
        "charts": {
            "ranking": (ranking, ranking_text),
            "elements": (elements, elements_text) if entry else None,
        },
    }


def _funnel(scope, filters) -> dict:
    doc = page_document(scope, filters)
    head = pages.headline(doc, filters.group)
    rows = pages.office_rows(doc, filters.group)
    spec, text, table = chart_views.funnel_view(rows, head, filters)
    return {
        "doc": doc,
        "head": head,
        "tables": {"funnel": table},
        "charts": {"funnel": (spec, text) if spec else None},
        "text": text,
    }


def _trends(scope, filters) -> dict:
    months = monthly_documents(scope, filters.period, filters.group)
    series = [(filters.group_label, [(m, pages.group_entry(d, filters.group)) for m, d in months])]
    offices = sorted(
        {
            (e["code"], e["name"])
            for _m, d in months
            for e in d.get("offices") or []
            if e.get("group") == filters.group
        },
        key=lambda o: o[1].casefold(),
    )
    chosen = request.args.get("office")
    if chosen and chosen not in {c for c, _n in offices}:
        chosen = None
    if chosen:
        name = dict(offices)[chosen]
        series.append(
            (
                name,
                [
                    (m, next((e for e in d["offices"] if e["code"] == chosen), None))
                    for m, d in months
                ],
            )
        )
    spec, text, table = chart_views.trend_view(
        series, _("Satisfaction by month: %(group)s", group=filters.group_label)
    )
    return {
        "offices": offices,
        "chosen": chosen,
        "tables": {"trend": table},
        "charts": {"trend": (spec, text)},
    }


def _responses(scope, filters) -> dict:
    doc = page_document(scope, filters)
    quiet = quiet_document(scope, filters.group)
    rows = pages.response_rows(doc, quiet, filters.group)
    return {
        "doc": doc,
        "head": pages.headline(doc, filters.group),
        "quiet_count": sum(r["quiet"] for r in rows),
        "tables": {"responses": pages.response_table(rows, filters)},
        "charts": {},
    }


BUILDERS = {"overview": _overview, "funnel": _funnel, "trends": _trends, "responses": _responses}


def _page(name: str):
    scope = official_scope()
    filters = read_filters(scope, own_group())
    context = BUILDERS[name](scope, filters)
    db.session.commit()  # the rollup days the reports filled in
    return scope, filters, context


@bp.get("")
@official_required
def overview():
    """How are we doing: headline figures, the five elements, the offices ranked."""
    return _render("overview")


@bp.get("/<any(funnel, trends, responses):name>")
@official_required
def page(name: str):
    """One of the dashboard's other pages."""
    return _render(name)


def _render(name: str):
    scope, filters, context = _page(name)

    def download_url(item: str, fmt: str) -> str:
        return url_for("dashboard.download", name=name, item=item, fmt=fmt, **filters.args())

    def sort_url(key: str, direction: str) -> str:
        return url_for("dashboard.overview", **filters.args(sort=key, dir=direction))

    def office_url(code: str) -> str:
        args = {k: v for k, v in filters.args().items() if k != "group"}
        return url_for("offices.office_page", code=code, **args)

    return render_template(
        f"dashboard/{name}.html",
        page=name,
        filters=filters,
        scoped=scope is not None,
        scope_name=scope_label(scope is not None),
        user=current_user,
        svg=charts.svg,
        download_url=download_url,
        sort_url=sort_url,
        office_url=office_url,
        **context,
    ), (400 if filters.errors else 200)


@bp.get("/<any(overview, funnel, trends, responses):name>/<item>.<any(csv, xlsx, svg):fmt>")
@official_required
def download(name: str, item: str, fmt: str):
    """A page's table (CSV, Excel) or chart (SVG), for its period and group."""
    scope, filters, context = _page(name)
    slug = filters.slug if scope is None else f"{filters.slug}_{current_user.office.code}"
    if fmt == "svg":
        chart = context["charts"].get(item)
        if chart is None:
            abort(404)
        return send_chart(chart[0], f"{name}-{item}", slug)
    table = context["tables"].get(item)
    if table is None:
        abort(404)
    where = f"{filters.group_label}, {scope_label(scope is not None)}"
    return send_table(table, fmt, slug, filters.label, where)
