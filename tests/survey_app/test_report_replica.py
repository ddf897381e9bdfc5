"""DATABASE_REPLICA_URL: reports read the replica; the rollup days it lacks are built on the
primary, and that report reads the primary (a replica cannot be written)."""

from __future__ import annotations

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select, update

from survey_app import create_app
from survey_app.config import ConfigError, check_production, load_config

from ..conftest import _postgres_database, _test_config
from .test_config import GOOD_PRODUCTION
from .test_reporting import MARCH, seed


@pytest.fixture(scope="module")
def replica_url(database_url, tmp_path_factory):
    """A second migrated database on the same server (SQLite: a second file)."""
    import os

    drop = None
    if database_url.startswith("postgresql"):
        url, drop = _postgres_database(os.environ["TEST_DATABASE_URL"])
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('replica') / 'replica.sqlite'}"
    app = create_app(_test_config(url))
    with app.app_context():
        upgrade()
        from survey_app.extensions import db

        db.engine.dispose()
    yield url
    if drop:
        drop()


@pytest.fixture
def app_config(app_config, replica_url):
    return {**app_config, "SQLALCHEMY_BINDS": {"replica": replica_url}}


@pytest.fixture
def replica(app, db):
    """The replica's engine, emptied after the test."""
    from survey_app.reporting.source import close_replica_session

    engine = db.engines["replica"]
    yield engine
    close_replica_session()
    with engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())
    engine.dispose()


def replicate(db, engine) -> None:
    """Copy every table of the primary into the replica (what streaming replication does)."""
    db.session.commit()
    tables = db.metadata.sorted_tables
    with engine.begin() as out:
        for table in reversed(tables):
            out.execute(table.delete())
        for table in tables:
            if table.name == "response_keys":
                continue  # the replica's trigger on responses writes them, as on the primary
            query = select(table).order_by(*table.primary_key.columns)
            rows = [dict(r) for r in db.session.execute(query).mappings()]
            if rows:
                out.execute(table.insert(), rows)


def _report():
    from survey_app.reporting import Params, Period, build_report
    from survey_app.reporting.tables import report_json

    return report_json(build_report(Params(Period(*MARCH))))


def _by_code(doc):
    return {o["code"]: o for o in doc["offices"]}


def _rollup_days(conn_or_session):
    from survey_app.models import RollupDay

    return conn_or_session.execute(select(func.count()).select_from(RollupDay)).scalar()


def test_reports_read_the_replica(app, db, replica, make_office, make_service, questionnaire):
    from survey_app.models import Office, RollupAnswer, RollupPattern, RollupResponse

    seed(db, make_office, make_service, questionnaire)
    primary = _by_code(_report())  # fills the rollup on the primary first
    assert primary["C"]["responses"] > 0
    replicate(db, replica)
    c_id = db.session.scalar(select(Office.id).where(Office.code == "C"))
    with replica.begin() as conn:  # data only the replica has
        conn.execute(update(Office).where(Office.code == "A").values(name="Sở Tư pháp (bản sao)"))
        for model in (RollupAnswer, RollupPattern, RollupResponse):
            conn.execute(model.__table__.delete().where(model.office_id == c_id))
    on_replica = _by_code(_report())
    assert on_replica["A"]["name"] == "Sở Tư pháp (bản sao)"
    assert on_replica["C"]["responses"] == 0
    assert on_replica["D"]["responses_by_channel"] == primary["D"]["responses_by_channel"]
    assert db.session.scalar(select(Office.name).where(Office.code == "A")) == "Sở Tư pháp"


