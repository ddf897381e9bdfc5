"""Disclosure control: what a caller limited to some offices (a scoped token, an office manager)
may learn from a satisfaction report.

A scoped document is built in two parts, so that no number in it can be computed from a single
office outside the scope:

1. Everything about the caller's own offices comes from a report computed over those offices
   alone (``Params.universe``): their counts, estimates, intervals, changes and breakdowns, and
   the list of questions, cannot depend on any other office, whatever the statistics do.
2. Comparisons with the caller's ranking group come from the report over the whole group, and
   only where at least :data:`MIN_OUTSIDE` offices outside the scope take part in them (the
   threshold rule statistics offices apply to small cells):

   - the group's benchmark (its index, elements and overall question, value and interval only)
     needs that many outside offices with responses in the period, and with answers to the
     measure;
   - an office's rank, rank intervals (joint and individual) and group size need that many
     outside offices *ranked*
     in the measure (an unreliable office is not ranked, so three offices with responses could
     leave one to be ranked against), its previous rank the same in the previous period;
   - its tier (above or below the mean of the group's reliable offices) needs that many outside
     reliable offices, its empirical-Bayes estimate (shrunk toward the group) that many outside
     offices with answers.

   Anything else is withheld (null), and the document says which rule withheld it. A group made
   only of offices outside the scope is never shown, nor any count of the group's offices.
   Where the process does not keep the group's report, the rules read the arrays of it that
   they need, stored (comparisons.py); a trend reads its months' group entries (scoped_trend.py).
3. Comparisons are given only for periods that cannot be played against each other: whole
   calendar months, quarters or years that have ended, without flagged responses, and where
   every month of the period has at least MIN_OUTSIDE outside offices of the group with
   responses. Two such periods are either disjoint or one is a union of whole months of the
   other, so any difference of their benchmarks is again made of whole months, each resting on
   at least MIN_OUTSIDE outside offices; a running period (today's benchmark less yesterday's)
   or an arbitrary range (1-20 March less 1-19 March) could isolate one office's day.

What the rule does not stop, and docs/operations.md says so: responses flagged or excluded later
(moderation) change a closed month's benchmark, and the difference is those responses.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import numpy as np
from sqlalchemy import func, select

from ..models.rollups import INTEGRITIES, MONTH, RollupResponse
from ..models.surveys import SIPAS_ELEMENTS
from .comparisons import group_report, taking_part
from .kept import kept_report
from .periods import Period, local_today
from .report import Params, Report
from .rollup import month_end
from .source import report_session
from .tables import RANK_FIELDS, breakdown_rows, report_json

#: Offices outside the scope that a comparison must rest on before it is shown.
MIN_OUTSIDE = 3

BENCHMARK_BAND = ("value", "low", "high")

RULE = {
    "en": (
        f"Comparisons with a ranking group (the group's index, an office's rank, rank interval, "
        f"group size, tier and empirical-Bayes estimate) are shown only for a whole calendar "
        f"month, quarter or year that has ended, without flagged responses, and only where at "
        f"least {MIN_OUTSIDE} offices of the group outside your scope take part in them, in "
        f"every month of the period; otherwise they are withheld (small-group disclosure control)."
    ),
    "vi": (
        f"Các so sánh với khối (chỉ số của khối, thứ hạng, khoảng thứ hạng, số đơn vị xếp hạng, "
        f"nhóm so sánh và ước lượng EB của đơn vị) chỉ được hiển thị cho trọn một tháng, quý "
        f"hoặc năm đã kết thúc, không tính phiếu bị gắn cờ, và chỉ khi có ít nhất {MIN_OUTSIDE} "
        f"đơn vị của khối ngoài phạm vi của bạn tham gia trong từng tháng của kỳ; nếu không, các "
        f"số này được ẩn (kiểm soát tiết lộ thông tin nhóm nhỏ)."
    ),
}
UNRELIABLE = "unreliable"  # a tier that says only that the office's own estimate is unreliable
REASON_SMALL_GROUP = "fewer_than_3_outside_offices_with_responses"
REASON_SMALL_MONTH = "a_month_with_fewer_than_3_outside_offices_with_responses"
REASON_PERIOD = "not_an_ended_calendar_month_quarter_or_year"
REASON_FLAGGED = "flagged_responses_included"


def calendar_months(period: Period) -> list | None:
    """The first days of the months of a whole calendar month, quarter or year; None for any
    other period."""
    start, end = period.start, period.end
    if start.day != 1 or end != month_end(end):
        return None
    months = [start]
    while months[-1] < end.replace(day=1):
        months.append(month_end(months[-1]) + timedelta(days=1))
    whole_quarter = len(months) == 3 and start.month % 3 == 1
    whole_year = len(months) == 12 and start.month == 1
    return months if len(months) == 1 or whole_quarter or whole_year else None


def period_reason(params: Params) -> str | None:
    """Why no comparison at all may be given to a scoped caller for this period (None: the
    per-group rules decide)."""
    if params.include_flagged:
        return REASON_FLAGGED
    if calendar_months(params.period) is None or params.period.end >= local_today():
        return REASON_PERIOD
    return None


def own_params(params: Params) -> Params:
    """The parameters of the report over the scope's offices shown, alone."""
    scope = params.scope if params.scope is not None else frozenset()
    visible = scope if params.visible is None else params.visible & scope
    return replace(params, visible=visible, universe=visible)


