"""The officials' pages keep their documents of ended periods in the database's store as well as
in memory (dashboard/data.py, reporting/kept.py): another process, or this one after a restart,
shows the same page without computing its reports, within the same scope only."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from sqlalchemy import func, select

from .officials import sign_in
from .test_officials_pages import P, seeded  # noqa: F401  (the province and its officials)


@pytest.fixture
def computed(monkeypatch):
    """The documents the pages computed (not read from a cache or the store)."""
    from survey_app.dashboard import data

    calls = []
    real, real_trend = data.satisfaction_document, data.trend_document

    def counted(params, breakdowns=False):
        calls.append(params)
        return real(params, breakdowns)

    def counted_trend(params):
        calls.append(params)
        return real_trend(params)

    monkeypatch.setattr(data, "satisfaction_document", counted)
    monkeypatch.setattr(data, "trend_document", counted_trend)
    return calls


def _new_process():
    """What another worker, or this one after a restart, has in memory: nothing."""
    from survey_app.dashboard import data
    from survey_app.reporting import kept

    data.clear_cache()
    kept.clear()


def _stored(db) -> int:
    from survey_app.models import ReportText

    return db.session.scalar(select(func.count()).select_from(ReportText))


def _page(res) -> str:
    """The page without what differs between two requests (nonces, CSRF tokens)."""
    assert res.status_code == 200, res.text[:300]
    return re.sub(r'(nonce|value|content)="[A-Za-z0-9_\-.=+/]{16,}"', "", res.text)


@pytest.mark.parametrize("url", [f"/dashboard?{P}", f"/offices/A?{P}", f"/dashboard/trends?{P}"])
def test_a_new_process_shows_a_page_from_the_stored_documents(client, db, seeded, computed, url):  # noqa: F811
    sign_in(client, "a@x.vn")  # a manager of A (and B under it)
    first = _page(client.get(url))
    assert computed and _stored(db) >= len(computed)
    _new_process()
    before = len(computed)
    again = _page(client.get(url))
    assert len(computed) == before  # every document read from the store
    assert again == first


def test_a_stored_document_is_the_computed_document(app, db, seeded, computed):  # noqa: F811
    from survey_app.dashboard import data
    from survey_app.reporting import Period

    period = Period(date(2025, 3, 1), date(2025, 3, 31))
    with app.test_request_context():
        made = data.document(None, period, None, compare=True)
    db.session.rollback()  # the request's end: what was not committed is gone
    _new_process()
    with app.test_request_context():
        read = data.document(None, period, None, compare=True)
    assert len(computed) == 1
    # the same values (a tuple is read back as a list: their JSON texts are the same)
    assert json.dumps(read, sort_keys=True) == json.dumps(made, sort_keys=True)
    assert read["offices"] and read["offices"] == made["offices"]


def test_each_scope_reads_only_its_own_stored_documents(client, db, seeded, computed):  # noqa: F811
    sign_in(client, "admin@x.vn")
    assert client.get(f"/dashboard?{P}").status_code == 200
    _new_process()
    before = len(computed)
    sign_in(client, "b@x.vn")  # a manager of B alone
    page = client.get(f"/dashboard?{P}")
    assert page.status_code == 200
    assert len(computed) > before  # its own documents, not the admin's
    assert all(p.scope is not None for p in computed[before:])


def test_no_store_no_stored_documents(app, client, db, seeded, computed):  # noqa: F811
    app.config["REPORT_STORE_MB"] = 0
    sign_in(client, "a@x.vn")
    client.get(f"/dashboard?{P}")
    made = len(computed)
    _new_process()
    client.get(f"/dashboard?{P}")
    assert _stored(db) == 0 and len(computed) == 2 * made


def test_a_new_process_reads_only_the_office_s_part_of_its_group(client, db, seeded, monkeypatch):  # noqa: F811
    """An office's page stores its part of the group's document: another process reads that
    part, never the whole group's document (at national scale 31 MB for 3,321 communes)."""
    from survey_app.dashboard import data
    from survey_app.reporting import kept

    sign_in(client, "admin@x.vn")  # every office: the group's document holds several
    wholes = []
    real_parts = data.office_parts

    def parts(doc):
        wholes.append(doc)
        return real_parts(doc)

    monkeypatch.setattr(data, "office_parts", parts)
    first = _page(client.get(f"/offices/A?{P}"))
    assert len(wholes) == 1 and len(wholes[0]["offices"]) > 1
    assert {r["office_code"] for r in wholes[0]["breakdowns"]["services"]} - {"A"}
    _new_process()
    read = []
    real_text = kept.stored_text

    def stored_text(key):
        body = real_text(key)
        read.append(json.loads(body))
        return body

    monkeypatch.setattr(kept, "stored_text", stored_text)
    assert _page(client.get(f"/offices/A?{P}")) == first
    assert len(wholes) == 1  # no whole document read or computed again
    parts = [d for d in read if "breakdowns" in d]  # the page's document (not the trend's)
    assert len(parts) == 1
    assert [e["code"] for e in parts[0]["offices"]] == ["A"]
    for rows in parts[0]["breakdowns"].values():
        assert rows and {r["office_code"] for r in rows} == {"A"}


