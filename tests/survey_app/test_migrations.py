"""The migrations are the schema: one head, and the migrated database matches the models."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory


def test_single_migration_head(app):
    config = app.extensions["migrate"].migrate.get_config(app.extensions["migrate"].directory)
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, f"several migration heads: {heads}; merge them"


def test_migrated_schema_matches_models(app, db):
    from survey_app.partitions import include_object

    with db.engine.connect() as conn:
        # the partitions are not models; SQLite's extra unique index is marked in the models
        opts = {"compare_type": True, "include_object": include_object(conn.dialect.name)}
        context = MigrationContext.configure(conn, opts=opts)
        diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models and migrations differ: {diff}"


def test_downgrade_to_nothing_and_up_again(tmp_path):
    """Every migration's downgrade runs (SQLite: batch operations with foreign keys enforced)."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import inspect

    from survey_app import create_app

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'm.sqlite'}", "TESTING": True}
    )
    with app.app_context():
        from survey_app.extensions import db

        upgrade()
        assert "answers" in inspect(db.engine).get_table_names()
        downgrade(revision="base")
        assert inspect(db.engine).get_table_names() == ["alembic_version"]
        upgrade()
        tables = inspect(db.engine).get_table_names()
        assert {"answers", "responses", "rollup_answers"} <= set(tables)
        db.engine.dispose()


def test_sqlite_enforces_foreign_keys(app, db):
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError):
        db.session.execute(
            text(
                "INSERT INTO counters (office_id, code, name, is_active) "
                "VALUES (987654, 'Q', 'Quầy', true)"
            )
        )
        db.session.flush()
    db.session.rollback()


def test_keying_answers_by_response_and_question_keeps_every_answer(empty_database_url):
    """0005 drops the serial id of answers for the (response_id, question_id) key; its downgrade
    numbers the rows again. No answer is lost either way."""
    from datetime import UTC, datetime

    from flask_migrate import downgrade, upgrade
    from sqlalchemy import inspect, text

    from survey_app import create_app
    from survey_app.services.questionnaires import ensure_default_questionnaire

    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database_url, "TESTING": True})
    rows = "SELECT response_id, question_id, value, text FROM answers ORDER BY 1, 2"
    with app.app_context():
        from survey_app.extensions import db

        upgrade(revision="0004")
        questionnaire = ensure_default_questionnaire()
        # offices by SQL too: the models describe the newest schema
        office_id = db.session.execute(
            text(
                "INSERT INTO offices (code, name, kind, ranking_group, is_active, "
                "sms_sampling_rate) VALUES ('HCC', 'Sở Tư pháp', 'department', 'departments', "
                "true, 1.0) RETURNING id"
            )
        ).scalar_one()
        question_ids = [q.id for q in questionnaire.questions[:4]]
        for _ in range(3):  # responses by SQL: the models describe the newest schema
            db.session.execute(
                text(
                    "INSERT INTO responses (office_id, questionnaire_id, channel, submitted_at, "
                    "language, is_partial, integrity) VALUES (:o, :q, 'qr_web', :t, 'vi', false, "
                    "'valid')"
                ),
                {"o": office_id, "q": questionnaire.id, "t": datetime.now(UTC)},
            )
        response_ids = db.session.scalars(text("SELECT id FROM responses")).all()
        for rid in response_ids:
            for qid in question_ids:
                db.session.execute(
                    text(
                        "INSERT INTO answers (response_id, question_id, value, "
                        "text) VALUES (:r, :q, 4, :t)"
                    ),
                    {"r": rid, "q": qid, "t": f"ý kiến {rid}"},
                )
        db.session.commit()
        before = db.session.execute(text(rows)).all()
        assert len(before) == 12
        db.session.remove()

        upgrade(revision="0090")  # the models' answers gain submitted_at in 0100 (tested below)
        keyed = inspect(db.engine).get_pk_constraint("answers")
        assert keyed["constrained_columns"] == ["response_id", "question_id"]
        assert "id" not in {c["name"] for c in inspect(db.engine).get_columns("answers")}
        assert db.session.execute(text(rows)).all() == before
        one = text("SELECT question_id FROM answers WHERE response_id = :r ORDER BY 1")
        assert db.session.scalars(one, {"r": response_ids[0]}).all() == question_ids
        db.session.remove()

        downgrade(revision="0004")
        ids = db.session.scalars(text("SELECT id FROM answers")).all()
        assert len(set(ids)) == 12 and None not in ids
        assert db.session.execute(text(rows)).all() == before
        db.session.remove()
        upgrade(revision="0090")
        assert db.session.execute(text(rows)).all() == before
        db.session.remove()
        db.engine.dispose()
