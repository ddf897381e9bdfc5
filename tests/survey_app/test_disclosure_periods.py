"""Disclosure control across documents (issue 16 §1): a scoped caller gets comparisons with its
group only for periods that cannot be played against each other — ended calendar months,
quarters and years without flagged responses, every month of which rests on at least 3 outside
offices. Otherwise the difference of two benchmarks (1–20 March less 1–19 March, today's less
yesterday's, with and without flagged responses) could be one outside office's."""

from __future__ import annotations

import pytest

from survey_app.reporting.disclosure import (
    REASON_FLAGGED,
    REASON_PERIOD,
    REASON_SMALL_MONTH,
    calendar_months,
)
from survey_app.reporting.periods import Period

from .scoping import add_responses, bearer

Q1 = "from=2025-01-01&to=2025-03-31"


@pytest.fixture
def departments(db, make_office, questionnaire):
    """Department A (the caller's) and C, D, F outside it, with responses in January and
    March 2025; in February only A, C and D answered (two outside offices)."""
    offices = {code: make_office(code, f"Sở {code}") for code in "ACDF"}
    for i, code in enumerate("ACDF"):
        for month in (1, 3):
            add_responses(
                db, offices[code], questionnaire, 40, 0.7, seed=i * 10 + month, month=month
            )
    for i, code in enumerate("ACD"):
        add_responses(db, offices[code], questionnaire, 40, 0.7, seed=100 + i, month=2)
    return offices


def _department_group(client, headers, query):
    doc = client.get(f"/api/v1/reports/satisfaction?{query}", headers=headers).json
    (group,) = [g for g in doc["groups"] if g["group"] == "departments"]
    (office,) = [o for o in doc["offices"] if o["code"] == "A"]
    return group, office


def test_an_ended_calendar_month_with_three_outside_offices_gets_its_benchmark(
    client, db, departments
):
    headers = bearer(db, "reports:read", office=departments["A"])
    group, office = _department_group(client, headers, "from=2025-03-01&to=2025-03-31")
    assert group["benchmark"] == "given" and group["index"]["value"] is not None
    assert office["index"]["rank"] is not None and office["index"]["group_size"] == 4


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("from=2025-03-01&to=2025-03-20", REASON_PERIOD),  # not a calendar period
        ("from=2025-03-02&to=2025-03-31", REASON_PERIOD),
        ("from=2025-02-01&to=2025-03-31", REASON_PERIOD),  # two months: not a quarter
        ("from=2025-03-01&to=2025-03-31&include_flagged=true", REASON_FLAGGED),
        (Q1, REASON_SMALL_MONTH),  # February rests on two outside offices
    ],
)
def test_other_periods_withhold_every_comparison_with_a_reason(
    client, db, departments, query, reason
):
    headers = bearer(db, "reports:read", office=departments["A"])
    group, office = _department_group(client, headers, query)
    assert group["benchmark"] == "withheld" and group["reason"] == reason
    assert group["index"] is None
    assert office["index"]["value"] is not None  # the caller's own figures stay
    assert office["index"]["rank"] is None and office["index"]["group_size"] is None


def test_a_quarter_whose_every_month_has_three_outside_offices_gets_its_benchmark(
    client, db, departments, questionnaire
):
    add_responses(db, departments["F"], questionnaire, 40, 0.7, seed=7, month=2)
    headers = bearer(db, "reports:read", office=departments["A"])
    group, _office = _department_group(client, headers, Q1)
    assert group["benchmark"] == "given" and group["index"]["value"] is not None


def test_a_running_period_gives_no_comparisons(client, db, departments):
    from survey_app.reporting import local_today

    today = local_today()
    month = f"from={today.replace(day=1).isoformat()}&to={today.isoformat()}"
    headers = bearer(db, "reports:read", office=departments["A"])
    group, _office = _department_group(client, headers, month)
    assert group["reason"] == REASON_PERIOD


def test_an_unscoped_caller_keeps_every_comparison(client, db, departments):
    headers = bearer(db, "reports:read")
    doc = client.get(
        "/api/v1/reports/satisfaction?from=2025-03-01&to=2025-03-20", headers=headers
    ).json
    (group,) = [g for g in doc["groups"] if g["group"] == "departments"]
    assert group["index"]["value"] is not None and group["offices"] == 4


@pytest.mark.parametrize(
    ("start", "end", "months"),
    [
        ("2025-03-01", "2025-03-31", 1),
        ("2025-04-01", "2025-06-30", 3),
        ("2024-01-01", "2024-12-31", 12),
        ("2025-02-01", "2025-04-30", None),  # three months, not a calendar quarter
        ("2025-01-01", "2025-02-28", None),
        ("2025-03-01", "2025-03-30", None),
        ("2024-12-01", "2025-02-28", None),
    ],
)
def test_calendar_months_of_a_period(start, end, months):
    from datetime import date

    found = calendar_months(Period(date.fromisoformat(start), date.fromisoformat(end)))
    assert (None if found is None else len(found)) == months
    if found:
        assert found[0] == date.fromisoformat(start) and all(m.day == 1 for m in found)


def test_a_month_s_rule_counts_the_report_s_responses_and_reads_no_more(
    app, db, departments, questionnaire, monkeypatch
):
    """One month: the offices with valid responses that the every-month rule counts are those
    the group's report counts, so its gates read no more rows; they equal the rule's, with an
    outside office whose February responses are all flagged counted by neither (February:
    two outside offices, withheld alone and within the quarter)."""
    from datetime import UTC, date, datetime

    from sqlalchemy import update

    from survey_app.models import Response
    from survey_app.reporting import disclosure
    from survey_app.reporting.comparisons import group_params
    from survey_app.reporting.kept import kept_report
    from survey_app.reporting.report import Params

    add_responses(db, departments["F"], questionnaire, 40, 0.7, seed=8, month=2)
    feb = Response.submitted_at.between(
        datetime(2025, 2, 1, tzinfo=UTC), datetime(2025, 2, 28, 23, tzinfo=UTC)
    )
    db.session.execute(
        update(Response)
        .where(Response.office_id == departments["F"].id, feb)
        .values(integrity="flagged")
    )
    db.session.commit()
    read = []
    counted = disclosure.offices_with_responses_by_month

    def spy(session, months, office_ids):
        read.append(list(months))
        return counted(session, months, office_ids)

    monkeypatch.setattr(disclosure, "offices_with_responses_by_month", spy)
    scope = frozenset({departments["A"].id})
    given = {}
    for month, end in ((1, 31), (2, 28), (3, 31)):
        params = Params(Period(date(2025, month, 1), date(2025, month, end)), scope=scope)
        full = kept_report(group_params(params))
        gates = disclosure.group_gates(params, full, scope)
        assert read == []  # no month read again
        rule = disclosure._monthly_enough(full, scope, [date(2025, month, 1)])
        assert list(gates.given) == list(gates._enough(full.current.stats["responses"] > 0) & rule)
        read.clear()
        given[month] = dict(zip(gates.groups, gates.reasons, strict=True))["departments"]
    assert given == {1: None, 2: disclosure.REASON_SMALL_GROUP, 3: None}
    quarter = Params(Period(date(2025, 1, 1), date(2025, 3, 31)), scope=scope)
    gates = disclosure.group_gates(quarter, kept_report(group_params(quarter)), scope)
    assert len(read) == 1 and len(read[0]) == 3  # a quarter's months, read once
    assert dict(zip(gates.groups, gates.reasons, strict=True))["departments"] == REASON_SMALL_MONTH