def test_an_office_s_part_is_its_group_document_less_the_other_offices():
    from survey_app.dashboard.data import office_part

    doc = {
        "period": {"from": "2025-03-01"},
        "groups": [{"group": "communes"}],
        "offices": [{"code": "A", "index": 1}, {"code": "B", "index": 2}],
        "breakdowns": {
            "services": [{"office_code": "A", "n": 1}, {"office_code": "B", "n": 2}],
            "channels": [{"office_code": "B", "n": 3}],
        },
    }
    assert office_part(doc, "A") == {
        "period": {"from": "2025-03-01"},
        "groups": [{"group": "communes"}],
        "offices": [{"code": "A", "index": 1}],
        "breakdowns": {"services": [{"office_code": "A", "n": 1}], "channels": []},
    }
    assert office_part({"offices": [{"code": "B"}]}, "A") == {"offices": []}


def test_an_office_s_stored_part_is_read_in_its_own_scope_only(client, db, seeded, computed):  # noqa: F811
    """The part of B's page stored for a manager of A (who sees A and B) is not what a manager
    of B alone reads: the part's key is the document's tag (the scope in it) and the office."""
    b = seeded["offices"]["B"].id
    sign_in(client, "a@x.vn")
    assert client.get(f"/offices/B?{P}").status_code == 200
    mine = [p for p in computed if p.scope is not None]
    assert mine and all(b in p.scope for p in mine)
    assert any(len(p.scope) > 1 for p in mine)  # A's manager: A and B
    # and the group's months, whose benchmarks its trend shows under disclosure control
    group = [p for p in computed if p.scope is None]
    assert len(group) == 12 and all(p.visible is None and not p.compare for p in group)
    _new_process()
    before = len(computed)
    sign_in(client, "b@x.vn")  # a manager of B alone
    assert client.get(f"/offices/B?{P}").status_code == 200
    assert all(p.scope == frozenset({b}) for p in computed[before:])
    # its own page document (the one with breakdowns), not the part stored for A's manager
    assert any(p.breakdowns for p in computed[before:])


def test_the_page_cache_counts_its_documents_text(app, db, seeded, computed):  # noqa: F811
    """The pages' documents are kept within DASHBOARD_CACHE_MB of JSON text (a national
    group's document is tens of MB): room for one of two documents keeps the last one only."""
    import orjson

    from survey_app.dashboard import data
    from survey_app.reporting import Period

    app.config["REPORT_STORE_MB"] = 0  # nothing read back from the store: memory or computed
    march = Period(date(2025, 3, 1), date(2025, 3, 31))
    february = Period(date(2025, 2, 1), date(2025, 2, 28))

    def view(period):
        with app.test_request_context():
            return data.document(None, period, None, compare=True)

    sizes = [len(orjson.dumps(view(p))) for p in (march, february)]
    assert len(computed) == 2
    view(march), view(february)
    assert len(computed) == 2  # both kept under the default budget
    _new_process()
    app.config["DASHBOARD_CACHE_MB"] = (max(sizes) + 1) / 1_000_000  # one, not both
    view(march), view(february), view(february)
    assert len(computed) == 4  # February kept
    view(march)
    assert len(computed) == 5  # March was pushed out by February


