"""The report API's texts of ended periods are stored in the database under their tags
(reporting/kept.py): a text computed in one process is read by the others and after a restart,
never across a change of its sources or of the caller's scope; `flask mscore warm-reports`
computes the common ones ahead and `update-rollup` prunes old ones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from . import test_report_kept as kept_tests
from .test_report_kept import URL, _late_response

# the fixtures of the kept reports' tests: the same province, tokens and count of computations
seeded, headers, builds = kept_tests.seeded, kept_tests.headers, kept_tests.builds


def _new_process():
    """What another worker (or this one after a restart) has in memory: nothing."""
    from survey_app.reporting import kept

    kept.clear()


def _stored(db) -> dict[str, int]:
    from survey_app.models import ReportText

    return dict(db.session.execute(select(ReportText.tag, ReportText.size)).all())


def test_a_text_computed_in_one_process_is_read_in_another(client, db, seeded, headers, builds):
    auth = headers()
    first = client.get(URL, headers=auth)
    assert first.status_code == 200 and len(builds) == 1
    stored = _stored(db)
    assert list(stored.values()) == [len(first.data)]
    _new_process()
    second = client.get(URL, headers=auth)
    assert second.status_code == 200 and len(builds) == 1  # read, not computed
    assert second.data == first.data and second.get_etag() == first.get_etag()
    assert _stored(db) == stored


def test_a_changed_source_is_computed_again(client, db, seeded, questionnaire, headers, builds):
    auth = headers()
    before = client.get(URL, headers=auth)
    _late_response(db, seeded["offices"]["C"], questionnaire, datetime(2025, 3, 15, 3, tzinfo=UTC))
    _new_process()
    after = client.get(URL, headers=auth)
    assert len(builds) == 2 and len(_stored(db)) == 2
    old = {o["code"]: o["responses"] for o in before.json["offices"]}
    assert {o["code"]: o["responses"] for o in after.json["offices"]} == {**old, "C": old["C"] + 1}


def test_each_scope_reads_only_its_own_stored_text(client, db, seeded, headers, builds):
    everyone = client.get(URL, headers=headers())
    _new_process()
    manager = client.get(URL, headers=headers(seeded["offices"]["A"]))
    assert [o["code"] for o in manager.json["offices"]] == ["A", "B"]
    # everyone's text, the manager's, and the arrays of the group's report its comparisons are
    # made from (comparisons.py)
    assert len(_stored(db)) == 3 and manager.data != everyone.data
    _new_process()
    assert client.get(URL, headers=headers(seeded["offices"]["A"])).data == manager.data
    assert client.get(URL, headers=headers()).data == everyone.data


def test_a_running_period_is_never_stored(client, db, seeded, headers):
    from survey_app.reporting import local_today

    today = local_today()
    url = f"/api/v1/reports/satisfaction?from={today.replace(day=1)}&to={today}"
    assert client.get(url, headers=headers()).status_code == 200
    assert _stored(db) == {}


def test_the_store_has_a_limit_and_can_be_turned_off(app, client, db, seeded, headers, builds):
    auth = headers()
    app.config["REPORT_STORE_MB"] = 0.001  # 1,000 bytes: the text is larger, so not stored
    client.get(URL, headers=auth)
    assert _stored(db) == {}
    app.config["REPORT_STORE_MB"] = 1024
    _new_process()
    client.get(URL, headers=auth)
    assert len(_stored(db)) == 1 and len(builds) == 2
    app.config["REPORT_STORE_MB"] = 0  # off: the stored text is not read either
    _new_process()
    client.get(URL, headers=auth)
    assert len(builds) == 3
    app.config["REPORT_STORE_MB"] = 1024
    app.config["REPORT_CACHE_SECONDS"] = 0  # no keeping at all: computed every time
    client.get(URL, headers=auth)
    assert len(builds) == 4


def test_update_rollup_prunes_old_texts_and_keeps_the_total(app, db, runner):
    from survey_app.models import ReportText, utcnow

    now = utcnow()
    for i, days in enumerate((40, 20, 10, 1)):
        db.session.add(
            ReportText(tag=f"t{i}", body=b"x" * 400, size=400, stored_at=now - timedelta(days=days))
        )
    db.session.commit()
    app.config["REPORT_STORE_MB"] = 0.001  # room for two of them
    result = runner.invoke(args=["mscore", "update-rollup"])
    assert result.exit_code == 0, result.output
    assert "deleted 2 stored report texts" in result.output
    db.session.expire_all()
    # the one older than REPORT_STORE_DAYS (35), then the oldest over the total
    assert sorted(_stored(db)) == ["t2", "t3"]
    assert db.session.scalar(select(func.sum(ReportText.size))) == 800


def test_warm_reports_warns_when_the_store_is_over_its_limit(app, db, seeded, runner):
    """What warm-reports stores beyond REPORT_STORE_MB, update-rollup deletes (the oldest
    first) and the next night computes again: the command says so, and what to raise."""
    from survey_app.reporting import periods

    app.config["REPORT_STORE_MB"] = 0.02  # 20 KB: a few texts fit, not all
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(periods, "local_today", lambda: date(2025, 4, 10))
        result = runner.invoke(args=["mscore", "warm-reports"])
    assert result.exit_code == 0, result.output
    total = sum(_stored(db).values())
    assert total > 20_000
    assert (
        f"stored texts ({total / 1e6:.1f} MB) are over REPORT_STORE_MB (0.02 MB)" in result.stderr
    )
    assert "raise REPORT_STORE_MB" in result.stderr


def test_warm_reports_stores_what_the_api_sends(app, client, db, seeded, headers, builds, runner):
    from survey_app.api.report_schemas import SatisfactionQueryIn
    from survey_app.api.reports import report_params
    from survey_app.models import ReportText
    from survey_app.reporting import periods
    from survey_app.reporting.kept import tag

    # On 10 April 2025 the last ended month is March (the seeded one) and the year 2024.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(periods, "local_today", lambda: date(2025, 4, 10))
        result = runner.invoke(args=["mscore", "warm-reports"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if " pages " not in line]
    # all offices, then each top-level office (A, C, D, E) filtered and as its officials get it
    # (then the office pages: tests/survey_app/test_warm_reports.py), and the store's total
    assert len(lines) == 2 * (1 + 2 * 4) + 1 and lines[0].startswith("2025-03, all offices:")
    assert lines[-1] == f"stored texts: {sum(_stored(db).values()) / 1e6:.1f} MB"
    assert not result.stderr  # within REPORT_STORE_MB
    assert any(line.startswith("2024, A's officials:") for line in lines)
    stored = len(_stored(db))
    computed = len(builds)
    _new_process()
    for auth, query in (
        (headers(), ""),
        (headers(), "&office=C"),
        (headers(seeded["offices"]["A"]), ""),
    ):
        response = client.get(URL + query, headers=auth)
        assert response.status_code == 200
    assert len(builds) == computed and len(_stored(db)) == stored  # all read from the store
    # and each equals what the API computes now, for the same request
    app.config["REPORT_CACHE_SECONDS"] = 0
    query = SatisfactionQueryIn().load({"from": "2025-03-01", "to": "2025-03-31", "office": "C"})
    stored = db.session.get(ReportText, tag(report_params(query, None, False, True), False))
    assert client.get(URL + "&office=C", headers=headers()).data == stored.body


def test_a_text_that_cannot_be_stored_is_still_sent(client, db, seeded, headers, monkeypatch):
    """Storing is a saving, never a failure: a primary that refuses the write (read-only after
    a fail-over, say) still gets the computed text sent, and a warning logged."""
    import logging

    from sqlalchemy.exc import OperationalError

    from survey_app.reporting import text_store

    def refuse():
        raise OperationalError("INSERT INTO report_texts", {}, Exception("read-only"))

    monkeypatch.setattr(text_store.db.session, "begin_nested", refuse)
    warnings = []
    handler = logging.Handler()
    handler.emit = lambda record: warnings.append(record.getMessage())
    text_store.log.addHandler(handler)
    try:
        response = client.get(URL, headers=headers())
    finally:
        text_store.log.removeHandler(handler)
    assert response.status_code == 200 and response.json["offices"]
    assert _stored(db) == {}
    assert any("not stored: OperationalError" in message for message in warnings)


def test_documents_kept_within_one_commit_are_committed_together(app, db, monkeypatch):
    """kept.one_commit: the documents stored within are committed once, at its end; it does not
    commit when something within fails."""
    from survey_app.extensions import db as database
    from survey_app.reporting import kept
    from survey_app.reporting.text_store import document_key

    commits = []
    real_commit = database.session.commit

    def commit():
        commits.append(1)
        real_commit()

    with app.test_request_context():
        monkeypatch.setattr(database.session, "commit", commit)
        with kept.one_commit():
            with kept.one_commit():  # nested: the outer one commits
                kept.kept_document("one", lambda: {"a": 1})
            kept.kept_document("two", lambda: {"b": 2})
            assert commits == []
        assert commits == [1]
        with pytest.raises(RuntimeError), kept.one_commit():
            kept.kept_document("three", lambda: {"c": 3})
            raise RuntimeError("a page that fails")
        assert commits == [1]
        database.session.rollback()
        kept.kept_document("four", lambda: {"d": 4})  # outside: committed at once
        assert commits == [1, 1]
    keys = {document_key(k): k for k in ("one", "two", "four")}
    assert {keys.get(tag) for tag in _stored(db)} >= {"one", "two", "four"}
