"""From counts to weighted cells: base weights 1/p, post-stratification to returned dossiers.

The rule (docs/methodology.md, "From the database to the estimates"):

- base weight 1/p for an SMS respondent invited with probability p, 1 for the other channels;
- post-strata are office × service group (Service.field, or "not stated"); each is weighted to
  the dossiers the office returned in it during the period, small ones merged as
  `analysis.poststratify_cells` documents; an office with respondents but no returned dossiers
  keeps its base weights;
- the variance strata are post-stratum × channel, so that weights are constant within a cell;
  each stratum's population (for the finite-population correction) is the sum of its weights,
  or infinite (no correction) when that is below its respondents;
- the design (:meth:`Weighted.design`) is every included respondent's: each question, index
  and breakdown is a domain of it, with the post-strata's calibration term in the variance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis import Design, poststratify_cells

from ..models import CHANNELS

N_CHANNELS = len(CHANNELS)


def lookup(keys, table_keys, table_values, missing=-1) -> np.ndarray:
    """Vectorised dictionary look-up: ``table_values`` at ``keys`` (``missing`` if absent)."""
    keys = np.asarray(keys, dtype=np.int64)
    table_keys = np.asarray(table_keys, dtype=np.int64)
    if table_keys.size == 0:
        return np.full(keys.shape, missing)
    order = np.argsort(table_keys, kind="stable")
    sorted_keys = table_keys[order]
    pos = np.clip(np.searchsorted(sorted_keys, keys), 0, sorted_keys.size - 1)
    return np.where(sorted_keys[pos] == keys, np.asarray(table_values)[order][pos], missing)


@dataclass(frozen=True)
class Weighted:
    """Weights of each respondent group (office × service × channel × probability)."""

    office: np.ndarray  # office index
    service: np.ndarray  # service id (0: not stated)
    field: np.ndarray  # service-group code (0: not stated)
    channel: np.ndarray
    probability: np.ndarray
    count: np.ndarray
    weight: np.ndarray
    stratum: np.ndarray  # merged post-stratum × channel, numbered 0 … k − 1 across offices
    population: np.ndarray  # of the stratum, for the finite-population correction
    merged: np.ndarray  # the post-stratum was merged into a neighbour
    poststratum: np.ndarray  # merged post-stratum, unique across offices; −1: not weighted to
    #                          dossiers (an office without returned dossiers keeps base weights)

    def design(self) -> Design:
        """The whole sample's design: strata, populations and post-strata of every respondent."""
        return Design.from_units(
            self.stratum, self.count, self.weight, self.population, self.poststratum
        )

    def attach(self, office, service, channel, probability):
        """Weight, stratum and population of other rows with the same keys (e.g. answers)."""
        mine, theirs = _group_keys(
            (self.office, self.service, self.channel, self.probability),
            (office, service, channel, probability),
        )
        row = lookup(theirs, mine, np.arange(self.office.size))
        if (row < 0).any():
            raise ValueError("answers without a matching respondent group")
        return self.weight[row], self.stratum[row], self.population[row]


def _group_keys(mine, theirs) -> tuple[np.ndarray, np.ndarray]:
    """One integer per (office, service, channel, probability), the same for both row sets.

    Each column is coded by the sorted distinct values of ``mine`` (the respondent groups, the
    shorter set); a value of ``theirs`` that ``mine`` lacks gets a code of its own, so its row
    matches nothing. Only ``mine`` is sorted: ``theirs`` (answer cells) is searched.
    """
    key_a = np.zeros(np.asarray(mine[0]).size, dtype=np.int64)
    key_b = np.zeros(np.asarray(theirs[0]).size, dtype=np.int64)
    for a, b in zip(mine, theirs, strict=True):
        a, b = np.asarray(a), np.asarray(b)
        if a.dtype.kind == "f" or b.dtype.kind == "f":
            a, b = np.round(a.astype(float) * 1e9), np.round(b.astype(float) * 1e9)
        a, b = a.astype(np.int64), b.astype(np.int64)
        values = np.unique(a)
        code_a = np.searchsorted(values, a)
        code_b = np.searchsorted(values, b)
        found = np.zeros(b.size, dtype=bool)
        if values.size:
            found = values[np.minimum(code_b, values.size - 1)] == b
        code_b = np.where(found, code_b, values.size)
        radix = values.size + 1  # mixed radix over the values present: never overflows
        key_a = key_a * radix + code_a
        key_b = key_b * radix + code_b
    return key_a, key_b