def test_a_new_process_shows_an_office_no_process_has_shown_from_stored_parts(
    client,
    db,
    seeded,  # noqa: F811
    computed,
    monkeypatch,
):
    """The first office page of a group stores every office's part of the group's document,
    and of each month of the trend every office's slice (its index and responses): another
    office's page, in another process, computes nothing and reads neither the whole document
    nor a whole month, and is the page that process would have computed."""
    from survey_app.reporting import kept

    sign_in(client, "admin@x.vn")
    assert _page(client.get(f"/offices/A?{P}"))
    assert len(computed) == 13  # the page's document and twelve months
    assert all(p.visible is None for p in computed)  # the group's, for every office
    _new_process()
    read = []
    real_text = kept.stored_text

    def stored_text(key):
        body = real_text(key)
        read.append(json.loads(body) if body is not None else None)
        return body

    monkeypatch.setattr(kept, "stored_text", stored_text)
    shown = _page(client.get(f"/offices/C?{P}"))
    assert len(computed) == 13  # nothing computed
    assert len(read) == 13 and None not in read
    for doc in read:  # C's part of the page's document, C's slice of each month
        assert [e["code"] for e in doc["offices"]] == ["C"]
    for month in read[1:]:
        assert set(month["offices"][0]) == {"code", "name", "group", "index", "responses"}
        assert set(month["offices"][0]["index"]) == {"value", "low", "high", "n", "reliable"}
    # what a process with nothing stored computes for C's page
    monkeypatch.setattr(kept, "stored_text", real_text)
    from survey_app.models import ReportText

    db.session.execute(ReportText.__table__.delete())
    db.session.commit()
    _new_process()
    assert _page(client.get(f"/offices/C?{P}")) == shown
    assert len(computed) == 26


def test_an_office_s_trend_is_its_entry_in_its_group_s_months(app, db, seeded):  # noqa: F811
    """Without a scope an office's trend figures are the same read from its group's month
    (written by trend_document alone) as from the whole document of the office alone."""
    from survey_app.dashboard import data
    from survey_app.dashboard.offices import _entry
    from survey_app.reporting import Period

    group = str(seeded["offices"]["A"].group)
    months = [Period(date(2025, m, 1), date(2025, m, 31)) for m in (1, 3)]
    with app.test_request_context():
        for month in months:
            whole = data.document(None, month, group, trend=True)
            assert {e["code"] for e in whole["offices"]} == {"A", "B", "C", "D"}
            for code in "ABCD":
                own = data.trend_part(data.document(None, month, group, office=code))
                entry = _entry(own, code)
                assert entry is not None and _entry(whole, code) == entry
                assert own["groups"] == whole["groups"]
                sliced = data.document(None, month, group, office=code, trend=True)
                assert sliced["offices"] == [entry] and sliced["groups"] == own["groups"]
        assert any(_entry(whole, c)["index"]["value"] is not None for c in "ABCD")


def test_a_scoped_official_never_reads_the_group_s_trend_slices(
    client,
    db,
    seeded,  # noqa: F811
    computed,
    monkeypatch,
):
    """The slices of the group's months stored for officials who see every office hold every
    office's figures; a manager of B alone computes its own twelve months (over B alone, under
    disclosure control) instead of reading B's slice, and reads only the columns of the group's
    months that its groups' benchmarks need (disclosure.scoped_trend)."""
    from survey_app.dashboard import data

    b = seeded["offices"]["B"].id
    keys, months = [], []
    real_document, real_trend = data.kept_document, data.scoped_trend

    def kept_document(key, compute):
        keys.append(key)
        return real_document(key, compute)

    def scoped_trend(params, month):
        months.append((params, month))
        return real_trend(params, month)

    monkeypatch.setattr(data, "kept_document", kept_document)
    monkeypatch.setattr(data, "scoped_trend", scoped_trend)
    sign_in(client, "admin@x.vn")
    assert client.get(f"/offices/A?{P}").status_code == 200  # every office's slices stored
    group_months = {k for k in keys if k.endswith(" trend")}
    assert len(group_months) == 12
    _new_process()
    before, keys[:] = len(computed), []
    sign_in(client, "b@x.vn")
    assert client.get(f"/offices/B?{P}").status_code == 200
    assert [p.scope for p in computed[before:]] == [frozenset({b})]  # its page's document
    assert len(months) == 12 and all(p.scope == frozenset({b}) for p, _m in months)
    assert all(len(m["code"]) == 4 for _p, m in months)  # the group's: A, B, C and D
    # the columns of the group's months that the benchmarks read (scoped_trend.month_columns),
    # stored with the slices: read from the store, not computed, and not the months' entries
    assert {f"{k} columns" for k in group_months} <= set(keys)
    assert not group_months & set(keys)
    assert not [k for k in keys if k.endswith(" trend B")]  # never B's slice


