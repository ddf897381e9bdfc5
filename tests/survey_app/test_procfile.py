"""Every Procfile process names a command that exists."""

import shlex
from pathlib import Path

PROCFILE = Path(__file__).resolve().parents[2] / "Procfile"


def _processes() -> dict[str, list[str]]:
    lines = [line.split(":", 1) for line in PROCFILE.read_text().splitlines() if line.strip()]
    return {name.strip(): shlex.split(command) for name, command in lines}


def test_procfile_has_release_web_and_worker():
    assert set(_processes()) == {"release", "web", "worker"}


def test_release_runs_the_migrations_and_worker_the_sms_worker(runner):
    processes = _processes()
    for name, expected in (("release", ["db", "upgrade"]), ("worker", ["sms", "worker"])):
        argv = processes[name]
        assert argv[:3] == ["flask", "--app", "survey_app"] and argv[3:] == expected
        result = runner.invoke(args=[*expected, "--help"])
        assert result.exit_code == 0, result.output


def test_web_serves_the_app_factory_with_gunicorn(app):
    argv = _processes()["web"]
    assert argv[0] == "gunicorn" and argv[-1] == "survey_app:create_app()"
    module, call = argv[-1].split(":")
    factory = getattr(__import__(module), call.removesuffix("()"))
    assert callable(factory) and factory.__name__ == "create_app"
