"""Coverage of the empirical-Bayes intervals against direct ones, by simulation.

30 offices with true shares evenly spread over 0.78–0.86 and 30 to 300 respondents each (simple
random samples); each replication draws every office's satisfied count, then estimates the
shares directly (Wilson, t on n − 1 df) and by `analysis.empirical_bayes`, and, for comparison,
by the plug-in beta-binomial estimate mscore used before (the prior fitted by moments and taken
as known). Prints how often each 95% interval covers the true share: overall, for the two
extreme offices, and for the worst office, and the mean width.

    .venv/bin/python bench/eb_coverage.py [--replications 1000] [--seed 1] [--smoke]

--smoke runs 20 replications (tests/bench runs it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import special

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import analysis  # noqa: E402

OFFICES = 30
TRUTH = np.linspace(0.78, 0.86, OFFICES)


def sizes(seed: int) -> np.ndarray:
    """Respondents per office: 30 to 300, spread geometrically, in a random order."""
    rng = np.random.default_rng(seed)
    return np.round(np.geomspace(30, 300, OFFICES)).astype(np.int64)[rng.permutation(OFFICES)]


def direct_table(satisfied, n) -> analysis.EstimateTable:
    """Direct estimates of simple random samples: share, binomial se, Wilson interval."""
    p = satisfied / n
    var = p * (1 - p) / n
    low, high = analysis.proportion_interval(p, var, n - 1, n, n, "wilson")
    return analysis.EstimateTable(
        value=p,
        se=np.sqrt(var),
        low=low,
        high=high,
        n=n,
        n_eff=n.astype(float),
        df=n - 1,
        method="wilson",
        level=0.95,
    )


def plug_in(p, n, level=0.95):
    """The former estimate: a beta prior fitted by moments (Kleinman 1973) taken as known."""
    k, total = p.size, n.sum()
    mu = np.dot(n, p) / total
    rho = (np.dot(n, (p - mu) ** 2) / (mu * (1 - mu)) - (k - 1)) / (
        total - np.dot(n, n) / total - (k - 1)
    )
    strength = np.clip(1.0 / np.clip(rho, 1e-12, 1.0) - 1.0, 1.0, total)
    a, b = mu * strength + p * n, (1 - mu) * strength + (1 - p) * n
    alpha = 1 - level
    return special.betaincinv(a, b, alpha / 2), special.betaincinv(a, b, 1 - alpha / 2)


def simulate(replications: int, seed: int = 1) -> dict:
    """Per method: coverage per office and mean width over the replications."""
    n = sizes(seed)
    rng = np.random.default_rng(seed + 1)
    covered = {m: np.zeros(OFFICES) for m in ("direct", "eb", "plug-in")}
    width = dict.fromkeys(covered, 0.0)
    for _ in range(replications):
        table = direct_table(rng.binomial(n, TRUTH).astype(float), n)
        eb = analysis.empirical_bayes(table).table
        for method, (low, high) in (
            ("direct", (table.low, table.high)),
            ("eb", (eb.low, eb.high)),
            ("plug-in", plug_in(table.value, n)),
        ):
            covered[method] += (low <= TRUTH) & (TRUTH <= high)
            width[method] += float(np.mean(high - low))
    return {
        m: {"coverage": covered[m] / replications, "width": width[m] / replications}
        for m in covered
    }


def main(argv=None) -> None:
    """Run the simulation and print the table of coverage."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--smoke", action="store_true", help="a tiny run: check that it works")
    args = parser.parse_args(argv)
    if args.smoke:
        args.replications = 20
    result = simulate(args.replications, args.seed)
    print(f"{OFFICES} offices, shares 0.78-0.86, {args.replications} replications, 95% level")
    print(f"{'method':<10} {'overall':>8} {'extremes':>9} {'worst':>7} {'width':>7}")
    for method, r in result.items():
        c = r["coverage"]
        print(
            f"{method:<10} {c.mean():8.3f} {c[[0, -1]].mean():9.3f} {c.min():7.3f} "
            f"{r['width']:7.3f}"
        )
    if args.smoke:
        print(f"smoke: {len(result)} methods compared")


if __name__ == "__main__":
    main()