def test_a_page_stores_its_documents_with_one_commit(client, db, seeded, computed, monkeypatch):  # noqa: F811
    """An office page's documents, computed on a first view, are stored in one transaction:
    one commit, and every tag of them made with the catalogue's stamp of that transaction
    (read once, not after each commit)."""
    from survey_app.dashboard import offices
    from survey_app.extensions import db as database
    from survey_app.reporting import kept

    sign_in(client, "admin@x.vn")
    assert client.get(f"/offices/A?{P}").status_code == 200  # the months rolled up
    sign_in(client, "b@x.vn")
    commits, connections = [], []
    real_commit, real_stamp = database.session.commit, kept.catalogue_stamp

    def commit():
        commits.append(1)
        real_commit()

    def catalogue_stamp(session):
        connections.append(session.connection())
        return real_stamp(session)

    real_documents, during = offices.office_page_documents, []

    def office_page_documents(*args):
        before = len(commits)
        out = real_documents(*args)
        during.append(len(commits) - before)
        return out

    monkeypatch.setattr(database.session, "commit", commit)
    monkeypatch.setattr(offices, "office_page_documents", office_page_documents)
    monkeypatch.setattr(kept, "catalogue_stamp", catalogue_stamp)
    before = _stored(db)
    assert client.get(f"/offices/B?{P}").status_code == 200
    assert len(computed) == 13 + 1  # the admin's 13, B's page document (its months: scoped_trend)
    assert during == [1]  # one commit for every document the page stored
    assert len(connections) > 13 and len({id(c) for c in connections}) == 1
    # B's page document, its twelve months and its group's comparisons (comparisons.py)
    assert _stored(db) == before + 13 + 1


def test_a_scoped_trend_without_the_stored_columns_reads_the_group_s_months(
    client,
    db,
    seeded,  # noqa: F811
    computed,
    monkeypatch,
):
    """Where the columns of the group's months are not stored (pruned, or months stored before
    they were), a scoped official's trend takes them from the group's stored months, computes
    no group report, stores them again and shows the same page."""
    from survey_app.dashboard import data
    from survey_app.models import ReportText
    from survey_app.reporting.text_store import document_key

    keys = []
    real_document = data.kept_document

    def kept_document(key, compute):
        keys.append(key)
        return real_document(key, compute)

    monkeypatch.setattr(data, "kept_document", kept_document)
    sign_in(client, "admin@x.vn")
    assert client.get(f"/offices/A?{P}").status_code == 200
    columns = [document_key(f"{k} columns") for k in keys if k.endswith(" trend")]
    sign_in(client, "b@x.vn")
    expected = _page(client.get(f"/offices/B?{P}"))
    db.session.execute(ReportText.__table__.delete().where(~ReportText.tag.in_(columns)))
    db.session.commit()  # B's documents are computed again, the group's stored again
    _new_process()
    sign_in(client, "admin@x.vn")
    assert client.get(f"/offices/A?{P}").status_code == 200
    gone = db.session.execute(ReportText.__table__.delete().where(ReportText.tag.in_(columns)))
    assert gone.rowcount == 12
    db.session.commit()
    _new_process()
    before = len(computed)
    sign_in(client, "b@x.vn")
    assert _page(client.get(f"/offices/B?{P}")) == expected
    assert all(p.scope is not None for p in computed[before:])  # no group's report
    stored = db.session.scalars(select(ReportText.tag).where(ReportText.tag.in_(columns)))
    assert len(stored.all()) == 12
