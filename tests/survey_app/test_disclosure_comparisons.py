"""A scoped document's comparisons with its group come from the group's report where the
process keeps it, else from the arrays of it that disclosure control reads, kept and stored
(reporting/comparisons.py): the same document either way, for every scope, office filter,
group, period and query, and a new process reads the stored arrays instead of computing the
group's report."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from itertools import product

import pytest

from .scoping import add_responses
from .test_disclosure_trend import _cases, months  # noqa: F401  (the offices' months)
from .test_officials_pages import seeded  # noqa: F401  (the province and its officials)
from .test_report_kept import builds as reports_computed

builds = reports_computed  # the fixture: the reports computed, by their parameters

PERIODS = [
    (date(2025, 2, 1), date(2025, 2, 28)),
    (date(2025, 3, 1), date(2025, 3, 31)),
    (date(2025, 4, 1), date(2025, 4, 30)),
    (date(2025, 1, 1), date(2025, 3, 31)),
    (date(2025, 3, 8), date(2025, 3, 14)),
]


@pytest.fixture
def ranked(db, seeded, months, questionnaire):  # noqa: F811
    """Enough responses in February and March for every office of the departments to be
    ranked (March's previous ranks given)."""
    for (i, code), month in product(enumerate("ABCD"), (2, 3)):
        office = seeded["offices"][code]
        add_responses(db, office, questionnaire, 80, 0.5 + 0.1 * i, seed=i, month=month)
    return months


def _params(start, end, group, scope, visible, compare, questions):
    from survey_app.reporting import Params, Period

    return Params(
        period=Period(start, end),
        group=group,
        visible=None if visible is None else frozenset(visible),
        compare=compare,
        breakdowns=True,
        questions=questions,
        scope=frozenset(scope),
    )


def test_comparisons_from_the_stored_arrays_are_the_report_s(app, db, ranked, monkeypatch):
    from survey_app.reporting import comparisons, disclosure, kept
    from survey_app.reporting.report import build_report

    given = withheld = previous = 0
    for (start, end), case, (compare, questions) in product(
        PERIODS, _cases(ranked), ((False, False), (True, True))
    ):
        params = _params(start, end, *case, compare, questions)
        with monkeypatch.context() as m:  # the group's report itself
            m.setattr(
                disclosure, "group_report", lambda p: build_report(comparisons.group_params(p))
            )
            expected = disclosure.scoped_document(params, breakdowns=True)
        kept.clear()
        with monkeypatch.context() as m:  # never the kept report: the arrays
            m.setattr(comparisons, "peek_report", lambda p: None)
            got = disclosure.scoped_document(params, breakdowns=True)  # computed, stored
            kept.clear()
            parts = disclosure.scoped_document(params, breakdowns=True)  # the stored rows
            m.setattr(comparisons, "MAX_ROWS", 0)
            whole = disclosure.scoped_document(params, breakdowns=True)  # the whole text
        assert got == expected, (start, end, case, compare, questions)
        assert parts == expected and whole == expected, (start, end, case, compare, questions)
        for entry in got["offices"]:
            given += entry["index"].get("rank") is not None
            withheld += entry["index"].get("rank") is None
            previous += (entry["index"].get("change") or {}).get("previous_rank") is not None
    assert given and withheld and previous  # ranks given and withheld, previous ranks given


def test_a_new_process_reads_the_group_s_stored_arrays(app, db, ranked, builds, monkeypatch):
    """A new process reads the head and its office's rows of the stored arrays, not the whole
    text, and computes its own report alone."""
    from survey_app.reporting import comparisons, kept
    from survey_app.reporting.disclosure import scoped_document

    b = frozenset({ranked["B"]})
    params = _params(date(2025, 3, 1), date(2025, 3, 31), "departments", b, None, True, True)
    first = scoped_document(params)
    assert [p.scope for p in builds] == [b, None]  # its own, the group's
    db.session.commit()
    kept.clear()  # a new process: nothing in memory
    read, whole = [], []
    sliced = comparisons.stored_slices
    monkeypatch.setattr(
        comparisons, "stored_slices", lambda k, spans: read.append(spans) or sliced(k, spans)
    )
    monkeypatch.setattr(kept, "stored_text", lambda k: whole.append(k))
    assert scoped_document(params) == first
    assert [p.scope for p in builds[2:]] == [b]  # its own alone
    assert whole == [] and len(read) == 3  # the head's length, the head, its rows
    assert [length for _start, length in read[0] + read[1]] == [8, read[1][0][1]]
    assert len(read[2]) >= 2  # one slice per kind of value (floats, booleans, ...)
    assert first["offices"][0]["index"]["rank"] is not None  # a comparison given


def test_the_group_s_report_an_official_s_page_keeps_serves_its_comparisons(
    app,
    db,
    ranked,
    builds,
    monkeypatch,
):
    """An official's page keeps the group's report computed with its breakdowns; a scoped
    document of the same period reads it (the same figures) instead of computing the report
    without them."""
    from survey_app.reporting import kept
    from survey_app.reporting.comparisons import group_params
    from survey_app.reporting.disclosure import scoped_document

    monkeypatch.setitem(app.config, "REPORT_STORE_MB", 0)  # nothing stored to read instead
    b = frozenset({ranked["B"]})
    params = _params(date(2025, 3, 1), date(2025, 3, 31), "departments", b, None, True, True)
    expected = scoped_document(params)  # its group's report computed without breakdowns
    kept.clear()
    kept.kept_report(replace(group_params(params), breakdowns=True))  # an analyst's page's
    before = len(builds)
    assert scoped_document(params) == expected
    assert [p.scope for p in builds[before:]] == [b]  # its own report alone


def test_a_process_that_keeps_the_group_s_report_stores_its_arrays(app, db, ranked, builds):
    """The first scoped document a process makes from the group's report it keeps stores the
    arrays of it: another process reads them instead of computing the report."""
    from survey_app.reporting import kept
    from survey_app.reporting.comparisons import group_params
    from survey_app.reporting.disclosure import scoped_document

    b = frozenset({ranked["B"]})
    params = _params(date(2025, 3, 1), date(2025, 3, 31), "departments", b, None, True, True)
    kept.kept_report(replace(group_params(params), breakdowns=True))  # an analyst's page's
    first = scoped_document(params)
    db.session.commit()
    kept.clear()  # another process
    before = len(builds)
    assert scoped_document(params) == first
    assert [p.scope for p in builds[before:]] == [b]  # its own report alone
