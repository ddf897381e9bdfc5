"""A report as plain JSON-ready data: what the API answers and the exports write."""

from __future__ import annotations

import math

import numpy as np
from flask import current_app

from analysis import MIN_DF, MIN_N_EFF, SATISFIED_FROM

from ..models import CHANNELS
from ..models.surveys import SIPAS_ELEMENTS
from .periods import zone
from .report import Report

ESTIMATE_KEYS = ("value", "low", "high", "se", "n", "n_eff", "df", "reliable")
NESTED = {
    "eb": (
        ("value", "eb_value"),
        ("low", "eb_low"),
        ("high", "eb_high"),
        ("shrinkage", "shrinkage"),
    ),
    "mean": (("value", "mean"), ("low", "mean_low"), ("high", "mean_high")),
    "par_points": (("value", "par_value"), ("low", "par_low"), ("high", "par_high")),
    "change": (
        ("previous", "previous"),
        ("diff", "change"),
        ("low", "change_low"),
        ("high", "change_high"),
        ("significant", "change_significant"),
        ("previous_rank", "previous_rank"),
    ),
}
#: Fields of an estimate that compare an office with the other offices of its group.
RANK_FIELDS = (
    "rank",
    "rank_low",
    "rank_high",
    "individual_rank_low",
    "individual_rank_high",
    "group_size",
)
FLAT = ("blank_reason", "missing", "tier", *RANK_FIELDS)
INTEGERS = {"n", "df", *RANK_FIELDS, "previous_rank"}


def _plain(values, key: str) -> list:
    """A numpy array as a list of JSON values: NaN → None, integers where they are counts."""
    arr = np.asarray(values)
    if arr.dtype.kind in "USbO":  # labels, flags, and notes (None, text or lists of codes)
        return arr.tolist()
    out = arr.astype(float).tolist()
    if key in INTEGERS:
        return [None if math.isnan(v) else int(v) for v in out]
    return [None if math.isnan(v) else v for v in out]


def _estimates(block: dict, rows: np.ndarray) -> list[dict]:
    """One dict per selected row of a measure block (built column-wise: 1,000s of offices)."""
    cols = {k: _plain(v[rows], k) for k, v in block.items()}
    flat = [k for k in (*ESTIMATE_KEYS, *FLAT) if k in cols]
    out = [
        dict(zip(flat, vals, strict=True)) for vals in zip(*[cols[k] for k in flat], strict=True)
    ]
    for name, pairs in NESTED.items():
        present = [(o, k) for o, k in pairs if k in cols]
        if not present:
            continue
        names = [o for o, _k in present]
        for item, vals in zip(out, zip(*[cols[k] for _o, k in present], strict=True), strict=True):
            item[name] = dict(zip(names, vals, strict=True))
    return out


def _counts(st: dict, i: int) -> tuple[dict, dict]:
    """An entry's counts before and after its estimates (``st``: plain stats columns)."""
    dossiers, answered, sent = st["dossiers"][i], st["sms_answered"][i], st["sms_sent"][i]
    bad = min(st["dissatisfied"][i], dossiers)
    before = {
        "dossiers": int(dossiers),
        "responses": int(st["responses"][i]),
        "responses_by_channel": {c: int(st[f"responses_{c}"][i]) for c in CHANNELS},
    }
    after = {
        "dissatisfied": int(st["dissatisfied"][i]),
        "complaint_free_ratio": (dossiers - bad) / dossiers if dossiers else None,
        "sms": {
            "sent": int(sent),
            "answered": int(answered),
            "response_rate": min(answered / sent, 1.0) if sent else None,
        },
        "sms_by_mode": _sms_by_mode(st, i),
    }
    return before, after


def _sms_by_mode(st: dict, i: int) -> dict:
    """Invitations sent in the period in each SMS mode, and how many of those were answered."""
    link_sent = st["sms_link_sent"][i]
    sent = {"reply": st["sms_sent"][i] - link_sent, "link": link_sent}
    answered = {"reply": st["sms_reply_answered"][i], "link": st["sms_link_answered"][i]}
    return {
        mode: {
            "sent": int(sent[mode]),
            "answered": int(answered[mode]),
            "response_rate": answered[mode] / sent[mode] if sent[mode] else None,
        }
        for mode in ("reply", "link")
    }


def _entries(blocks: dict, stats: dict, rows: np.ndarray, overall_question) -> list[dict]:
    """Per office (or group): index, elements, questions and the counts around them."""
    per = {name: _estimates(block, rows) for name, block in blocks.items()}
    st = {k: _plain(v[rows], k) for k, v in stats.items()}
    entries = []
    for i in range(rows.size):
        before, after = _counts(st, i)
        entries.append(
            {
                **before,
                "index": per["index"][i],
                "elements": {str(e): per[str(e)][i] for e in SIPAS_ELEMENTS},
                "overall_question": per[overall_question][i] if overall_question in per else None,
                "questions": {
                    name[2:]: items[i] for name, items in per.items() if name.startswith("q:")
                },
                **after,
            }
        )
    return entries


