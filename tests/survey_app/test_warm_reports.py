"""`flask mscore warm-reports` stores the dashboard's office pages at night (dashboard/data.py
`warm_office_pages`): every group's pages of each ended period of the selector, and each office
manager's own page of the last ended month, quarter and year, so that the next morning's first
views, in any process, compute nothing."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from .officials import sign_in
from .test_dashboard_store import _new_process, _page, computed  # noqa: F401  (a fixture)
from .test_officials_pages import seeded  # noqa: F401  (the province and its officials)


def test_warm_reports_stores_every_office_page_of_each_ended_period(
    client,
    db,
    seeded,  # noqa: F811
    computed,  # noqa: F811
    runner,
):
    """`flask mscore warm-reports` stores the office pages of every ended period the
    dashboard's selector offers (12 months, 7 quarters, 2 years on 10 April 2025) for every
    office, a group at a time: the next morning's first view of any office's page of those
    periods, in a new process, computes nothing; the next night's run finds them stored."""
    from survey_app.dashboard.filters import ended_choice_keys
    from survey_app.reporting import periods

    def warm() -> list[str]:
        with pytest.MonkeyPatch.context() as patch:  # the last ended month is March 2025
            patch.setattr(periods, "local_today", lambda: date(2025, 4, 10))
            result = runner.invoke(args=["mscore", "warm-reports"])
        assert result.exit_code == 0, result.output
        return [line for line in result.output.splitlines() if "office pages of" in line]

    pages = warm()
    keys = ended_choice_keys(date(2025, 4, 10))
    assert len(keys) == 21 and keys[:3] == ["2025-03", "2025-02", "2025-01"]
    # the two ranking groups (A-D, E) of each period
    assert [line.split(",")[0] for line in pages] == [k for k in keys for _group in (1, 2)]
    assert any("(4 offices)" in line for line in pages)
    made = len(computed)
    assert made > 2 * len(keys)  # a page per group and period, and their trend months
    _new_process()
    sign_in(client, "admin@x.vn")
    views = [("2025-03", code) for code in "BCD"] + [(k, c) for k in keys for c in "AE"]
    for period, code in views:
        page = client.get(f"/offices/{code}?period={period}")
        assert page.status_code == 200, (period, code)
        assert period[:4] in page.text
    assert len(computed) == made  # every page read from the store
    _new_process()
    assert warm() and len(computed) == made  # the next night: all found stored


@pytest.mark.parametrize(
    ("today", "keys"),
    [
        (date(2025, 4, 10), (12, "2025-03", "2024-04", 7, "2025-Q1", "2023-Q3", ["2024", "2023"])),
        (date(2025, 3, 31), (12, "2025-02", "2024-03", 7, "2024-Q4", "2023-Q2", ["2024", "2023"])),
        (date(2025, 1, 1), (12, "2024-12", "2024-01", 7, "2024-Q4", "2023-Q2", ["2024", "2023"])),
    ],
)
def test_the_selector_s_ended_periods(today, keys):
    """The selector offers the last 13 months, 8 quarters and 3 years, the running ones
    included; those that have ended are 12 months, 7 quarters and 2 years."""
    from survey_app.dashboard.filters import ended_choice_keys

    ended = ended_choice_keys(today)
    months = [k for k in ended if len(k) == 7 and "Q" not in k]
    quarters = [k for k in ended if "Q" in k]
    assert (len(months), months[0], months[-1], len(quarters), quarters[0], quarters[-1]) == keys[
        :6
    ]
    assert [k for k in ended if len(k) == 4] == keys[6]


@pytest.mark.parametrize(
    ("today", "keys"),
    [
        (date(2025, 4, 10), ["2025-03", "2025-Q1", "2024"]),
        (date(2025, 1, 1), ["2024-12", "2024-Q4", "2024"]),
        (date(2025, 7, 1), ["2025-06", "2025-Q2", "2024"]),
        (date(2025, 12, 31), ["2025-11", "2025-Q3", "2024"]),
    ],
)
def test_the_last_ended_month_quarter_and_year(today, keys):
    from survey_app.dashboard.filters import ended_period_keys

    assert ended_period_keys(today) == keys


PERIODS = ["2025-03", "2025-Q1", "2024"]  # the last ended month, quarter and year on 10 April 2025


