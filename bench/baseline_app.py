"""The baseline for bench/submit.py: a bare Flask endpoint that inserts one row with SQLAlchemy."""

import os
from datetime import UTC, datetime

from flask import Flask, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Hit(db.Model):
    __tablename__ = "bench_baseline_hits"
    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def create_app() -> Flask:
    """One POST endpoint, one INSERT, one commit."""
    app = Flask(__name__)
    url = os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    db.init_app(app)

    @app.post("/insert")
    def insert():
        db.session.add(Hit(value=request.form.get("value", "")[:64], created_at=datetime.now(UTC)))
        db.session.commit()
        return "ok", 201

    @app.get("/healthz")
    def healthz():
        return "ok"

    return app


def create_tables() -> None:
    """Create the baseline's table once, before the workers start."""
    app = create_app()
    with app.app_context():
        db.drop_all()
        db.create_all()
