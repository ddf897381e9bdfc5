"""Satisfaction statistics for mscore: weights, intervals, indices, rankings and changes.

Pure numpy/scipy: plain arrays and dataclasses in and out, vectorised over every office at
once. Satisfied means a 4 or 5 on the 5-point scale. See ``docs/methodology.md``.

Unit records (the public estimators)::

    from analysis import proportion, mean
    est = proportion(satisfied, weights=w, strata=stratum, fpc=dossiers)   # Wilson, 95%
    est.value, est.low, est.high, est.n_eff, est.df, est.reliable

Cell counts (what ``survey_app/reporting`` gets from SQL). A cell is office × question ×
stratum × answer value with its respondent count, all of whom have the same weight (keep the
channel, and so the SMS base weight, in the stratum)::

    -- SELECT office_idx, question_idx, stratum, value, count(*) ... GROUP BY 1, 2, 3, 4
    from analysis import (Cells, Design, Patterns, domain_code, item_estimates,
                          index_estimates, par_points, poststratify_cells, rank_intervals)

    # 1. weights: one row per office × population cell (service group), every cell with
    #    dossiers even when nobody answered; small cells merge into the largest one.
    ps = poststratify_cells(office=ps_office, cell=ps_cell, respondents=m,
                            population=dossiers, min_count=10)
    # 2. the whole sample's design: every respondent group's stratum, weight, population and
    #    post-stratum; each question (or index) is a domain of it, as R's subset()
    design = Design.from_units(stratum, count, weight, population, poststratum)
    cells = Cells(domain=domain_code(office, question, n_questions), stratum=cell_stratum,
                  value=answer, count=count, weight=cell_weight, design=design)
    shares, means = item_estimates(cells, n_offices, n_questions)   # (offices, questions)
    # 3. indices: respondents per office × stratum × pattern of answered/satisfied items
    patterns = Patterns(domain=office, stratum=..., count=..., weight=...,
                        answered=answered, satisfied=satisfied, n_domains=n_offices,
                        design=design)
    elements, overall = index_estimates(patterns, element_of_item)  # variance over respondents
    points = par_points(overall, max_points=2.0)
    ranks = rank_intervals(overall, groups=office_group)   # joint and individual intervals
    overall[7]            # the Estimate of office 7; overall.reliable is a mask

Every table is an :class:`EstimateTable` of parallel arrays (value, se, low, high, n, n_eff,
df) with ``reliable``, ``deff``, ``select``, ``reshape`` and ``as_dict``.
"""

from .cells import SATISFIED_FROM, Cells, mean_cells, proportion_cells
from .change import Change, change
from .design import Design, linearised_variance
from .estimates import (
    MIN_DF,
    MIN_N_EFF,
    Estimate,
    EstimateTable,
    is_reliable,
    kish_n_eff,
    mean,
    proportion,
)
from .indices import (
    Patterns,
    complaint_free_ratio,
    domain_code,
    index_estimates,
    item_estimates,
    par_points,
)
from .intervals import PROPORTION_METHODS, mean_interval, proportion_interval
from .poststrat import PostStrata, PostStratified, poststratify, poststratify_cells
from .ranking import Funnel, Ranking, funnel, rank_intervals, ranking_se, tiers
from .small_area import Shrunk, empirical_bayes
from .weights import base_weights, design_effect, rake, trim

__all__ = [
    "MIN_DF",
    "MIN_N_EFF",
    "PROPORTION_METHODS",
    "SATISFIED_FROM",
    "Cells",
    "Change",
    "Design",
    "Estimate",
    "EstimateTable",
    "Funnel",
    "Patterns",
    "PostStrata",
    "PostStratified",
    "Ranking",
    "Shrunk",
    "base_weights",
    "change",
    "complaint_free_ratio",
    "design_effect",
    "domain_code",
    "empirical_bayes",
    "funnel",
    "is_reliable",
    "index_estimates",
    "item_estimates",
    "kish_n_eff",
    "linearised_variance",
    "mean",
    "mean_cells",
    "mean_interval",
    "par_points",
    "poststratify",
    "poststratify_cells",
    "proportion",
    "proportion_cells",
    "proportion_interval",
    "rake",
    "rank_intervals",
    "ranking_se",
    "tiers",
    "trim",
]
