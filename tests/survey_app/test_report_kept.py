"""An ended period's report is computed once per process and kept while its sources are
unchanged (reporting/kept.py): the API answers again from memory, with an entity tag, and any
change to the rollup, the catalogue or the caller's scope is a new report."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from .test_api_reports import _insert_response
from .test_reporting import seed

Q = "from=2025-03-01&to=2025-03-31"
URL = f"/api/v1/reports/satisfaction?{Q}"


@pytest.fixture
def seeded(app, db, make_office, make_service, questionnaire):
    return seed(db, make_office, make_service, questionnaire, scale=0.5)


@pytest.fixture
def headers(db):
    from survey_app.api.auth import create_token

    def make(office=None):
        _, plain = create_token("test", office, ("reports:read",))
        db.session.commit()
        return {"Authorization": f"Bearer {plain}"}

    return make


@pytest.fixture
def builds(monkeypatch):
    """How many times a report was computed."""
    from survey_app.reporting import kept

    calls = []
    real = kept.build_report

    def counted(params):
        calls.append(params)
        return real(params)

    monkeypatch.setattr(kept, "build_report", counted)
    return calls


def _late_response(db, office, questionnaire, when: datetime) -> None:
    from survey_app.models import Answer, Response

    r = Response(
        office=office,
        questionnaire_id=questionnaire.id,
        channel="qr_web",
        submitted_at=when,
    )
    r.answers = [Answer(question_id=q.id, value=1) for q in questionnaire.questions[:6]]
    db.session.add(r)
    db.session.commit()


def test_an_ended_period_is_computed_once_and_tagged(client, seeded, headers, builds):
    auth = headers()
    first = client.get(URL, headers=auth)
    second = client.get(URL, headers=auth)
    assert first.status_code == second.status_code == 200
    assert len(builds) == 1  # the second answer came from memory
    assert first.data == second.data
    etag, _ = first.get_etag()
    assert etag and second.get_etag()[0] == etag
    assert first.headers["Cache-Control"] == "private, no-cache"
    # A client that has it already gets 304 and no body (from the kept text: nothing computed)
    again = client.get(URL, headers={**auth, "If-None-Match": f'"{etag}"'})
    assert again.status_code == 304 and again.data == b""
    assert again.get_etag()[0] == etag and len(builds) == 1
    stale = client.get(URL, headers={**auth, "If-None-Match": '"something-else"'})
    assert stale.status_code == 200 and stale.data == first.data


def test_a_late_answer_makes_a_new_report(client, db, seeded, questionnaire, headers, builds):
    auth = headers()
    before = client.get(URL, headers=auth)
    office = seeded["offices"]["C"]
    _late_response(db, office, questionnaire, datetime(2025, 3, 15, 3, tzinfo=UTC))
    after = client.get(URL, headers=auth)
    assert len(builds) == 2
    assert after.get_etag()[0] != before.get_etag()[0]
    old = {o["code"]: o["responses"] for o in before.json["offices"]}
    new = {o["code"]: o["responses"] for o in after.json["offices"]}
    assert new == {**old, "C": old["C"] + 1}
    # the tag the client holds no longer matches: it gets the new figures
    refreshed = client.get(URL, headers={**auth, "If-None-Match": before.headers["ETag"]})
    assert refreshed.status_code == 200 and refreshed.data == after.data


def test_a_years_report_stays_kept_when_buckets_within_it_are_built_again(
    client, db, seeded, questionnaire, headers, builds
):
    """A year's report reads its year's rollup rows alone: days of that year pruned and rolled
    again for a custom period (or a page's trend months built after it) leave its tag, and its
    kept and stored texts, as they were; a change to one of its days does not."""
    from survey_app.reporting import rollup

    auth = headers()
    year = "/api/v1/reports/satisfaction?from=2025-01-01&to=2025-12-31"
    before = client.get(year, headers=auth)
    assert before.status_code == 200 and len(builds) == 1
    assert rollup.prune_days(keep_months=1) > 0  # 2025's days deleted, its months and year kept
    custom = client.get("/api/v1/reports/satisfaction?from=2025-03-15&to=2025-03-20", headers=auth)
    assert custom.status_code == 200 and len(builds) == 2  # its days rolled again
    again = client.get(year, headers=auth)
    assert len(builds) == 2 and again.data == before.data  # from memory: the same tag
    assert again.get_etag() == before.get_etag()
    _late_response(db, seeded["offices"]["C"], questionnaire, datetime(2025, 3, 15, 3, tzinfo=UTC))
    after = client.get(year, headers=auth)
    assert len(builds) == 3 and after.get_etag() != before.get_etag()
    old = {o["code"]: o["responses"] for o in before.json["offices"]}
    assert {o["code"]: o["responses"] for o in after.json["offices"]} == {**old, "C": old["C"] + 1}


def test_a_renamed_office_makes_a_new_report(client, db, seeded, headers, builds):
    auth = headers()
    before = client.get(URL, headers=auth)
    seeded["offices"]["D"].name = "Sở Y tế tỉnh"
    db.session.commit()
    after = client.get(URL, headers=auth)
    assert len(builds) == 2 and after.get_etag()[0] != before.get_etag()[0]
    assert {o["code"]: o["name"] for o in after.json["offices"]}["D"] == "Sở Y tế tỉnh"


def test_each_scope_has_its_own_report(client, seeded, headers, builds):
    everyone = client.get(URL, headers=headers())
    manager = client.get(URL, headers=headers(seeded["offices"]["A"]))
    assert [o["code"] for o in everyone.json["offices"]] == ["A", "B", "C", "D", "E"]
    assert [o["code"] for o in manager.json["offices"]] == ["A", "B"]
    assert manager.get_etag()[0] != everyone.get_etag()[0]
    # the manager cannot get the whole report's text by sending its tag
    probe = client.get(
        URL, headers={**headers(seeded["offices"]["A"]), "If-None-Match": everyone.headers["ETag"]}
    )
    assert probe.status_code == 200 and probe.data == manager.data


def test_a_running_period_is_always_computed(client, db, seeded, questionnaire, headers, builds):
    from survey_app.reporting import local_today

    today = local_today()
    url = f"/api/v1/reports/satisfaction?from={today.replace(day=1)}&to={today}"
    office = seeded["offices"]["E"]
    first = client.get(url, headers=headers())
    _insert_response(db, office, questionnaire, minutes_ago=1)
    second = client.get(url, headers=headers())
    assert len(builds) == 2 and first.get_etag() == second.get_etag() == (None, None)
    count = {o["code"]: o["responses"] for o in second.json["offices"]}["E"]
    assert count == {o["code"]: o["responses"] for o in first.json["offices"]}["E"] + 1


def test_the_tag_is_the_same_in_another_process(app, seeded):
    """A tag is a digest of canonical text (sets sorted), so every worker gives the same."""
    from survey_app.reporting import Params, Period
    from survey_app.reporting.kept import tag

    march = Period(date(2025, 3, 1), date(2025, 3, 31))
    ids = [o.id for o in seeded["offices"].values()]
    one = tag(Params(march, scope=frozenset(ids), visible=frozenset(ids)), False)
    other = tag(Params(march, scope=frozenset(ids[::-1]), visible=frozenset(sorted(ids))), False)
    assert one == other
    assert tag(Params(march), False) != tag(Params(march), True) != one
    assert tag(Params(march, source="raw"), False) is None


def test_kept_texts_stay_within_their_bytes_and_seconds(app, monkeypatch):
    from survey_app.reporting import kept

    store = kept.Kept()
    store.put("a", b"x" * 40, limit=100)
    store.put("b", b"y" * 40, limit=100)
    assert store.get("a", 60) == b"x" * 40  # a is now the most recently used
    store.put("c", b"z" * 40, limit=100)  # over 100 bytes: b goes first
    assert store.get("b", 60) is None and store.get("a", 60) and store.get("c", 60)
    store.put("huge", b"h" * 101, limit=100)  # larger than the whole store: not kept
    assert store.get("huge", 60) is None and len(store) == 2
    clock = [1000.0]
    monkeypatch.setattr(kept.time, "monotonic", lambda: clock[0])
    store.put("d", b"d", limit=100)
    clock[0] += 59
    assert store.get("d", 60) == b"d"
    clock[0] += 2
    assert store.get("d", 60) is None


def test_the_cache_can_be_turned_off(app, client, seeded, headers, builds):
    app.config["REPORT_CACHE_SECONDS"] = 0
    auth = headers()
    client.get(URL, headers=auth)
    client.get(URL, headers=auth)
    assert len(builds) == 2


def test_the_dashboard_shares_the_tag(app, client, db, seeded, questionnaire, builds):
    """The officials' pages key their ended periods' documents by the same tag: a late answer
    or a renamed office shows on the next page."""
    from survey_app.dashboard.data import document
    from survey_app.reporting import Period

    march = Period(date(2025, 3, 1), date(2025, 3, 31))
    first = document(None, march, None)
    assert document(None, march, None) is first and len(builds) == 1
    seeded["offices"]["D"].name = "Sở Y tế mới"
    db.session.commit()
    renamed = document(None, march, None)
    assert len(builds) == 2
    assert {o["code"]: o["name"] for o in renamed["offices"]}["D"] == "Sở Y tế mới"
    _late_response(db, seeded["offices"]["D"], questionnaire, datetime(2025, 3, 2, 4, tzinfo=UTC))
    later = document(None, march, None)
    assert len(builds) == 3
    d = {o["code"]: o["responses"] for o in later["offices"]}["D"]
    assert d == {o["code"]: o["responses"] for o in renamed["offices"]}["D"] + 1


def test_office_filters_share_one_computed_report(app, client, seeded, headers, builds):
    """Which offices are shown changes no figure: office=A and office=C of the same period are
    one computation, and each equals what is computed without the kept report."""
    auth = headers()
    a = client.get(f"{URL}&office=A", headers=auth)
    c = client.get(f"{URL}&office=C", headers=auth)
    assert len(builds) == 1 and builds[0].visible is None
    assert [o["code"] for o in a.json["offices"]] == ["A", "B"]
    assert [o["code"] for o in c.json["offices"]] == ["C"]
    app.config["REPORT_CACHE_SECONDS"] = 0
    assert client.get(f"{URL}&office=A", headers=auth).data == a.data
    assert client.get(f"{URL}&office=C", headers=auth).data == c.data


def test_a_scoped_caller_reuses_the_full_report(app, client, seeded, headers, builds):
    """A manager's document needs the full report (its group's benchmarks) and its own
    offices' report: the full one computed for the admin before serves it too."""
    client.get(URL, headers=headers())
    manager = headers(seeded["offices"]["A"])
    kept = client.get(URL, headers=manager)
    assert len(builds) == 2  # the admin's full report, then the manager's own offices
    assert builds[1].universe == {seeded["offices"]["A"].id, seeded["offices"]["B"].id}
    app.config["REPORT_CACHE_SECONDS"] = 0
    assert client.get(URL, headers=manager).data == kept.data


