"""Imports run one way: analysis knows no web or database code, and reporting computes without
importing the web, API or CLI layers that call it (DESIGN.md section 2)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def _modules_after_import(module: str) -> set[str]:
    """The modules a fresh interpreter holds after importing `module` alone."""
    code = f"import json, sys; import {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout))


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        ("analysis", ("flask", "sqlalchemy", "survey_app", "sms_gateway")),
        (
            "survey_app.reporting.documents",
            (
                "survey_app.api",
                "survey_app.reports_web",
                "survey_app.exports",
                "survey_app.report_commands",
                "survey_app.cli",
                "sms_gateway",
            ),
        ),
        ("survey_app.reporting.rollup", ("survey_app.api", "survey_app.cli", "survey_app.exports")),
    ],
)
def test_a_lower_layer_imports_no_upper_one(module, forbidden):
    loaded = _modules_after_import(module)
    leaked = sorted(m for m in loaded if m.split(".")[0] in forbidden or m.startswith(forbidden))
    assert not leaked, f"{module} imports {leaked}"
