"""The migrations are the schema: one head, and the migrated database matches the models."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory


def test_single_migration_head(app):
    config = app.extensions["migrate"].migrate.get_config(
        app.extensions["migrate"].directory
    )
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, f"several migration heads: {heads}; merge them"


def test_migrated_schema_matches_models(app, db):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models and migrations differ: {diff}"



def test_downgrade_to_nothing_and_up_again(tmp_path):
    """Every migration's downgrade runs (SQLite: batch operations with foreign keys enforced)."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import inspect

    from survey_app import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'm.sqlite'}",
                      "TESTING": True})  # fmt: skip
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
    import pytest
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError):
        db.session.execute(text("INSERT INTO counters (office_id, code, name, is_active) "
                                "VALUES (987654, 'Q', 'Quầy', true)"))  # fmt: skip
        db.session.flush()
    db.session.rollback()