def test_a_change_outside_the_scope_leaves_a_managers_tag(
    client, db, seeded, questionnaire, headers
):
    """The entity tag is the digest of the caller's own document: a late answer at an office
    outside a manager's scope rebuilds the period's rollup (a new kept text), but when the
    manager's document does not change (its group's benchmarks are withheld: too few offices
    outside its scope), neither does its tag, so the tag tells nothing of other offices."""
    manager = headers(seeded["offices"]["A"])
    before = client.get(URL, headers=manager)
    group = before.json["groups"][0]
    assert group["index"] is None and group["reason"]  # withheld
    _late_response(db, seeded["offices"]["C"], questionnaire, datetime(2025, 3, 9, 3, tzinfo=UTC))
    everyone = client.get(URL, headers=headers())
    assert {o["code"]: o["responses"] for o in everyone.json["offices"]}["C"] > 0
    after = client.get(URL, headers={**manager, "If-None-Match": before.headers["ETag"]})
    assert after.status_code == 304 and after.headers["ETag"] == before.headers["ETag"]


def test_the_catalogue_stamp_follows_every_row_a_report_reads(app, db, seeded):
    """The stamp changes with each catalogue value a report shows or groups by (an office's
    name, English name, group, parent or activity; a service's field; a question is never
    edited once answered, test_questionnaire_versions.py) and only then; on PostgreSQL it is
    digested in SQL."""
    from survey_app.models import Service
    from survey_app.reporting.kept import catalogue_stamp

    def stamp():
        db.session.commit()  # a new transaction: read again
        with app.test_request_context():
            return catalogue_stamp(db.session)

    offices = seeded["offices"]
    service = db.session.scalars(db.select(Service)).first()
    seen = {stamp()}
    assert stamp() in seen  # nothing changed
    for obj, attribute, value in [
        (offices["D"], "name", "Sở Y tế, tỉnh"),  # a comma in a value
        (offices["D"], "name_en", "Department of Health (new)"),
        (offices["D"], "is_active", False),
        (offices["B"], "parent_id", offices["C"].id),
        (offices["E"], "group", "communes"),
        (service, "field", "Đất đai mới"),
    ]:
        assert getattr(obj, attribute) != value
        setattr(obj, attribute, value)
        now = stamp()
        assert now not in seen, attribute
        seen.add(now)


