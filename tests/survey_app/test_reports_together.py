"""A manager's first view of a period: reports computed together (report.build_reports: a scoped
official's trend months, each a report over its own offices, in one pass, the catalogue and the
months' rollup rows read once, every figure the report's computed alone), and each tag and
rollup check made once within a page's documents (reporting/once.py)."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date

import pytest

from .officials import sign_in
from .test_dashboard_store import _new_process, _page
from .test_disclosure_trend import months  # noqa: F401  (a fixture: responses in 2025's months)
from .test_officials_pages import seeded  # noqa: F401  (the province and its officials)


def _same(a, b, path="") -> None:
    """Equal documents, floats within rounding (the rows of a bucket are added in another
    order)."""
    if isinstance(a, float) and isinstance(b, float):
        assert (math.isnan(a) and math.isnan(b)) or math.isclose(
            a, b, rel_tol=1e-9, abs_tol=1e-12
        ), path
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), path
        for key in a:
            _same(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{path}[{i}]")
    else:
        assert a == b, path


PERIODS = [
    (date(2025, 1, 1), date(2025, 1, 31)),  # nobody answered
    (date(2025, 2, 1), date(2025, 2, 28)),
    (date(2025, 3, 1), date(2025, 3, 31)),
    (date(2025, 4, 1), date(2025, 4, 30)),
    (date(2025, 1, 1), date(2025, 3, 31)),  # a quarter: three months' buckets added up
    (date(2025, 2, 10), date(2025, 3, 20)),  # days and a month
]


@pytest.mark.parametrize(
    "case",
    [
        {},  # every office
        {"group": "departments"},
        {"universe": "A"},  # an office alone, as a manager's own report
        {"universe": "AC", "group": "departments"},
        {"include_flagged": True, "questions": False, "breakdowns": False},
    ],
)
def test_reports_together_are_the_reports_alone(app, db, months, monkeypatch, case):  # noqa: F811
    from survey_app.reporting import Params, Period, report
    from survey_app.reporting.tables import breakdown_rows, report_json

    ids = months
    base = Params(period=Period(*PERIODS[0]))
    if "universe" in case:
        chosen = frozenset(ids[code] for code in case["universe"])
        base = replace(base, universe=chosen, visible=chosen)
    base = replace(base, **{k: v for k, v in case.items() if k != "universe"})
    many = [replace(base, period=Period(start, end)) for start, end in PERIODS]

    fetched = []
    real = report.fetch_counts

    def fetch_counts(*args, **kwargs):
        fetched.append(kwargs.get("by_tile", False))
        return real(*args, **kwargs)

    monkeypatch.setattr(report, "fetch_counts", fetch_counts)
    together = report.build_reports(many)
    assert fetched == [True]  # one read of every period's rows
    fetched.clear()
    alone = [report.build_report(params) for params in many]
    assert fetched == [False] * len(many)
    for one, other in zip(together, alone, strict=True):
        assert one.params == other.params
        _same(report_json(one), report_json(other))
        if base.breakdowns:
            for name in ("services", "channels"):
                _same(breakdown_rows(one, name), breakdown_rows(other, name))


def test_reports_that_cannot_be_read_together_are_computed_alone(app, db, months, monkeypatch):  # noqa: F811
    """With the previous period, a year (its bucket's moments), a period that includes today or
    parameters that differ beside the period, each report is computed alone."""
    from survey_app.reporting import Params, Period, local_today, report

    calls = []
    real = report.build_report
    monkeypatch.setattr(report, "build_report", lambda p: calls.append(p) or real(p))
    jan, feb = (Period(*PERIODS[i]) for i in (0, 1))
    today = local_today()
    for many in (
        [Params(period=jan, compare=True), Params(period=feb, compare=True)],
        [Params(period=jan), Params(period=Period(date(2024, 1, 1), date(2024, 12, 31)))],
        [Params(period=jan), Params(period=Period(today.replace(day=1), today))],
        [Params(period=jan), Params(period=feb, group="departments")],
        [Params(period=jan)],
    ):
        calls.clear()
        reports = report.build_reports(many)
        assert calls == many
        assert [r.params for r in reports] == many


def test_a_manager_s_trend_months_are_computed_in_one_pass(client, db, seeded, monkeypatch):  # noqa: F811
    """A manager's page in a new process computes the trend months that neither its process
    keeps nor the store holds together, once: the first view all twelve, after two of them were
    dropped from the store those two, after a restart none; the page is the page computed month
    by month."""
    from survey_app.dashboard import data
    from survey_app.models import ReportText
    from survey_app.reporting import kept

    sign_in(client, "b@x.vn")
    url = "/offices/B?period=2024-Q3"
    with monkeypatch.context() as patch:  # month by month, as before
        patch.setattr(data, "_own_months", lambda *args: None)
        expected = _page(client.get(url))
    db.session.execute(ReportText.__table__.delete())
    db.session.commit()
    _new_process()

    passes, real = [], kept.build_reports

    def build_reports(many):
        passes.append(many)
        return real(many)

    monkeypatch.setattr(kept, "build_reports", build_reports)
    assert _page(client.get(url)) == expected
    assert len(passes) == 1 and len(passes[0]) == 12  # October 2023 to September 2024
    assert all(p.scope and p.universe and p.universe <= p.scope for p in passes[0])  # its own
    starts = sorted(p.period.start for p in passes[0])
    assert starts[0] == date(2023, 10, 1) and starts[-1] == date(2024, 9, 1)

    # two months' stored documents gone (pruned): those two alone, in a new process
    trend_keys = _trend_keys(client, "B", starts[3:5])
    deleted = db.session.execute(
        ReportText.__table__.delete().where(ReportText.tag.in_(trend_keys))
    ).rowcount
    db.session.commit()
    assert deleted == 2
    _new_process()
    passes.clear()
    assert _page(client.get(url)) == expected
    assert [sorted(p.period.start for p in many) for many in passes] == [starts[3:5]]

    _new_process()  # everything stored: nothing computed
    passes.clear()
    assert _page(client.get(url)) == expected
    assert passes == []


def _trend_keys(client, code: str, starts: list[date]) -> list[str]:
    """The store's keys of a manager's trend documents of these months (dashboard/data.py)."""
    from survey_app.api.auth import subtree
    from survey_app.dashboard.data import _params
    from survey_app.dashboard.filters import period_of
    from survey_app.models import Office, User
    from survey_app.reporting import kept
    from survey_app.reporting.text_store import document_key

    with client.application.test_request_context():
        user = User.query.filter_by(email="b@x.vn").one()
        scope, group = subtree(user.office_id), Office.query.filter_by(code=code).one().group
        keys = []
        for start in starts:
            params = _params(scope, period_of(start.strftime("%Y-%m")), group, code)
            keys.append(document_key(f"{kept.tag(params, False)} trend"))
        return keys


def test_a_period_s_rows_read_with_others_are_its_rows_read_alone(app, db, months):  # noqa: F811
    """fetch.tile_counts of fetch_counts(by_tile) are fetch_counts of the period's buckets
    alone: the same rows, one per key (a quarter's months added up), in any order."""
    import numpy as np

    from survey_app.reporting import Period
    from survey_app.reporting.fetch import KINDS, fetch_counts, tile_counts
    from survey_app.reporting.rollup import buckets, ensure_rolled

    periods = [Period(*p) for p in PERIODS]
    for period in periods:
        ensure_rolled(period)
    tiles = sorted({tile for period in periods for tile in buckets(period)})
    together = fetch_counts(db.session, tiles, None, by_tile=True)

    def rows(part: dict, keys, values) -> list[tuple]:
        columns = [part[k] for k in (*keys, *values)]
        return sorted(zip(*(c.tolist() for c in columns), strict=True))

    for period in periods:
        mine = tile_counts(together, [tiles.index(t) for t in buckets(period)])
        alone = fetch_counts(db.session, buckets(period), None)
        for name, (keys, values) in KINDS.items():
            got, want = rows(mine[name], keys, values), rows(alone[name], keys, values)
            assert got == want, (period, name)
            assert len({row[: len(keys)] for row in got}) == len(got)  # one row per key
        assert np.asarray(alone["answers"]["count"]).sum() == sum(
            np.asarray(mine["answers"]["count"]).tolist()
        )


def test_a_page_makes_each_tag_once(client, db, seeded, monkeypatch):  # noqa: F811
    """Within a page's documents (kept.one_commit) each tag is made once, and each rollup bucket
    checked once (reporting/once.py), not for every time a month is asked for: the same page,
    with fewer reads of the buckets' build times."""
    from survey_app.dashboard import data
    from survey_app.reporting import kept, once

    stamps, real = [], kept.rollup_stamp
    monkeypatch.setattr(kept, "rollup_stamp", lambda s, p: stamps.append(p) or real(s, p))
    sign_in(client, "b@x.vn")
    url = "/offices/B?period=2024-Q3"
    pages = []
    for memo in (False, True):
        with monkeypatch.context() as patch:
            if not memo:
                patch.setattr(once, "made_once", lambda name: None)
                patch.setattr(data, "made_once", lambda name: None)
            _new_process()
            stamps.clear()
            pages.append((_page(client.get(url)), len(stamps)))
    (without, read_without), (with_memo, read_with) = pages
    assert with_memo == without
    assert read_with < read_without / 1.5  # 40 different tags of 65 asked for


def test_within_a_page_a_day_marked_stale_is_rolled_again(app, db, months):  # noqa: F811
    """A rollup bucket found built within a page's documents is checked again once a day of it
    is marked stale in the same transaction (staleness.py forgets what once.py held)."""
    from sqlalchemy import select

    from survey_app.models.rollups import MONTH, RollupDay
    from survey_app.reporting import Period
    from survey_app.reporting.kept import one_commit
    from survey_app.reporting.rollup import ensure_rolled
    from survey_app.reporting.staleness import mark_stale

    march = Period(date(2025, 3, 1), date(2025, 3, 31))
    marked = select(RollupDay.day).where(RollupDay.grain == MONTH, RollupDay.day == march.start)
    with app.test_request_context(), one_commit():
        ensure_rolled(march)
        assert db.session.scalar(marked) == march.start
        mark_stale([date(2025, 3, 10)])
        assert db.session.scalar(marked) is None
        ensure_rolled(march)
        assert db.session.scalar(marked) == march.start


def test_a_report_of_one_office_estimates_its_group_once(app, db, months, monkeypatch):  # noqa: F811
    """A report over one office (a manager's own month) has one group, of that office: its
    estimates are computed once, the office's and the group's the same figures, the group's
    counts its own."""
    from survey_app.reporting import Params, Period, report
    from survey_app.reporting.tables import report_json

    calls, real = [], report._items
    monkeypatch.setattr(report, "_items", lambda *a: calls.append(1) or real(*a))
    a = frozenset({months["A"]})
    for params in (
        Params(period=Period(*PERIODS[2]), universe=a, visible=a),
        Params(period=Period(*PERIODS[2]), universe=a, visible=a, compare=True),
    ):
        calls.clear()
        document = report_json(report.build_report(params))
        assert len(calls) == 1 + params.compare  # the office's domains once a period
        (office,), (group,) = document["offices"], document["groups"]
        assert office["responses"] == group["responses"] > 0
        compared = 0
        for measure, mine in office.items():
            theirs = group.get(measure)
            if isinstance(mine, dict) and isinstance(theirs, dict) and "value" in mine:
                keys = ("value", "low", "high", "n")
                assert {k: mine[k] for k in keys} == {k: theirs[k] for k in keys}, measure
                compared += 1
        assert compared >= 1
    two = frozenset({months["A"], months["C"]})
    calls.clear()
    report.build_report(Params(period=Period(*PERIODS[2]), universe=two, group="departments"))
    assert len(calls) == 2  # two offices in one group: its domains apart