def test_warm_reports_stores_each_manager_s_own_page(client, db, seeded, computed, monkeypatch):  # noqa: F811
    """`flask mscore warm-reports` also stores each office manager's page of their own office,
    as they see it (their scope's documents, under disclosure control): their first view of
    the last month, quarter and year, in a new process, computes nothing, and shows what it
    would have computed. A disabled manager's office is not warmed."""
    from survey_app.dashboard import data, filters
    from survey_app.models import ReportText, User
    from survey_app.reporting import periods

    scoped, real_trend = [], data.scoped_trend

    def scoped_trend(params, month):
        scoped.append(params.scope)
        return real_trend(params, month)

    monkeypatch.setattr(data, "scoped_trend", scoped_trend)
    # the groups' pages of the managers' three periods only (every ended period: the test above)
    monkeypatch.setattr(filters, "ended_choice_keys", filters.ended_period_keys)
    pages = {}
    views = [(e, c, p) for e, c in (("a@x.vn", "A"), ("b@x.vn", "B")) for p in PERIODS]
    for email, code, period in views:  # computed, as before warming
        sign_in(client, email)
        pages[email, period] = _page(client.get(f"/offices/{code}?period={period}"))
    db.session.execute(ReportText.__table__.delete())
    disabled = db.session.scalar(select(User).where(User.email == "a@x.vn"))
    db.session.commit()
    _new_process()
    scoped[:] = []
    for enabled in (False, True):  # a disabled manager's office first, then every manager's
        disabled.is_enabled = enabled
        db.session.commit()
        with pytest.MonkeyPatch.context() as patch:  # the last ended month is March 2025
            patch.setattr(periods, "local_today", lambda: date(2025, 4, 10))
            result = runner_output(client.application)
        own = [line for line in result.splitlines() if "managers' own pages" in line]
        assert [line.split(",")[0] for line in own] == PERIODS
        assert all(("(2 offices)" in line) == enabled for line in own), own
    a, b = seeded["offices"]["A"].id, seeded["offices"]["B"].id
    assert {frozenset({a, b}), frozenset({b})} <= set(scoped)  # their own months, computed
    _new_process()
    made, scoped[:] = len(computed), []
    for email, code, period in views:
        sign_in(client, email)
        assert _page(client.get(f"/offices/{code}?period={period}")) == pages[email, period]
    assert len(computed) == made and not scoped  # every document read from the store


def runner_output(app) -> str:
    result = app.test_cli_runner().invoke(args=["mscore", "warm-reports"])
    assert result.exit_code == 0, result.output
    return result.output


def test_what_warm_reports_finds_stored_is_not_pruned_for_its_age(
    client,
    db,
    seeded,  # noqa: F811
    computed,  # noqa: F811
    monkeypatch,
):
    """Stored texts are pruned REPORT_STORE_DAYS (35) after they were stored. What a night's
    warm-reports finds stored by an earlier night counts as stored that night, every office's
    part and trend slice included (one office's page stored them all, and the warm reads only
    that office's): 40 days after the first night, the first views of every office's page and
    of each manager's own page still compute nothing."""
    from survey_app.dashboard import filters
    from survey_app.models import ReportText
    from survey_app.reporting import periods, text_store

    # the managers' three periods only (every ended period: the first test)
    monkeypatch.setattr(filters, "ended_choice_keys", filters.ended_period_keys)

    def night() -> None:
        with pytest.MonkeyPatch.context() as patch:  # the last ended month is March 2025
            patch.setattr(periods, "local_today", lambda: date(2025, 4, 10))
            runner_output(client.application)
        _new_process()

    night()
    for text in db.session.scalars(select(ReportText)):
        text.stored_at -= timedelta(days=30)  # the first night was 30 days ago
    db.session.commit()
    made = len(computed)
    night()
    assert len(computed) == made  # everything found stored
    real_now = text_store.utcnow
    monkeypatch.setattr(text_store, "utcnow", lambda: real_now() + timedelta(days=10))
    assert text_store.prune_stored(35) > 0  # what no night reads: another office's scoped part
    db.session.commit()
    views = [("admin@x.vn", code) for code in "ABCDE"] + [("a@x.vn", "A"), ("b@x.vn", "B")]
    for email, code in views:
        sign_in(client, email)
        for period in PERIODS:
            page = client.get(f"/offices/{code}?period={period}")
            assert page.status_code == 200, (email, code, period)
    assert len(computed) == made  # every page read from the store


def test_a_manager_s_first_view_of_another_period_computes_only_its_own_reports(
    client,
    db,
    seeded,  # noqa: F811
    computed,  # noqa: F811
    monkeypatch,
):
    """warm-reports stores, with each group's pages of every ended period, the arrays of the
    group's report that scoped officials' comparisons read (reporting/comparisons.py): a
    manager's first view of a period whose own page was not warmed (an older quarter), in a new
    process, computes its own reports only, never the group's (a commune group's year: 20 s at
    national scale), and shows the page computed without warming."""
    from survey_app.models import ReportText
    from survey_app.reporting import kept, periods

    sign_in(client, "b@x.vn")
    expected = _page(client.get("/offices/B?period=2024-Q3"))
    db.session.execute(ReportText.__table__.delete())
    db.session.commit()
    _new_process()
    with pytest.MonkeyPatch.context() as patch:  # the last ended month is March 2025
        patch.setattr(periods, "local_today", lambda: date(2025, 4, 10))
        runner_output(client.application)
    _new_process()
    reports, real, together = [], kept.build_report, kept.build_reports

    def build_report(params):
        reports.append(params)
        return real(params)

    def build_reports(many):  # a trend's months, computed in one pass
        reports.extend(many)
        return together(many)

    monkeypatch.setattr(kept, "build_report", build_report)
    monkeypatch.setattr(kept, "build_reports", build_reports)
    sign_in(client, "b@x.vn")
    assert _page(client.get("/offices/B?period=2024-Q3")) == expected
    assert reports and all(p.universe is not None for p in reports)  # its own only
