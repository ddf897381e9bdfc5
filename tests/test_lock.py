"""The lock files pin every dependency that pyproject.toml names (issue 16 §7): a dependency
added without `make lock` fails here, before a fresh machine installs something else."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^ ;\\]+)", re.M)


def _pins(name: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for package, version in PIN.findall((ROOT / name).read_text()):
        out.setdefault(_norm(package), []).append(version)
    return out


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared(extra: str | None = None) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = project["dependencies"] if extra is None else project["optional-dependencies"][extra]
    return [Requirement(r) for r in names]


def test_every_dependency_is_pinned_within_its_range():
    for lock, declared in (
        ("requirements.lock", _declared()),
        ("requirements-dev.lock", _declared() + _declared("dev")),
    ):
        pins = _pins(lock)
        for requirement in declared:
            versions = pins.get(_norm(requirement.name))
            assert versions, f"{requirement.name} is not in {lock}: run `make lock`"
            for version in versions:
                assert requirement.specifier.contains(version, prereleases=True), (
                    f"{lock} pins {requirement.name}=={version} outside {requirement}: "
                    "run `make lock`"
                )
        text = (ROOT / lock).read_text()
        assert "--hash=sha256:" in text, f"{lock} has no hashes"


def test_production_runs_the_versions_the_tests_ran():
    dev, run = _pins("requirements-dev.lock"), _pins("requirements.lock")
    for package, versions in run.items():
        assert set(versions) <= set(dev.get(package, [])), package