def test_rollup_days_the_replica_lacks_are_built_on_the_primary(
    app, db, replica, make_office, make_service, questionnaire
):
    from survey_app.models import Office

    seed(db, make_office, make_service, questionnaire)
    replicate(db, replica)  # raw rows, no rollup yet
    with replica.begin() as conn:
        conn.execute(update(Office).where(Office.code == "A").values(name="Bản sao"))
    assert _rollup_days(db.session) == 0
    doc = _by_code(_report())
    db.session.commit()
    assert doc["A"]["name"] == "Sở Tư pháp"  # read on the primary, which filled the rollup
    assert doc["A"]["responses"] > 0
    assert _rollup_days(db.session) > 0  # written on the primary
    with replica.connect() as conn:
        assert _rollup_days(conn) == 0  # never on the replica
    replicate(db, replica)  # the replica catches up
    with replica.begin() as conn:
        conn.execute(update(Office).where(Office.code == "A").values(name="Bản sao"))
    again = _by_code(_report())
    assert again["A"]["name"] == "Bản sao"
    assert again["A"]["responses_by_channel"] == doc["A"]["responses_by_channel"]


def test_the_report_api_reads_the_replica(
    app, db, replica, client, make_office, make_service, questionnaire
):
    from survey_app.api.auth import create_token
    from survey_app.models import Office

    seed(db, make_office, make_service, questionnaire)
    _report()
    _, plain = create_token("replica test", None, ("reports:read",))
    replicate(db, replica)
    with replica.begin() as conn:
        conn.execute(update(Office).where(Office.code == "B").values(name="Phòng (bản sao)"))
    res = client.get(
        "/api/v1/reports/satisfaction?from=2025-03-01&to=2025-03-31",
        headers={"Authorization": f"Bearer {plain}"},
    )
    assert res.status_code == 200
    names = {o["code"]: o["name"] for o in res.get_json()["offices"]}
    assert names["B"] == "Phòng (bản sao)"


def test_database_replica_url_is_the_replica_bind(tmp_path):
    config = load_config(str(tmp_path), {"DATABASE_REPLICA_URL": "postgresql://u@replica/mscore"})
    assert config["SQLALCHEMY_BINDS"] == {"replica": "postgresql+psycopg://u@replica/mscore"}
    assert load_config(str(tmp_path), {})["SQLALCHEMY_BINDS"] == {}
    production = {**GOOD_PRODUCTION, "DATABASE_REPLICA_URL": "postgres://u@replica/mscore"}
    check_production(load_config(str(tmp_path), production))
    for bad, message in (
        ("sqlite:////tmp/r.sqlite", "DATABASE_REPLICA_URL is SQLite"),
        (GOOD_PRODUCTION["DATABASE_URL"], "DATABASE_REPLICA_URL equals DATABASE_URL"),
    ):
        with pytest.raises(ConfigError, match=message):
            check_production(
                load_config(str(tmp_path), {**GOOD_PRODUCTION, "DATABASE_REPLICA_URL": bad})
            )


def test_disclosure_reads_the_months_where_the_report_reads(
    app, db, replica, client, make_office, make_service, questionnaire, monkeypatch
):
    """A scoped caller's monthly disclosure check counts the other offices' responses in the
    database the report itself reads: the replica when it holds the months."""
    from datetime import date

    from survey_app.api.auth import create_token
    from survey_app.models import Office
    from survey_app.reporting import Params, Period, build_report, disclosure

    seed(db, make_office, make_service, questionnaire)
    build_report(Params(Period(date(2025, 1, 1), date(2025, 3, 31))))  # rolls Q1 on the primary
    office_a = db.session.scalar(select(Office).where(Office.code == "A"))
    _, plain = create_token("scoped", office_a, ("reports:read",))
    db.session.commit()
    replicate(db, replica)
    read_from = []
    counted = disclosure.offices_with_responses_by_month

    def spy(session, months, office_ids):
        read_from.append(str(session.get_bind().url))
        return counted(session, months, office_ids)

    monkeypatch.setattr(disclosure, "offices_with_responses_by_month", spy)
    res = client.get(
        "/api/v1/reports/satisfaction?from=2025-01-01&to=2025-03-31",  # a quarter's months
        headers={"Authorization": f"Bearer {plain}"},
    )
    assert res.status_code == 200, res.get_data(as_text=True)[:300]
    assert read_from == [str(replica.url)]
