"""Benchmark analysis on cell counts: 10,000 offices × 20 questions from 10 million responses.

Builds the cell counts SQL would give (office × stratum × question × answer value, and
respondents per office × stratum × pattern of satisfied items) from synthetic responses, then
times the estimation on them: post-stratification weights and the design, shares and means with
intervals for every office × question, SIPAS element and overall indices (variance linearised
over respondents, from the patterns), PAR points, rank intervals and tiers within groups,
funnel data and empirical-Bayes estimates.

    .venv/bin/python bench/analysis.py [--responses 10000000] [--offices 10000] [--repeats 5]

--smoke runs it once on 20,000 responses and 100 offices (tests/bench runs it).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import analysis as an  # noqa: E402

N_QUESTIONS = 20
N_CELLS = 6  # 3 service groups × 2 channels
N_GROUPS = 10
ELEMENT_OF_QUESTION = np.repeat(np.arange(5), 4)
CHUNK = 1_000_000


def build(n_responses: int, n_offices: int, seed: int = 2024):
    """Synthetic responses reduced to cell counts and post-stratification inputs."""
    rng = np.random.default_rng(seed)
    share = rng.lognormal(0.0, 1.0, n_offices)
    office = np.repeat(np.arange(n_offices), rng.multinomial(n_responses, share / share.sum()))
    quality = rng.normal(1.7, 0.6, n_offices)  # office's latent satisfaction
    question_shift = rng.normal(0.0, 0.3, N_QUESTIONS)
    cut = np.array([-1.5, -0.7, 0.0, 1.6])  # latent cut points for answers 1..5
    n_bins = n_offices * N_CELLS * N_QUESTIONS * 5
    counts = np.zeros(n_bins, np.int64)
    cell_counts = np.zeros(n_offices * N_CELLS, np.int64)
    pattern_keys = []  # office × cell × bit mask of the satisfied items, per respondent
    for start in range(0, n_responses, CHUNK):
        off = office[start : start + CHUNK]
        cell = rng.choice(N_CELLS, off.size, p=[0.3, 0.2, 0.2, 0.1, 0.1, 0.1])
        person = quality[off] + rng.normal(0.0, 1.0, off.size) + 0.2 * (cell % 2)
        latent = person[:, None] + question_shift + rng.normal(0.0, 0.7, (off.size, N_QUESTIONS))
        value = np.searchsorted(cut, latent)  # 0..4
        key = ((off * N_CELLS + cell)[:, None] * N_QUESTIONS + np.arange(N_QUESTIONS)) * 5
        counts += np.bincount((key + value).ravel(), minlength=n_bins)
        cell_counts += np.bincount(off * N_CELLS + cell, minlength=n_offices * N_CELLS)
        mask = ((value >= 3) << np.arange(N_QUESTIONS)).sum(axis=1)  # 4s and 5s
        pattern_keys.append((off * N_CELLS + cell).astype(np.int64) << N_QUESTIONS | mask)
    dossiers = np.round(cell_counts * rng.uniform(3, 40, cell_counts.size))
    dossiers += rng.integers(0, 30, cell_counts.size) * (cell_counts == 0)
    keys, pattern_count = np.unique(np.concatenate(pattern_keys), return_counts=True)
    nonzero = np.flatnonzero(counts)
    rest, value = np.divmod(nonzero, 5)
    rest, question = np.divmod(rest, N_QUESTIONS)
    off, cell = np.divmod(rest, N_CELLS)
    return {
        "ps_office": np.repeat(np.arange(n_offices), N_CELLS),
        "ps_cell": np.tile(np.arange(N_CELLS), n_offices),
        "respondents": cell_counts,
        "dossiers": dossiers,
        "office": off,
        "cell": cell,
        "question": question,
        "value": value + 1.0,
        "count": counts[nonzero],
        "group": np.arange(n_offices) % N_GROUPS,
        "n_offices": n_offices,
        "pattern_row": keys >> N_QUESTIONS,  # office × cell
        "pattern_mask": keys & ((1 << N_QUESTIONS) - 1),
        "pattern_count": pattern_count,
    }


def estimate(data):
    """Everything the dashboard shows, from cell counts; returns stage timings in seconds."""
    t = {"start": time.perf_counter()}
    ps = an.poststratify_cells(
        data["ps_office"], data["ps_cell"], data["respondents"], data["dossiers"], min_count=10
    )
    # Rows are in office-major order here; strata (the merged cells) numbered across offices.
    stratum = data["ps_office"] * N_CELLS + ps.stratum
    has = data["respondents"] > 0
    design = an.Design.from_units(
        stratum[has], data["respondents"][has], ps.weight[has], ps.population[has], stratum[has]
    )
    row = data["office"] * N_CELLS + data["cell"]
    cells = an.Cells(
        domain=an.domain_code(data["office"], data["question"], N_QUESTIONS),
        stratum=stratum[row],
        value=data["value"],
        count=data["count"],
        weight=ps.weight[row],
        design=design,
    )
    t["weights"] = time.perf_counter()
    shares, means = an.item_estimates(cells, data["n_offices"], N_QUESTIONS)
    t["items"] = time.perf_counter()
    prow = data["pattern_row"]
    satisfied = (data["pattern_mask"][:, None] >> np.arange(N_QUESTIONS)) & 1 == 1
    patterns = an.Patterns(
        domain=prow // N_CELLS,
        stratum=stratum[prow],
        count=data["pattern_count"],
        weight=ps.weight[prow],
        answered=np.ones(satisfied.shape, dtype=bool),
        satisfied=satisfied,
        n_domains=data["n_offices"],
        design=design,
    )
    elements, overall = an.index_estimates(patterns, ELEMENT_OF_QUESTION)
    an.par_points(overall, max_points=2.0)
    t["indices"] = time.perf_counter()
    ranks = an.rank_intervals(overall, data["group"])
    an.tiers(overall, data["group"], target=0.8)
    an.funnel(overall, target=0.8)
    t["ranking"] = time.perf_counter()
    eb = an.empirical_bayes(overall, data["group"])
    t["eb"] = time.perf_counter()
    stages = ["weights", "items", "indices", "ranking", "eb"]
    out = {s: t[s] - t[p] for p, s in zip(["start", *stages], stages, strict=False)}
    out["total"] = t["eb"] - t["start"]
    out["_result"] = (shares, overall, ranks, eb, cells)
    return out


def main(argv=None):
    """Build the cells, time the estimation and print the stages' medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=10_000_000)
    parser.add_argument("--offices", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="a tiny run: check that it works")
    args = parser.parse_args(argv)
    if args.smoke:
        args.responses, args.offices, args.repeats = 20_000, 100, 1

    start = time.perf_counter()
    data = build(args.responses, args.offices)
    built = time.perf_counter() - start
    print(
        f"build cells from {args.responses:,} responses: {built:.2f} s "
        f"({data['count'].size:,} cells, {data['pattern_count'].size:,} pattern rows)"
    )
    runs = []
    for _ in range(args.repeats):
        run = estimate(data)
        result = run.pop("_result")  # keep only the last run's arrays alive
        runs.append(run)
    shares, overall, ranks, eb, cells = result
    for stage in ["weights", "items", "indices", "ranking", "eb", "total"]:
        times = [r[stage] for r in runs]
        print(
            f"{stage:>8}: median {statistics.median(times):.3f} s "
            f"(min {min(times):.3f}, max {max(times):.3f}, {args.repeats} runs)"
        )
    print(
        f"offices {args.offices:,}, domains {shares.value.size:,}, reliable offices "
        f"{int(overall.reliable.sum()):,}, ranked {int(ranks.ranked.sum()):,}, "
        f"median rank-interval width {np.nanmedian(ranks.rank_high - ranks.rank_low):.0f}"
    )
    if args.smoke:
        print(f"smoke: {shares.value.size:,} domains estimated")


if __name__ == "__main__":
    main()