def _into_frame(resp_row, row_office, m, pop) -> np.ndarray:
    """Move respondents of a cell without dossiers to their office's largest cell with dossiers
    (most respondents, then most dossiers), so that every weighted cell has a population."""
    orphan = (m > 0) & (pop <= 0)
    if not orphan.any():
        return resp_row
    framed = np.flatnonzero(pop > 0)
    order = framed[np.lexsort((-pop[framed], -m[framed], row_office[framed]))]
    best = np.full(int(row_office.max()) + 1, -1, dtype=np.int64)
    best[row_office[order[::-1]]] = order[::-1]  # the first of each office wins
    target = np.where(orphan, best[row_office], -1)
    move = target[resp_row] >= 0
    return np.where(move, target[resp_row], resp_row)


def weigh(responses: dict, dossiers: dict, field_of_service, *, min_count: int) -> Weighted:
    """Post-stratified weights per respondent group; ``responses`` has office as an index."""
    office = responses["office"].astype(np.int64)
    service = responses["service_id"].astype(np.int64)
    channel = responses["channel"].astype(np.int64)
    prob = responses["probability"]
    count = responses["count"]
    field = field_of_service(service)
    d_office = dossiers["office"].astype(np.int64)
    d_field = field_of_service(dossiers["service_id"].astype(np.int64))
    n_fields = int(max(field.max(initial=0), d_field.max(initial=0))) + 1
    # Population rows: every office × service group with respondents or returned dossiers.
    cell_key = np.concatenate([office * n_fields + field, d_office * n_fields + d_field])
    rows, inverse = np.unique(cell_key, return_inverse=True)
    resp_row, doss_row = inverse[: office.size], inverse[office.size :]
    pop = np.bincount(doss_row, dossiers["returned"], rows.size)
    row_office = rows // n_fields
    resp_row = _into_frame(resp_row, row_office, np.bincount(resp_row, count, rows.size), pop)
    m = np.bincount(resp_row, count, rows.size)
    base = np.bincount(resp_row, count / prob, rows.size)
    office_pop = np.bincount(row_office, pop)
    no_frame = office_pop[row_office] <= 0  # respondents but no dossiers: keep base weights
    pop = np.where(no_frame, base, pop)
    ps = poststratify_cells(
        row_office, rows % n_fields, m, pop, base_weight_sum=base, min_count=min_count
    )
    factor = ps.factor[resp_row]
    weight = factor / prob
    poststratum = office * n_fields + ps.stratum[resp_row]
    # numbered 0 … k − 1 (in the order of post-stratum × channel): the design's rows
    uniq, s_idx = np.unique(poststratum * N_CHANNELS + channel, return_inverse=True)
    s_idx = s_idx.ravel()
    s_weight = np.bincount(s_idx, count * weight, uniq.size)
    s_count = np.bincount(s_idx, count, uniq.size)
    # The weights of a stratum add up to the dossiers it stands for; fewer than its
    # respondents (more answers than dossiers) means no finite-population correction.
    s_pop = np.where(s_weight >= s_count * (1 - 1e-9), np.maximum(s_weight, s_count), np.inf)
    population = np.where(no_frame[resp_row], np.inf, s_pop[s_idx])
    return Weighted(
        office=office,
        service=service,
        field=field,
        channel=channel,
        probability=prob,
        count=count,
        weight=weight,
        stratum=s_idx,
        population=population,
        merged=ps.merged[resp_row],
        poststratum=np.where(no_frame[resp_row], -1, poststratum),
    )


def group_rows(columns) -> tuple[np.ndarray, np.ndarray]:
    """Each row's group (0 … G − 1) of equal values in every column, and a row of each group."""
    key = np.zeros(columns[0].size, dtype=np.int64)
    for column in columns:  # mixed radix over the codes present
        _, codes = np.unique(column, return_inverse=True)
        radix = int(codes.max(initial=0)) + 1
        if int(key.max(initial=0)) >= (1 << 62) // radix:  # renumbered so far: no overflow
            key = np.unique(key, return_inverse=True)[1].ravel()
        key = key * radix + codes.ravel()
    _, first, group = np.unique(key, return_index=True, return_inverse=True)
    return group.ravel(), first
