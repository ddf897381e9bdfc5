"""Per-measure blocks (EB estimate, rank interval, tier, PAR points, change) and breakdowns."""

from __future__ import annotations

import numpy as np
from flask import current_app

import analysis
from analysis import Cells, EstimateTable

from ..models import CHANNELS

CHANNEL_NAMES = CHANNELS


def _empty(n: int, level: float) -> EstimateTable:
    nan = np.full(n, np.nan)
    zero = np.zeros(n, dtype=np.int64)
    return EstimateTable(
        value=nan,
        se=nan,
        low=nan,
        high=nan,
        n=zero,
        n_eff=np.zeros(n),
        df=zero,
        method="none",
        level=level,
    )


def measure_block(
    current, previous, groups, *, level: float, ranked: bool, lean=frozenset()
) -> dict:
    """Arrays per measure: estimate, reliability, why a blank one is blank, EB, joint and
    individual rank intervals, tier, PAR, change (of the measures in ``lean`` only the estimate,
    reliability and blank reason: they are not shown)."""
    config = current_app.config
    target = config.get("REPORT_TIER_TARGET")
    n = groups.size
    blocks = {}
    for name in current.measures:
        table = current.tables.get(name)
        table = _empty(n, level) if table is None else table
        block = {
            "value": table.value,
            "low": table.low,
            "high": table.high,
            "se": table.se,
            "n": table.n,
            "n_eff": table.n_eff,
            "df": table.df,
            "reliable": table.reliable,
        }
        if name in current.notes:
            block["blank_reason"], block["missing"] = current.notes[name]
        blocks[name] = block
        if name in lean:
            continue
        eb = analysis.empirical_bayes(table, groups)
        block.update(
            eb_value=eb.table.value,
            eb_low=eb.table.low,
            eb_high=eb.table.high,
            shrinkage=eb.shrinkage,
            eb_prior_mean=eb.prior_mean,
            eb_prior_sd=eb.prior_sd,
            eb_bounded=eb.bounded,
        )
        if name in current.means:
            mean = current.means[name]
            block.update(mean=mean.value, mean_low=mean.low, mean_high=mean.high)
        if ranked:
            block["tier"] = analysis.tiers(table, groups, target)
            if _is_ranked(name, current):
                rank = analysis.rank_intervals(table, groups, level=level)
                block.update(
                    rank=rank.rank,
                    rank_low=rank.rank_low,
                    rank_high=rank.rank_high,
                    individual_rank_low=rank.individual_low,
                    individual_rank_high=rank.individual_high,
                    group_size=rank.group_size,
                )
        if name == "index":
            par = analysis.par_points(table, float(config.get("PAR_MAX_POINTS", 10.0)))
            block.update(par_value=par.value, par_low=par.low, par_high=par.high)
        if previous is not None:
            before = previous.tables.get(name)
            before = _empty(n, level) if before is None else before
            change = analysis.change(before, table)
            block.update(
                previous=before.value,
                change=change.diff,
                change_low=change.low,
                change_high=change.high,
                change_significant=change.significant,
            )
            if ranked and _is_ranked(name, current):
                block["previous_rank"] = analysis.rank_intervals(before, groups, level=level).rank
    for name, table in current.yes_no.items():
        blocks[name] = {
            "value": table.value,
            "low": table.low,
            "high": table.high,
            "se": table.se,
            "n": table.n,
            "n_eff": table.n_eff,
            "df": table.df,
            "reliable": table.reliable,
        }
    return blocks


def _is_ranked(name: str, current) -> bool:
    """Ranks for the overall index, the elements and the overall question (the rest: tiers)."""
    return not name.startswith("q:") or name == current.overall_question


def breakdown(cells, weighted, design, n_off, questions, params, mapper) -> dict:
    """Share satisfied on the overall question per office × service and office × channel, each
    a domain of the whole sample's design."""
    overall = [
        c for c, q in enumerate(questions) if q["dimension"] == "overall" and q["kind"] == "likert5"
    ]
    mask = np.isin(cells["column"], overall)
    out = {}
    if not mask.any():  # analysis' cell functions need at least one cell
        empty = {
            k: np.zeros(0)
            for k in (
                "office",
                "key",
                "responses",
                "weight_total",
                "n",
                "n_eff",
                "value",
                "low",
                "high",
                "reliable",
            )
        }
        return {"services": {**empty, "label": []}, "channels": {**empty, "label": []}}
    _field_of, _fields, service_codes = mapper
    for name, key, resp_key in (
        ("services", cells["service_id"][mask], weighted.service),
        ("channels", cells["channel"][mask], weighted.channel),
    ):
        keys, inverse = np.unique(
            np.concatenate([key, resp_key]).astype(np.int64), return_inverse=True
        )
        k = keys.size
        a_idx, r_idx = inverse[: key.size], inverse[key.size :]
        domain = cells["office"][mask] * k + a_idx
        table = analysis.proportion_cells(
            Cells(
                domain=domain,
                stratum=cells["stratum"][mask],
                value=cells["value"][mask],
                count=cells["count"][mask],
                weight=cells["weight"][mask],
                n_domains=n_off * k,
                design=design,
            ),
            threshold=analysis.SATISFIED_FROM,
            method=params.method,
            level=params.level,
        )
        responses = np.bincount(weighted.office * k + r_idx, weighted.count, n_off * k)
        weights = np.bincount(
            weighted.office * k + r_idx, weighted.count * weighted.weight, n_off * k
        )
        rows = np.flatnonzero(responses > 0)
        out[name] = {
            "office": rows // k,
            "key": keys[rows % k],
            "responses": responses[rows],
            "weight_total": weights[rows],
            "n": table.n[rows],
            "n_eff": table.n_eff[rows],
            "value": table.value[rows],
            "low": table.low[rows],
            "high": table.high[rows],
            "reliable": table.reliable[rows],
        }
    out["services"]["label"] = [service_codes.get(int(s), "") for s in out["services"]["key"]]
    out["channels"]["label"] = [CHANNEL_NAMES[int(c)] for c in out["channels"]["key"]]
    return out