def _prepare(report: Report) -> tuple[np.ndarray, set[str]]:
    """The visible office rows and the measures asked (unasked questions dropped from the
    report's blocks)."""
    params, offices = report.params, report.offices
    visible = np.array(
        [params.visible is None or o["id"] in params.visible for o in offices], dtype=bool
    )
    asked = {
        name
        for name, block in report.office_blocks.items()
        if not name.startswith("q:") or block["n"].sum() > 0
    }
    report.office_blocks = {k: v for k, v in report.office_blocks.items() if k in asked}
    report.group_blocks = {k: v for k, v in report.group_blocks.items() if k in asked}
    return np.flatnonzero(visible), asked


def _head(report: Report, asked: set[str], offices, groups) -> dict:
    """The document around the office and group entries."""
    params, config = report.params, current_app.config
    return {
        "period": {**params.period.as_dict(), "timezone": zone().key},
        "previous_period": report.previous_period.as_dict() if report.previous_period else None,
        "parameters": {
            "group": params.group,
            "level": params.level,
            "method": params.method,
            "compare": "previous" if params.compare else None,
            "include_flagged": params.include_flagged,
            "satisfied_from": SATISFIED_FROM,
            "par_max_points": float(config.get("PAR_MAX_POINTS", 10.0)),
            "min_cell": int(config.get("REPORT_MIN_CELL", 10)),
            "reliability": {"min_n_eff": MIN_N_EFF, "min_df": MIN_DF},
            # What the intervals mean (docs/methodology.md, sections 3 to 6).
            "rank_intervals": {
                "joint": "rank_low to rank_high: all offices' hold together at the level "
                "(who is clearly better than whom)",
                "individual": "individual_rank_low to individual_rank_high: this office's "
                "rank alone at the level (where does it stand)",
            },
            "index_variance": "linearised over respondents, items as domains of the design",
            "eb": "normal hierarchical model, prior mean and spread integrated out",
        },
        "elements": [str(e) for e in SIPAS_ELEMENTS],
        "questions": [
            {k: q[k] for k in ("code", "dimension", "kind", "text_vi", "text_en")}
            for q in report.questions
            if f"q:{q['code']}" in asked
        ],
        "offices": offices,
        "groups": groups,
        "eb_priors": _eb_priors(report),
    }


def _eb_priors(report: Report) -> dict:
    """Per measure and ranking group, the prior its offices' EB estimates borrow from: mean
    (μ), spread (τ) and whether the spread leans on its bound; null where none was fitted."""
    names = [o["group"] for o in report.offices]
    first = {g: names.index(g) for g in report.groups if g in names}
    out = {}
    for measure, block in report.office_blocks.items():
        if "eb_prior_mean" not in block:
            continue
        mean, sd = _plain(block["eb_prior_mean"], ""), _plain(block["eb_prior_sd"], "")
        bounded = _plain(block["eb_bounded"], "")
        out[measure] = {
            g: (
                {"mean": mean[i], "sd": sd[i], "bounded": bounded[i]}
                if mean[i] is not None
                else None
            )
            for g, i in first.items()
        }
    return out


OFFICE_META = ("code", "name", "name_en", "kind", "group", "parent_code")


def _named(report: Report, rows: np.ndarray, entries) -> tuple[list[dict], list[dict]]:
    """The office entries (of ``rows``) and group entries that ``entries(blocks, stats, rows)``
    writes, with each office's meta data and each group's name and number of offices."""
    offices = report.offices
    office_entries = entries(report.office_blocks, report.current.stats, rows)
    for entry, i in zip(office_entries, rows.tolist(), strict=True):
        meta = offices[i]
        entry.update({k: meta[k] for k in OFFICE_META})
    group_entries = entries(
        report.group_blocks, report.group_current.stats, np.arange(len(report.groups))
    )
    for entry, name in zip(group_entries, report.groups, strict=True):
        entry["group"] = name
        entry["offices"] = sum(o["group"] == name for o in offices)
    return office_entries, group_entries


def report_json(report: Report) -> dict:
    """The whole report as the API's JSON document."""
    rows, asked = _prepare(report)
    oq = report.current.overall_question
    office_entries, group_entries = _named(
        report, rows, lambda blocks, stats, rows: _entries(blocks, stats, rows, oq)
    )
    return _head(report, asked, office_entries, group_entries)


def trend_json(report: Report) -> dict:
    """The office and group entries of :func:`report_json` with their names, responses and
    index alone: what the dashboard's trends read, written for thousands of offices without
    the rest of their entries."""
    rows, _asked = _prepare(report)

    def entries(blocks: dict, stats: dict, rows: np.ndarray) -> list[dict]:
        responses = [int(n) for n in _plain(stats["responses"][rows], "responses")]
        index = _estimates(blocks["index"], rows)
        return [{"responses": n, "index": i} for n, i in zip(responses, index, strict=True)]

    office_entries, group_entries = _named(report, rows, entries)
    return {"offices": office_entries, "groups": group_entries}


def breakdown_rows(report: Report, name: str) -> list[dict]:
    """Rows of the services or channels breakdown, visible offices only."""
    data = report.breakdowns[name]
    offices, visible = report.offices, report.params.visible
    cols = {k: _plain(v, k) if k != "label" else v for k, v in data.items() if k != "office"}
    out = []
    for i, office in enumerate(data["office"].tolist()):
        meta = offices[int(office)]
        if visible is not None and meta["id"] not in visible:
            continue
        out.append(
            {
                "office_code": meta["code"],
                "office_name": meta["name"],
                **{k: cols[k][i] for k in cols if k != "key"},
            }
        )
    return out