def own_report(params: Params) -> tuple[frozenset[int], frozenset[int], Report]:
    """The scope, the offices shown of it, and the report computed over those alone."""
    own = own_params(params)
    return own.scope or frozenset(), own.visible, kept_report(own)


def scoped_document(params: Params, breakdowns: bool = False) -> dict:
    """The satisfaction report JSON for a caller limited to ``params.scope``."""
    scope, visible, own = own_report(params)
    document = report_json(own)
    if breakdowns:
        document["breakdowns"] = {n: breakdown_rows(own, n) for n in ("services", "channels")}
    for office in document["offices"]:  # the hierarchy above the scope is not the caller's
        if office["parent_code"] is not None and office["parent_code"] not in _codes(own, scope):
            office["parent_code"] = None
    full = group_report(params)  # the report, or what the gates read of it (comparisons.py)
    gates = group_gates(params, full, scope)
    rows = {o["id"]: i for i, o in enumerate(full.offices)}
    visible_ids = [o["id"] for o in own.offices if o["id"] in visible]
    for entry, office_id in zip(document["offices"], visible_ids, strict=True):
        _compare_office(entry, rows[office_id], gates)
    groups = sorted({entry["group"] for entry in document["offices"]})
    document["groups"] = [gates.benchmark(name) for name in groups]
    document["disclosure"] = {
        "scoped": True,
        "min_outside_offices": MIN_OUTSIDE,
        "rule": RULE,
    }
    return document


def group_gates(params: Params, full, scope: frozenset[int]) -> _Gates:
    """Which comparisons with ``full``, the report over the whole group (or what its gates read of
    it), a caller limited to ``scope`` is given."""
    reason = period_reason(params)
    months = None if reason else calendar_months(params.period)
    # one month: its offices with valid responses are those the report counts (every valid
    # response is weighted, none dropped), which the gates' `enough` already checks; a
    # scoped trend's twelve months read no more than their reports
    monthly = None if months is None or len(months) == 1 else _monthly_enough(full, scope, months)
    return _Gates(full, scope, reason, monthly)


def _codes(report: Report, scope: frozenset[int]) -> set[str]:
    return {o["code"] for o in report.offices if o["id"] in scope}


def offices_with_responses_by_month(session, months, office_ids) -> dict:
    """For whole months already rolled up (first days) in ``session``'s database, the offices
    among ``office_ids`` with at least one valid response in each: {month: {office_id, ...}}
    (disclosure control)."""
    valid = INTEGRITIES.index("valid")
    # every office's, filtered here: a commune group's 3,322 ids as bound parameters cost
    # 65 ms a query, the months' rows of every office a few
    rows = session.execute(
        select(RollupResponse.day, RollupResponse.office_id)
        .where(
            RollupResponse.grain == MONTH,
            RollupResponse.day.in_(list(months)),
            RollupResponse.integrity == valid,
        )
        .group_by(RollupResponse.day, RollupResponse.office_id)
        .having(func.sum(RollupResponse.count) > 0)
    ).all()
    wanted = set(office_ids)
    found: dict = {}
    for month, office_id in rows:
        if office_id in wanted:
            found.setdefault(month, set()).add(office_id)
    return found


def _monthly_enough(full: Report, scope: frozenset[int], months: list) -> np.ndarray:
    """Per group of the full report: whether every month of the period has at least
    MIN_OUTSIDE offices outside the scope with valid responses."""
    # the months' rollup, where the full report read it (the replica when it holds them)
    session = report_session([Period(month, month_end(month)) for month in months])
    present = offices_with_responses_by_month(session, months, [o["id"] for o in full.offices])
    row_of = {o["id"]: i for i, o in enumerate(full.offices)}
    ok = np.ones(len(full.groups), dtype=bool)
    for month in months:
        counts = np.zeros(len(full.groups), dtype=np.int64)
        for office_id in present.get(month, ()):
            i = row_of[office_id]
            if full.offices[i]["id"] not in scope:
                counts[full.groups.index(full.offices[i]["group"])] += 1
        ok &= counts >= MIN_OUTSIDE
    return ok


def _reason(period: str | None, enough: bool, every_month: bool) -> str | None:
    """Why a group's comparisons are withheld (None: they are given)."""
    if period:
        return period
    if not enough:
        return REASON_SMALL_GROUP
    return None if every_month else REASON_SMALL_MONTH


