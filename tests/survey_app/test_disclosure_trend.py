"""A scoped official's trend (disclosure.scoped_trend) reads its groups' benchmarks from the
group's months kept and stored for officials who see every office, instead of computing the
group's report for each month: for every scope, office filter, group and period, what the
trend reads is what it reads of the scoped document computed with the group's report
(disclosure.scoped_document), given and withheld benchmarks alike."""

from __future__ import annotations

from datetime import UTC, date, datetime

import orjson
import pytest

from .scoping import add_responses
from .test_officials_pages import seeded  # noqa: F401  (the province and its officials)

PERIODS = [
    (date(2025, 1, 1), date(2025, 1, 31)),  # nobody answered
    (date(2025, 2, 1), date(2025, 2, 28)),  # A, C, D and E answered, D rated nothing
    (date(2025, 3, 1), date(2025, 3, 31)),  # everybody answered
    (date(2025, 4, 1), date(2025, 4, 30)),  # C and D alone: too few outside any scope
    (date(2025, 1, 1), date(2025, 3, 31)),  # a quarter with a month nobody answered
    (date(2025, 2, 1), date(2025, 3, 31)),  # not a calendar month, quarter or year
]


@pytest.fixture
def months(db, seeded, questionnaire):  # noqa: F811
    from survey_app.models import Answer, Response

    offices = seeded["offices"]
    for code, n in (("A", 6), ("C", 40), ("E", 10)):
        add_responses(db, offices[code], questionnaire, n, 0.7, seed=n, month=2)
    yes_no = next(q for q in questionnaire.questions if q.kind == "yes_no")
    for minute in (1, 2):  # D: two responses without a rating, so without an index
        at = datetime(2025, 2, 12, 3, minute, tzinfo=UTC)
        db.session.add(
            Response(
                office=offices["D"],
                questionnaire_id=questionnaire.id,
                channel="qr_web",
                submitted_at=at,
                answers=[Answer(question_id=yes_no.id, value=1)],
            )
        )
    db.session.commit()
    for code in "CD":
        add_responses(db, offices[code], questionnaire, 30, 0.6, seed=3, month=4)
    return {code: office.id for code, office in offices.items()}


def _cases(ids: dict) -> list[tuple]:
    """(group, scope, visible office ids) as the officials' pages ask them."""
    a, b, c, e = ids["A"], ids["B"], ids["C"], ids["E"]
    return [
        ("departments", {b}, None),  # a manager of B: A, C and D outside
        ("departments", {a, b}, None),  # a manager of A and B: two outside
        ("departments", {a, b}, {b}),  # the same, on B's page
        ("departments", {c}, None),
        ("districts", {e}, None),  # a group of one
        (None, {b}, None),  # every group
        (None, {b, e}, None),
    ]


def test_a_scoped_trend_is_the_scoped_document_s(app, db, months):
    from survey_app.dashboard.data import trend_part
    from survey_app.reporting import Params, Period
    from survey_app.reporting.comparisons import group_params
    from survey_app.reporting.disclosure import scoped_document
    from survey_app.reporting.documents import trend_document
    from survey_app.reporting.scoped_trend import month_columns, scoped_trend

    shown = []
    for start, end in PERIODS:
        for group, scope, visible in _cases(months):
            params = Params(
                period=Period(start, end),
                group=group,
                visible=None if visible is None else frozenset(visible),
                breakdowns=False,
                questions=False,
                scope=frozenset(scope),
            )
            document = scoped_document(params)
            expected = trend_part(document)
            # the group's month as a new process reads it from the store
            month = trend_part(trend_document(group_params(params)))
            columns = orjson.loads(orjson.dumps(month_columns(month)))
            trend = scoped_trend(params, columns)
            assert trend_part(trend) == expected, (start, end, scope)
            assert _benchmarks(trend) == _benchmarks(document)  # and why one is withheld
            shown += [(g["benchmark"], g["index"] is not None) for g in expected["groups"]]
    assert ("given", True) in shown and ("withheld", False) in shown
    assert ("given", False) in shown  # a group given, its index withheld (D: no rating)


def _benchmarks(document: dict) -> list[dict]:
    keys = ("group", "benchmark", "reason", "index")
    return [{k: entry[k] for k in keys} for entry in document["groups"]]


def test_a_month_of_another_catalogue_is_not_read(app, db, months):
    """A group's month whose offices are not the report's (the catalogue changed since it was
    written) is not read: the group's report is computed instead."""
    from survey_app.dashboard.data import trend_part
    from survey_app.reporting import Params, Period
    from survey_app.reporting.comparisons import group_params
    from survey_app.reporting.disclosure import scoped_document
    from survey_app.reporting.documents import trend_document
    from survey_app.reporting.scoped_trend import month_columns, scoped_trend

    params = Params(
        period=Period(date(2025, 3, 1), date(2025, 3, 31)),
        group="departments",
        breakdowns=False,
        questions=False,
        scope=frozenset({months["B"]}),
    )
    month = trend_part(trend_document(group_params(params)))
    wrong = {**month, "offices": month["offices"][::-1]}  # A's figures would be D's
    for entry in wrong["offices"]:
        entry["responses"], entry["index"] = 0, None  # nobody outside answered, it would say
    expected = trend_part(scoped_document(params))
    assert expected["groups"][0]["benchmark"] == "given"
    assert trend_part(scoped_trend(params, month_columns(wrong))) == expected
