"""A guard over every log record the test suite produces: none may hold a phone number (E.164,
or a Vietnamese number as people write it). Records are checked as production would write them
(the JSON formatter: message, extra fields and traceback), at INFO and above, as production logs.

tests/conftest.py imports the fixture and the session hook; `find_phone` also checks what a
test's child processes wrote to their stderr."""

from __future__ import annotations

import logging
import re

import pytest

from survey_app.observability import json_formatter

#: +84 912 345 678, +84912345678, 84912345678, 0912345678, 0912 345 678, 091.234.5678,
#: 028 3829 1234: a leading + or 0 or 84, then digits with at most single separators.
PHONE = re.compile(
    r"(?<![\w.+-])"  # not inside an id, a decimal, a hash or another number
    r"(?:\+\d{1,3}(?:[ .-]?\d){7,13}|84\d{9,10}|0\d(?:[ .-]?\d){8,9})"
    r"(?![\w])"
)


def find_phone(text: str) -> str | None:
    """The first thing in a text that looks like a phone number, or None."""
    match = PHONE.search(text)
    return match.group(0) if match else None


class PhoneGuard(logging.Handler):
    """Keeps every record that looks like it holds a phone number."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.formatter_ = json_formatter()
        self.found: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Format the record as production would, and keep it if a number shows."""
        try:
            text = self.formatter_.format(record)
        except Exception:  # noqa: BLE001  (a broken record: check what it carries)
            text = f"{record.msg} {record.args}"
        number = find_phone(text)
        if number:
            self.found.append(f"{record.name}: {number!r} in {text[:300]}")


GUARD = PhoneGuard()


@pytest.fixture(autouse=True)
def no_phone_numbers_in_logs():
    """Fail the test if a log record of it holds a phone number."""
    root = logging.getLogger()
    if GUARD not in root.handlers:  # (alembic's fileConfig replaces the root's handlers)
        root.addHandler(GUARD)
    level = root.level
    root.setLevel(min(level, logging.INFO) if level else logging.INFO)
    seen = len(GUARD.found)
    yield GUARD
    root.setLevel(level)
    found = GUARD.found[seen:]
    del GUARD.found[seen:]
    if found:
        pytest.fail("phone numbers in the logs:\n" + "\n".join(found), pytrace=False)


def pytest_sessionfinish(session, exitstatus):
    """Records outside any test (session fixtures) are checked at the end."""
    if GUARD.found:
        print("\nphone numbers in the logs outside tests:\n" + "\n".join(GUARD.found))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
