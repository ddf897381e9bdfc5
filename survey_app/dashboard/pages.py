"""What each dashboard page shows, as plain data taken from report documents (never computed a
second time): headline figures, the office table, the charts' data, response-rate monitoring.

Fields are read defensively (``.get``): the report may withhold a group's benchmark from a scoped
official (small-group disclosure control) or leave an estimate blank, and then the page says so.
"""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..i18n import current_language
from .tables import CODE, HIGH, INDEX, LOW, OFFICE, RELIABLE, RESPONSES, C, Table

ELEMENT_LABELS = {
    "access": _l("Access to the service"),
    "procedure": _l("Administrative procedure"),
    "civil_servant": _l("Civil servants"),
    "result": _l("Result"),
    "feedback": _l("Feedback handling"),
}
DIMENSION_LABELS = {
    **ELEMENT_LABELS,
    "overall": _l("Overall"),
    "integrity": _l("Payment outside the rules"),
}
TIER_LABELS = {
    "above": _l("Clearly above"),
    "indistinguishable": _l("Not clearly different"),
    "below": _l("Clearly below"),
    "unreliable": _l("Too few responses"),
    "withheld": _l("Not shown (too few other offices)"),
}
CHANNEL_LABELS = {
    "qr_web": _l("QR code (web)"),
    "sms": _l("SMS reply"),
    "sms_link": _l("SMS link"),
    "kiosk": _l("Kiosk"),
}
SORTS = ("rank", "name", "responses", "value", "change")


def group_entry(doc: dict, group: str) -> dict | None:
    """The group's own entry (its benchmark), or None where the report withholds it from a
    scoped official (small-group disclosure control: ``"benchmark": "withheld"``)."""
    for entry in doc.get("groups") or []:
        if entry.get("group") != group:
            continue
        if entry.get("benchmark") == "withheld" or not entry.get("index"):
            return None
        return entry
    return None


def withheld_reason(doc: dict, group: str) -> str | None:
    """The report's own words on why a group's figures are withheld, in the page's language."""
    rule = (doc.get("disclosure") or {}).get("rule")
    if isinstance(rule, dict):
        return rule.get(current_language()) or rule.get("vi")
    return str(rule) if rule else None


def estimate_at(entry: dict | None, *path) -> dict:
    item = entry or {}
    for part in path:
        item = (item or {}).get(part) or {}
    return item


def headline(doc: dict, group: str) -> dict | None:
    """The group's index, PAR points, responses by channel, SMS rate and change."""
    entry = group_entry(doc, group)
    if entry is None:
        return None
    index = estimate_at(entry, "index")
    return {
        "index": index,
        "par": index.get("par_points") or {},
        "change": index.get("change") or {},
        "responses": entry.get("responses"),
        "dossiers": entry.get("dossiers"),
        "by_channel": entry.get("responses_by_channel") or {},
        "sms": entry.get("sms") or {},
        "offices": entry.get("offices"),
    }


def _office_row(entry: dict) -> dict:
    index = estimate_at(entry, "index")
    change = index.get("change") or {}
    reliable = bool(index.get("reliable"))
    return {
        "code": entry.get("code"),
        "name": entry.get("name"),
        "responses": entry.get("responses"),
        "value": index.get("value"),
        "low": index.get("low"),
        "high": index.get("high"),
        "n_eff": index.get("n_eff"),
        "reliable": reliable,
        "rank": index.get("rank") if reliable else None,
        "rank_low": index.get("rank_low") if reliable else None,
        "rank_high": index.get("rank_high") if reliable else None,
        "individual_rank_low": index.get("individual_rank_low") if reliable else None,
        "individual_rank_high": index.get("individual_rank_high") if reliable else None,
        "group_size": index.get("group_size"),
        "tier": _tier(index, reliable),
        "tier_label": str(TIER_LABELS[_tier(index, reliable)]),
        "par": (index.get("par_points") or {}).get("value"),
        "change": change.get("diff"),
        "change_significant": change.get("significant"),
        "unreliable": not reliable,
    }


def _tier(index: dict, reliable: bool) -> str:
    """The office's tier; a reliable office's tier that the report withholds is 'withheld'."""
    tier = index.get("tier")
    if tier in TIER_LABELS:
        return tier
    return "withheld" if reliable else "unreliable"


