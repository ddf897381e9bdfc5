"""The satisfaction report: counts → weights → `analysis` estimates for every office and group."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from flask import current_app

import analysis
from analysis import Cells, EstimateTable

from ..models import CHANNELS
from ..models.rollups import YEAR
from ..models.surveys import SIPAS_ELEMENTS, Dimension
from .catalogue import field_mapper, report_questions, universe
from .counts import SMS_CHANNELS
from .estimates import measure_block
from .fetch import fetch_counts, tile_counts
from .indices import answer_patterns, blank_reasons, index_tables
from .periods import Period, local_today
from .rollup import buckets
from .source import report_session
from .weighting import lookup, weigh
from .year_moments import fetch_moments


@dataclass(frozen=True)
class Params:
    """What a report is asked for (validated by the API schema or the CLI)."""

    period: Period
    group: str | None = None
    visible: frozenset[int] | None = None  # office ids to show; None: all of the universe
    level: float = 0.95
    method: str = "wilson"
    compare: bool = False
    include_flagged: bool = False
    source: str = "auto"  # "auto": rollup for past days, live for today; "raw": all live
    breakdowns: bool = True  # the overall question per office × service and × channel
    questions: bool = True  # per question the EB estimates, tiers and changes too (not only the
    #                         estimates the indices are made of)
    scope: frozenset[int] | None = None  # offices the caller may see; None: every office
    #                                      (set: documents.py applies disclosure control)
    universe: frozenset[int] | None = None  # only these offices are computed over; None: all


@dataclass
class Estimates:
    """Per measure (overall, elements, questions), arrays over offices or groups."""

    measures: list[str]
    tables: dict[str, EstimateTable]
    means: dict[str, EstimateTable]
    yes_no: dict[str, EstimateTable]
    stats: dict[str, np.ndarray]
    overall_question: str | None = None
    #: per measure, why an estimate is blank (None where it is not) and, for the indices, the
    #: items or elements without answers that blank it (object arrays over offices or groups)
    notes: dict[str, tuple] = field(default_factory=dict)


@dataclass
class Report:
    """Everything the API, the exports and the dashboard show for one period."""

    params: Params
    offices: list[dict]
    groups: list[str]
    questions: list[dict]
    current: Estimates
    group_current: Estimates
    office_blocks: dict[str, dict] = field(default_factory=dict)
    group_blocks: dict[str, dict] = field(default_factory=dict)
    breakdowns: dict[str, dict] = field(default_factory=dict)
    previous_period: Period | None = None


def build_report(params: Params) -> Report:
    """Compute the satisfaction report (and the previous period's, with compare), reading the
    read replica when the app has one that holds the rollup days it needs (source.py)."""
    today = local_today()
    periods = [params.period] + ([params.period.previous()] if params.compare else [])
    pasts = [] if params.source == "raw" else [p.split(today)[0] for p in periods]
    session, offices, questions, groups, mapper = _catalogue(params, pasts)
    current = _estimate(session, params, params.period, offices, questions, groups, mapper)
    previous = None
    if params.compare:
        previous = _estimate(
            session, params, params.period.previous(), offices, questions, groups, mapper
        )
    return _report(params, offices, groups, questions, current, previous)


def build_reports(many: list[Params]) -> list[Report]:
    """:func:`build_report` of each of ``many``. Reports that differ only in their period, each
    an ended period of whole months (a scoped official's trend: an office's twelve months) are
    computed in one pass: the catalogue read once and the months' rollup rows in one query per
    table, each row with its bucket, then split by period. The figures are those of
    :func:`build_report` (tested): a report of one office reads a few hundred rows, and its
    queries' round trips, not its rows, took most of its time."""
    if not _together(many):
        return [build_report(params) for params in many]
    first = many[0]
    session, offices, questions, groups, mapper = _catalogue(first, [p.period for p in many])
    tiles = sorted({tile for params in many for tile in buckets(params.period)})
    counts = _fetch(session, first, tiles, None, offices, by_tile=True)
    reports = []
    for params in many:
        part = tile_counts(counts, [tiles.index(tile) for tile in buckets(params.period)])
        current = _estimate(
            session, params, params.period, offices, questions, groups, mapper, counts=part
        )
        reports.append(_report(params, offices, groups, questions, current, None))
    return reports


def _together(many: list[Params]) -> bool:
    """Whether :func:`build_reports` computes these in one pass: two or more reports of the
    rollup alone (ended periods), without the previous period, of months (a year's bucket reads
    moments beside its rows), that differ only in their period."""
    if len(many) < 2:
        return False
    first, today = many[0], local_today()
    return all(
        replace(params, period=first.period) == first
        and not params.compare
        and params.source != "raw"
        and params.period.end < today
        and all(grain != YEAR for grain, _day in buckets(params.period))
        for params in many
    )


def _catalogue(params: Params, pasts: list[Period | None]):
    """The session a report of these past parts reads (source.py), its offices, questions,
    ranking groups and the services' fields."""
    session = report_session(pasts)
    offices = universe(session, params.group, params.universe)
    questions = report_questions(session)
    groups = sorted({o["group"] for o in offices})
    return session, offices, questions, groups, field_mapper(session)


def _report(params: Params, offices, groups, questions, current, previous) -> Report:
    """The report of a period's estimates (``_estimate``'s), with the previous period's."""
    report = Report(
        params=params,
        offices=offices,
        groups=groups,
        questions=questions,
        current=current[0],
        group_current=current[1],
        breakdowns=current[2],
    )
    if previous is not None:
        report.previous_period = params.period.previous()
    office_group = np.array([groups.index(o["group"]) for o in offices], dtype=np.int64)
    lean = (
        set()
        if params.questions
        else {
            m
            for m in current[0].measures
            if m.startswith("q:") and m != current[0].overall_question
        }
    )
    report.office_blocks = measure_block(
        current[0],
        previous[0] if previous else None,
        office_group,
        level=params.level,
        ranked=True,
        lean=lean,
    )
    report.group_blocks = measure_block(
        current[1],
        previous[1] if previous else None,
        np.arange(len(groups)),
        level=params.level,
        ranked=False,
        lean=lean,
    )
    return report


def _estimate(
    session, params: Params, period: Period, offices, questions, groups, mapper, counts=None
):
    """Estimates per office and per group for one period (its past days' rollup buckets are
    complete in ``session``'s database: see build_report), from its ``counts`` where they were
    read already (:func:`build_reports`)."""
    field_of, _fields, _service_codes = mapper
    office_ids = np.array([o["id"] for o in offices], dtype=np.int64)
    n_off = len(offices)
    if counts is None:
        past, live = period.split(local_today())
        tiles = buckets(past) if past is not None and params.source != "raw" else []
        if params.source == "raw":
            live = period
        counts = _fetch(session, params, tiles, live, offices)
    integrity = _integrity(params)
    for part in counts.values():  # office ids → positions; rows of other offices dropped
        part["office"] = lookup(part["office_id"], office_ids, np.arange(n_off))
        keep = part["office"] >= 0
        if not keep.all():  # not copied when none is dropped (a national year's 80 M rows)
            for key in list(part):
                part[key] = part[key][keep]
    resp = counts["responses"]
    by_sms = np.isin(resp["channel"], [CHANNELS.index(c) for c in SMS_CHANNELS])
    sms_all = np.bincount(resp["office"][by_sms].astype(np.int64), resp["count"][by_sms], n_off)
    included = np.isin(
        resp["integrity"], [("valid", "flagged", "excluded").index(i) for i in integrity]
    )
    resp = {k: v[included] for k, v in resp.items()}
    min_count = int(current_app.config.get("REPORT_MIN_CELL", 10))
    weighted = weigh(resp, counts["dossiers"], field_of, min_count=min_count)
    design = weighted.design()
    office_group = np.array([groups.index(o["group"]) for o in offices], dtype=np.int64)
    # popped: the answers' columns that the cells do not keep are freed (a national year's
    # 80 M rows at 100 M responses)
    cells = _cells(counts.pop("answers"), weighted, questions)
    patterns = answer_patterns(counts["patterns"], weighted, questions, counts["moments"])
    by_office = _items(cells, patterns, design, np.arange(n_off), n_off, questions, params)
    if np.array_equal(office_group, np.arange(n_off)):  # each office its group: the same domains
        # (a report over one office: a manager's own months) computed once, the stats apart
        by_group = replace(by_office, stats={})
    else:
        by_group = _items(cells, patterns, design, office_group, len(groups), questions, params)
    d = counts["dossiers"]
    off = d["office"].astype(np.int64)
    stats = {
        "dossiers": np.bincount(off, d["returned"], n_off),
        "sms_sent": np.bincount(off, d["sms_sent"], n_off),
        "sms_answered": sms_all,
        # per SMS mode: invitations sent in the period and how many of them were answered
        "sms_link_sent": np.bincount(off, d["link_sent"], n_off),
        "sms_reply_answered": np.bincount(off, d["reply_answered"], n_off),
        "sms_link_answered": np.bincount(off, d["link_answered"], n_off),
        "responses": np.bincount(weighted.office, weighted.count, n_off),
        "dissatisfied": _dissatisfied(cells, questions, n_off),
    }
    for i, name in enumerate(CHANNELS):
        mask = weighted.channel == i
        stats[f"responses_{name}"] = np.bincount(weighted.office[mask], weighted.count[mask], n_off)
    group_stats = {k: np.bincount(office_group, v, len(groups)) for k, v in stats.items()}
    by_office.stats, by_group.stats = stats, group_stats
    breakdowns = (
        _breakdowns(cells, weighted, design, n_off, questions, params, mapper)
        if params.breakdowns
        else {}
    )
    return by_office, by_group, breakdowns


def _integrity(params: Params) -> tuple[str, ...]:
    return ("valid", "flagged", "excluded") if params.include_flagged else ("valid",)


def _fetch(session, params: Params, tiles, live, offices, by_tile=False) -> dict:
    """The counts of these rollup buckets and live days (fetch.fetch_counts), with the
    moments of the years' buckets."""
    integrity = _integrity(params)
    whole = params.group is None and params.universe is None
    counts_offices = None if whole else [o["id"] for o in offices]
    years = [day for grain, day in tiles if grain == YEAR]
    counts = fetch_counts(
        session,
        tiles,
        live,
        integrity=integrity,
        office_ids=counts_offices,
        # read beside the counts (on a connection of their own, readers.read_all)
        also={"moments": lambda conn: fetch_moments(conn, years, integrity, counts_offices)}
        if years
        else None,
        by_tile=by_tile,
    )
    if not years:  # no year's bucket: no moments (empty columns, nothing read)
        counts["moments"] = fetch_moments(session, years, integrity, counts_offices)
    return counts


def _cells(answers: dict, weighted, questions) -> dict:
    """Answer cells with each respondent group's weight, stratum and population attached."""
    ids = np.array([i for q in questions for i in q["ids"]], dtype=np.int64)
    cols = np.array([c for c, q in enumerate(questions) for _ in q["ids"]], dtype=np.int64)
    column = lookup(answers["question_id"], ids, cols)
    keep = column >= 0
    if keep.all():  # the answers' columns are used as they are, not copied (memory: 100 M)
        a = answers
    else:
        a, column = {k: v[keep] for k, v in answers.items()}, column[keep]
    weight, stratum, population = weighted.attach(
        a["office"], a["service_id"], a["channel"], a["probability"]
    )
    return {
        "office": a["office"].astype(np.int64, copy=False),
        "column": column,
        "value": a["value"],
        "count": a["count"],
        "weight": weight,
        "stratum": stratum.astype(np.int64, copy=False),
        "population": population,
        "service_id": a["service_id"].astype(np.int64),
        "channel": a["channel"].astype(np.int64),
    }


def _items(cells, patterns, design, domain_of_office, n_domains, questions, params) -> Estimates:
    """Item shares and means, element and overall indices per domain (office or group), each a
    domain of the whole sample's design."""
    nq = len(questions)
    likert = np.array([q["kind"] == "likert5" for q in questions], dtype=bool)
    domain = domain_of_office[cells["office"]] if cells["office"].size else cells["office"]
    tables, means, yes_no = {}, {}, {}
    for is_likert in (True, False):
        mask = likert[cells["column"]] == is_likert
        c = Cells(
            domain=domain[mask] * nq + cells["column"][mask],
            stratum=cells["stratum"][mask],
            value=cells["value"][mask],
            count=cells["count"][mask],
            weight=cells["weight"][mask],
            n_domains=n_domains * nq,
            design=design,
        )
        if not mask.any():  # analysis' cell functions need at least one cell
            shares = mean = _nan_table(n_domains, nq, params)
        elif is_likert:
            shares, mean = analysis.item_estimates(
                c, n_domains, nq, method=params.method, level=params.level
            )
        else:
            shares = analysis.proportion_cells(c, method=params.method, level=params.level).reshape(
                n_domains, nq
            )
        for col, q in enumerate(questions):
            if likert[col] == is_likert:
                target = tables if is_likert else yes_no
                target["q:" + q["code"]] = shares.select((slice(None), col))
                if is_likert:
                    means["q:" + q["code"]] = mean.select((slice(None), col))
    elements, overall = index_tables(
        patterns, design, domain_of_office, n_domains, questions, params
    )
    measures = ["index", *[str(e) for e in SIPAS_ELEMENTS], *tables]
    all_tables = {"index": overall, **elements, **tables}
    overall_q = next(
        (
            f"q:{q['code']}"
            for q in questions
            if q["dimension"] == Dimension.OVERALL and q["kind"] == "likert5"
        ),
        None,
    )
    return Estimates(
        measures=measures,
        tables=all_tables,
        means=means,
        yes_no=yes_no,
        stats={},
        overall_question=overall_q,
        notes=blank_reasons(all_tables, questions, n_domains),
    )


def _nan_table(n_domains: int, nq: int, params) -> EstimateTable:
    """A table of domains without respondents."""
    nan = np.full((n_domains, nq), np.nan)
    zero = np.zeros((n_domains, nq), dtype=np.int64)
    return EstimateTable(
        value=nan,
        se=nan,
        low=nan,
        high=nan,
        n=zero,
        n_eff=np.zeros_like(nan),
        df=zero,
        method=params.method,
        level=params.level,
    )


def _dissatisfied(cells, questions, n_off) -> np.ndarray:
    """Respondents who rated the overall question 1 or 2 (Decision 766's dissatisfied)."""
    overall = [
        c
        for c, q in enumerate(questions)
        if q["dimension"] == Dimension.OVERALL and q["kind"] == "likert5"
    ]
    mask = np.isin(cells["column"], overall) & (cells["value"] <= 2)
    return np.bincount(cells["office"][mask], cells["count"][mask], n_off)


def _breakdowns(cells, weighted, design, n_off, questions, params, mapper) -> dict:
    """The overall question's share satisfied per office × service and per office × channel."""
    from .estimates import breakdown

    return breakdown(cells, weighted, design, n_off, questions, params, mapper)