class _Gates:
    """Per measure and group, which comparisons rest on enough offices outside the scope."""

    def __init__(
        self, full: Report, scope: frozenset[int], reason: str | None, monthly: np.ndarray | None
    ) -> None:
        self.full = full
        self.groups = full.groups
        self.group_of = np.array([full.groups.index(o["group"]) for o in full.offices], np.int64)
        self.outside = np.array([o["id"] not in scope for o in full.offices], dtype=bool)
        enough = self._enough(np.asarray(full.current.stats["responses"]) > 0)
        every_month = np.ones_like(enough) if monthly is None else monthly
        self.reasons = [
            _reason(reason, bool(ok), bool(month_ok))
            for ok, month_ok in zip(enough, every_month, strict=True)
        ]
        self.given = np.array([r is None for r in self.reasons], dtype=bool)
        self._allowed: dict[tuple[str, str], np.ndarray] = {}

    def _enough(self, mask: np.ndarray) -> np.ndarray:
        """Per group: whether at least MIN_OUTSIDE outside offices satisfy ``mask``."""
        chosen = self.group_of[self.outside & mask]
        return np.bincount(chosen, minlength=len(self.groups)) >= MIN_OUTSIDE

    def _taking_part(self, measure: str, kind: str) -> np.ndarray:
        """Per office of the full report: whether it takes part in a kind of comparison (read
        from the stored arrays' masks where the full report is what they hold of it)."""
        kind = kind if kind in ("rank", "previous_rank", "tier") else "answered"
        masks = getattr(self.full, "masks", None)
        if masks is not None:
            found = masks.get((measure, kind))
            return np.zeros(len(self.full.offices), bool) if found is None else found
        block = self.full.office_blocks.get(measure)
        return taking_part(block, kind, len(self.full.offices))

    def allowed(self, measure: str, kind: str) -> np.ndarray:
        """Per office row of the full report: whether its ``kind`` of comparison may be shown."""
        key = (measure, kind)
        if key not in self._allowed:  # asked once per office and field: computed once
            group_ok = self.given & self._enough(self._taking_part(measure, kind))
            self._allowed[key] = group_ok[self.group_of]
        return self._allowed[key]

    def benchmark(self, name: str) -> dict:
        """The group's benchmark entry: its estimates' values and intervals, or why not."""
        g = self.groups.index(name)
        given = bool(self.given[g])
        blocks = self.full.group_blocks

        def band(measure):
            block = blocks.get(measure)
            if (
                block is None
                or not (self.given & self._enough(self._taking_part(measure, "band")))[g]
            ):
                return None
            return {k: _number(block[k][g]) for k in BENCHMARK_BAND}

        oq = self.full.current.overall_question
        return {
            "group": name,
            "benchmark": "given" if given else "withheld",
            "reason": self.reasons[g],
            "index": band("index"),
            "elements": {str(e): band(str(e)) for e in SIPAS_ELEMENTS},
            "overall_question": band(oq) if oq else None,
        }


def _compare_office(entry: dict, row: int, gates: _Gates) -> None:
    """Replace an office entry's comparisons (computed over the scope alone) by the group's,
    where the rule allows them, or by null."""
    full = gates.full
    oq = full.current.overall_question
    measures = [("index", entry["index"])]
    measures += [(name, est) for name, est in entry["elements"].items()]
    measures += [(f"q:{code}", est) for code, est in entry["questions"].items()]
    if entry.get("overall_question") is not None and oq:
        measures.append((oq, entry["overall_question"]))
    for measure, estimate in measures:
        if estimate is None:
            continue
        block = full.office_blocks.get(measure, {})

        def shown(kind, key, _block=block, _measure=measure):
            if key not in _block or not gates.allowed(_measure, kind)[row]:
                return None
            return _number(_block[key][row])

        if "tier" in estimate and estimate["tier"] != UNRELIABLE:  # that one is the office's own
            tier = shown("tier", "tier")
            estimate["tier"] = None if tier is None else str(tier)
        for key in RANK_FIELDS:
            if key in estimate:
                estimate[key] = _integer(shown("rank", key))
        if "eb" in estimate:
            estimate["eb"] = {
                name: shown("eb", key)
                for name, key in (
                    ("value", "eb_value"),
                    ("low", "eb_low"),
                    ("high", "eb_high"),
                    ("shrinkage", "shrinkage"),
                )
            }
        change = estimate.get("change")
        if change is not None and "previous_rank" in change:
            change["previous_rank"] = _integer(shown("previous_rank", "previous_rank"))


def _number(value):
    """A plain JSON value of a numpy scalar (NaN → None)."""
    if isinstance(value, np.str_ | str):
        return str(value)
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    value = float(value)
    return None if np.isnan(value) else value


def _integer(value):
    return None if value is None else int(value)
