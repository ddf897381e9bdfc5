"""/offices/<code>: how one office is doing (elements, questions, services, counters, channels,
the monthly trend, SMS response rate, comments and reports of payments outside the rules), its
downloads and its one-page printable report (PDF)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..errors import friendly_abort
from ..extensions import db
from ..i18n import current_language, local_time
from ..models import Office
from ..reporting import NOT_GROUPED
from . import chart_views, charts, pages
from .auth import official_required
from .data import office_page_documents, official_scope
from .downloads import attachment, send_chart, send_table
from .feedback import counter_counts, feedback
from .filters import read_filters
from .tables import HIGH, INDEX, LOW, N_EFF, RELIABLE, RESPONSES, C, Table

bp = Blueprint("offices", __name__, url_prefix="/offices")


def _office(code: str, scope: set[int] | None) -> Office:
    office = db.session.scalar(select(Office).where(Office.code == code))
    if office is None:
        abort(404)
    if scope is not None and office.id not in scope:
        friendly_abort(403, _("This office is outside what your account may see."))
    return office


def _entry(doc: dict, code: str) -> dict | None:
    return next((e for e in doc.get("offices") or [] if e.get("code") == code), None)


def _question_table(doc: dict, entry: dict, title: str) -> Table:
    texts = {q["code"]: q for q in doc.get("questions") or []}
    rows = []
    language = current_language()
    for code, est in (entry.get("questions") or {}).items():
        q = texts.get(code, {})
        rows.append(
            {
                "element": str(
                    pages.DIMENSION_LABELS.get(q.get("dimension"), q.get("dimension", ""))
                ),
                "question": q.get(f"text_{language}") or q.get("text_vi") or code,
                "kind": q.get("kind"),
                "value": est.get("value"),
                "low": est.get("low"),
                "high": est.get("high"),
                "n": est.get("n"),
                "reliable": bool(est.get("reliable")),
                "payment": code == "extra_payment",
            }
        )
    return Table(
        "questions",
        title,
        [
            C("element", _l("Element")),
            C("question", _l("Question")),
            INDEX,
            LOW,
            HIGH,
            C("n", _l("Answers"), "int"),
            RELIABLE,
        ],
        rows,
        highlight="payment",
        notes=[
            _(
                "For the question on payments outside the rules the figure is the share who "
                "answered yes."
            )
        ],
    )


def _breakdown_table(doc: dict, code: str, name: str, title: str, label) -> Table:
    rows = []
    for r in (doc.get("breakdowns") or {}).get(name) or []:
        if r.get("office_code") != code:
            continue
        key = r.get("label") or _("Not stated")
        if name == "channels":
            key = str(pages.CHANNEL_LABELS.get(key, key))
        rows.append({**r, "label": key})
    return Table(
        name,
        title,
        [
            C("label", label),
            RESPONSES,
            C("value", _l("Share satisfied (overall question)"), "pct"),
            LOW,
            HIGH,
            N_EFF,
            RELIABLE,
        ],
        rows,
    )


def _context(code: str) -> dict:
    scope = official_scope()
    office = _office(code, scope)
    group = str(office.group) if office.group else NOT_GROUPED
    filters = read_filters(scope, group)
    filters.group = group
    doc, months = office_page_documents(scope, filters.period, group, code)
    entry = _entry(doc, code)
    if entry is None:
        abort(404)
    label = f"{office.name}, {filters.label}"
    head = pages.headline(doc, group)
    series = [(office.name, entry)] + (
        [(filters.group_label, pages.group_entry(doc, group))] if head else []
    )
    elements, elements_text, elements_table = chart_views.elements_view(
        series, _("The five elements: %(what)s", what=label)
    )
    trend_series = [(office.name, [(m, _entry(d, code)) for m, d in months])]
    if head:
        trend_series.append(
            (filters.group_label, [(m, pages.group_entry(d, group)) for m, d in months])
        )
    trend, trend_text, trend_table = chart_views.trend_view(
        trend_series, _("Satisfaction by month: %(office)s", office=office.name)
    )
    search = (request.args.get("q") or "").strip()[:200] or None
    comments, total = feedback(office.id, filters.period, search)
    db.session.commit()  # the rollup days the reports filled in
    for c in comments:
        c["at"] = local_time(c.pop("submitted_at"))
    counters = Table(
        "counters",
        _("Responses by counter: %(what)s", what=label),
        [C("code", _l("Code")), C("name", _l("Counter")), RESPONSES],
        counter_counts(office.id, filters.period, _("Not stated")),
    )
    tables = {
        "elements": elements_table,
        "questions": _question_table(doc, entry, _("Questions: %(what)s", what=label)),
        "services": _breakdown_table(
            doc, code, "services", _("By service: %(what)s", what=label), _l("Service")
        ),
        "channels": _breakdown_table(
            doc, code, "channels", _("By channel: %(what)s", what=label), _l("Channel")
        ),
        "counters": counters,
        "trend": trend_table,
        "comments": Table(
            "comments",
            _("Comments: %(what)s", what=label),
            [
                C("date", _l("Date")),
                C("channel", _l("Channel")),
                C("service", _l("Service")),
                C("rating", _l("Overall rating"), "int"),
                C("payment_reported", _l("Reported a payment outside the rules"), "bool"),
                C("text", _l("Comment")),
            ],
            [
                {
                    "date": f"{c['at']:%d/%m/%Y %H:%M}",
                    "channel": str(pages.CHANNEL_LABELS.get(str(c["channel"]), c["channel"])),
                    "service": c["service"],
                    "rating": c["rating"],
                    "payment_reported": c["payment"] == 1,
                    "text": c["text"],
                }
                for c in comments
            ],
            highlight="payment_reported",
        ),
    }
    return {
        "office": office,
        "entry": entry,
        "index": entry.get("index") or {},
        "head": head,
        "doc": doc,
        "filters": filters,
        "label": label,
        "search": search,
        "comments": comments,
        "comment_total": total,
        "tables": tables,
        "charts": {"elements": (elements, elements_text), "trend": (trend, trend_text)},
    }


@bp.get("/<code>")
@official_required
def office_page(code: str):
    """One office's page."""
    context = _context(code)
    filters = context["filters"]

    def download_url(item: str, fmt: str) -> str:
        args = {k: v for k, v in filters.args(q=context["search"]).items() if k != "group"}
        return url_for("offices.office_download", code=code, item=item, fmt=fmt, **args)

    status = 400 if filters.errors else 200
    return render_template(
        "dashboard/office.html",
        svg=charts.svg,
        page="office",
        download_url=download_url,
        scoped=False,
        **context,
    ), status


@bp.get("/<code>/<item>.<any(csv, xlsx, svg):fmt>")
@official_required
def office_download(code: str, item: str, fmt: str):
    """One of the office page's tables (CSV, Excel) or charts (SVG)."""
    context = _context(code)
    filters = context["filters"]
    slug = f"{code}_{filters.period.start.isoformat()}_{filters.period.end.isoformat()}"
    if fmt == "svg":
        chart = context["charts"].get(item)
        if chart is None:
            abort(404)
        return send_chart(chart[0], f"office-{item}", slug)
    table = context["tables"].get(item)
    if table is None:
        abort(404)
    return send_table(table, fmt, slug, filters.label, context["office"].name)


@bp.get("/<code>/report.pdf")
@official_required
def office_report(code: str):
    """The office's one-page printable report (A4, Vietnamese)."""
    from .pdf import office_pdf

    with force_locale("vi"):  # the printable report is in Vietnamese
        context = _context(code)
        body = office_pdf(context)
    filters = context["filters"]
    slug = f"{code}_{filters.period.start.isoformat()}_{filters.period.end.isoformat()}"
    return attachment(body, "pdf", f"mscore-bao-cao-{slug}")
