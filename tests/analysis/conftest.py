"""Fixtures for the analysis tests: the synthetic survey and what R survey 4.1.1 made of it."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def survey():
    """The public synthetic survey as numpy arrays, one entry per respondent."""
    with open(DATA / "satisfaction_public.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {
        "office": np.array([r["office"] for r in rows]),
        "stratum": np.array([r["stratum"] for r in rows]),
        "score": np.array([float(r["score"]) for r in rows]),
        "satisfied": np.array([int(r["satisfied"]) for r in rows]),
        "weight": np.array([float(r["weight"]) for r in rows]),
        "fpc": np.array([float(r["stratum_dossiers"]) for r in rows]),
    }


@pytest.fixture(scope="session")
def expected():
    """R survey's results on the survey (see tests/analysis/data and the reference README)."""
    with open(DATA / "satisfaction_public_expected.json") as fh:
        return json.load(fh)