def _sort_key(sort: str):
    def key(row):
        value = row.get(sort)
        missing = value is None
        if sort == "name":
            return (missing, (value or "").casefold())
        return (missing, value if not missing else 0)

    return key


def office_rows(doc: dict, group: str, sort: str = "rank", descending: bool = False) -> list[dict]:
    """The group's visible offices, ranked first (by rank), the unreliable after them."""
    rows = [_office_row(e) for e in doc.get("offices") or [] if e.get("group") == group]
    sort = sort if sort in SORTS else "rank"
    rows.sort(key=lambda r: (r["value"] is None, -(r["value"] or 0)))
    rows.sort(key=_sort_key(sort), reverse=descending)
    if descending:  # missing values stay last
        rows.sort(key=lambda r: r.get(sort) is None)
    return rows


def office_table(rows: list[dict], filters) -> Table:
    """The office table of the dashboard."""
    return Table(
        "offices",
        _(
            "Offices of the group: %(group)s, %(period)s",
            group=filters.group_label,
            period=filters.label,
        ),
        [
            C("rank", _l("Rank"), "rank", True),
            OFFICE,
            CODE,
            RESPONSES,
            INDEX,
            LOW,
            HIGH,
            RELIABLE,
            C("rank_low", _l("Best possible rank (all offices compared at once)"), "int"),
            C("rank_high", _l("Worst possible rank (all offices compared at once)"), "int"),
            C("individual_rank_low", _l("Best possible rank (this office alone)"), "int"),
            C("individual_rank_high", _l("Worst possible rank (this office alone)"), "int"),
            C("tier_label", _l("Compared with the group")),
            C("par", _l("PAR Index points"), "pts"),
            C("change", _l("Change from the previous period"), "pct", True),
            C("change_significant", _l("Change is significant"), "bool"),
        ],
        rows,
        muted="unreliable",
    )


def response_rows(doc: dict, quiet: dict, group: str) -> list[dict]:
    """Per office: dossiers returned, SMS sent and answered, rate, QR responses per 100
    dossiers, and whether it had no response in the last 14 days."""
    recent = {e.get("code"): e.get("responses") or 0 for e in quiet.get("offices") or []}
    rows = []
    for e in doc.get("offices") or []:
        if e.get("group") != group:
            continue
        sms = e.get("sms") or {}
        by_mode = e.get("sms_by_mode") or {}
        dossiers = e.get("dossiers") or 0
        qr = (e.get("responses_by_channel") or {}).get("qr_web") or 0
        rows.append(
            {
                "code": e.get("code"),
                "name": e.get("name"),
                "dossiers": dossiers,
                "sent": sms.get("sent"),
                "answered": sms.get("answered"),
                "rate": sms.get("response_rate"),
                "rate_reply": (by_mode.get("reply") or {}).get("response_rate"),
                "rate_link": (by_mode.get("link") or {}).get("response_rate"),
                "qr_per_100": 100 * qr / dossiers if dossiers else None,
                "responses": e.get("responses"),
                "recent": recent.get(e.get("code"), 0),
                "quiet": recent.get(e.get("code"), 0) == 0,
            }
        )
    rows.sort(key=lambda r: (not r["quiet"], (r["name"] or "").casefold()))
    return rows


def response_table(rows: list[dict], filters) -> Table:
    """The response-rate monitoring table."""
    return Table(
        "responses",
        _("Responses and SMS response rate, %(period)s", period=filters.label),
        [
            OFFICE,
            CODE,
            C("dossiers", _l("Dossiers returned"), "int"),
            C("sent", _l("SMS invitations sent"), "int"),
            C("answered", _l("SMS answered"), "int"),
            C("rate", _l("SMS response rate"), "pct"),
            C("rate_reply", _l("SMS response rate, reply by text"), "pct"),
            C("rate_link", _l("SMS response rate, link to the form"), "pct"),
            C("qr_per_100", _l("QR responses per 100 dossiers"), "dec"),
            RESPONSES,
            C("recent", _l("Responses in the last 14 days"), "int"),
            C("quiet", _l("No response for 14 days"), "bool"),
        ],
        rows,
        highlight="quiet",
    )