def test_kept_reports_fill_a_budget_of_offices(app, seeded, builds):
    """REPORT_CACHE_OFFICES bounds the kept reports by their offices, least recently used
    first; the default keeps a page's fourteen months of a province."""
    import calendar

    from survey_app.reporting import Period
    from survey_app.reporting.kept import REPORT_OVERHEAD, kept_report, reports
    from survey_app.reporting.report import Params

    def month(year, m):
        return Params(Period(date(year, m, 1), date(year, m, calendar.monthrange(year, m)[1])))

    with app.test_request_context():
        jan, feb, mar = month(2025, 1), month(2025, 2), month(2025, 3)
        offices = len(kept_report(jan).offices)
        assert offices == 5 and len(builds) == 1
        app.config["REPORT_CACHE_OFFICES"] = 2 * (offices + REPORT_OVERHEAD)  # two reports
        kept_report(feb), kept_report(jan), kept_report(feb)
        assert len(builds) == 2  # both kept
        kept_report(mar)  # a third: the least recently used (January) goes
        assert len(builds) == 3 and len(reports) == 2
        kept_report(feb), kept_report(mar)
        assert len(builds) == 3
        kept_report(jan)
        assert len(builds) == 4
        # the default: fourteen months (a trend of twelve, a month and its previous) stay
        app.config.pop("REPORT_CACHE_OFFICES")
        reports.clear()
        months = [month(2024 + (m > 12), (m - 1) % 12 + 1) for m in range(1, 15)]
        for params in months * 2:
            kept_report(params)
        assert len(builds) == 4 + 14


@pytest.mark.parametrize("budget, again", [(None, False), (4 * (5 + 25), True)])
def test_another_office_s_page_reuses_the_kept_reports(
    client, app, db, seeded, builds, budget, again
):
    """An office's page after another's in the same group computes no report the first page
    computed (its twelve months of trend included); with room for four reports of the
    province, as before, it computed its trend again."""
    from survey_app.dashboard import data

    from .officials import make_user, sign_in

    if budget is not None:
        app.config["REPORT_CACHE_OFFICES"] = budget
    app.config["REPORT_STORE_MB"] = 0  # C's documents computed again, from the kept reports
    make_user(db, "admin@x.vn", "admin")
    sign_in(client, "admin@x.vn")
    period = "period=custom&from=2025-03-01&to=2025-03-31"
    assert client.get(f"/offices/A?{period}").status_code == 200
    first = len(builds)
    assert first >= 13  # its month (with the previous) and twelve months of trend
    data.clear_cache()  # the documents (another office's are others anyway); reports stay
    assert client.get(f"/offices/C?{period}").status_code == 200
    assert (len(builds) > first) is again
