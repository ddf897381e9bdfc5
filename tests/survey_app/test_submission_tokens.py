"""Server-issued submission tokens: signed, bound to an office and the time of issue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine

from survey_app.services.submission_tokens import TokenCheck, check, issue


def test_a_token_is_valid_for_its_office_within_its_hours(app):
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=False):
        token = issue(7)
    assert len(token) <= 64  # the column it is stored in
    with time_machine.travel(start + timedelta(hours=3, minutes=59), tick=False):
        assert check(token, 7) is TokenCheck.VALID
        assert check(token, 8) is TokenCheck.FORGED  # another office's form
    with time_machine.travel(start + timedelta(hours=4, minutes=1), tick=False):
        assert check(token, 7) is TokenCheck.EXPIRED
        assert check(token, 7, max_age=5 * 3600) is TokenCheck.VALID
        assert check(token, 8) is TokenCheck.FORGED


def test_tokens_are_all_different_and_tampering_is_refused(app):
    tokens = {issue(7) for _ in range(200)}
    assert len(tokens) == 200
    token = next(iter(tokens))
    for i in range(len(token) - 1):  # (the last character's low bits are base64 padding)
        changed = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]
        assert check(changed, 7) is not TokenCheck.VALID, i
    assert check("", 7) is check("x" * 65, 7) is check(None, 7) is TokenCheck.FORGED


def test_a_key_rotation_keeps_open_forms_valid(app):
    token = issue(7)
    old = app.config["SECRET_KEY"]
    app.config.update(
        SECRET_KEY="a-new-secret-key-0123456789abcdef0123", SECRET_KEY_FALLBACKS=[old]
    )
    app.secret_key = app.config["SECRET_KEY"]
    assert check(token, 7) is TokenCheck.VALID
    app.config["SECRET_KEY_FALLBACKS"] = []
    assert check(token, 7) is TokenCheck.FORGED
