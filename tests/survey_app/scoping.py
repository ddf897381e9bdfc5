"""Builders shared by the scoping and disclosure tests: offices with responses, tokens, sessions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

MARCH = "from=2025-03-01&to=2025-03-31"


def add_responses(db, office, questionnaire, n, level, *, seed=0, day=10, comments=0, month=3):
    """``n`` valid QR responses to ``office`` on 2025-``month``-``day``: every likert question 4
    or 5 with probability ``level`` (else 1–3), the yes/no question, and ``comments``
    comments."""
    from survey_app.models import Answer, Response

    rng = np.random.default_rng(seed)
    likert = [q for q in questionnaire.questions if q.kind == "likert5"]
    yes_no = [q for q in questionnaire.questions if q.kind == "yes_no"]
    text = next(q for q in questionnaire.questions if q.kind == "text")
    at = datetime(2025, month, day, 3, tzinfo=UTC)
    for i in range(n):
        r = Response(
            office=office,
            questionnaire_id=questionnaire.id,
            channel="qr_web",
            submitted_at=at + timedelta(minutes=i),
        )
        good = rng.random(len(likert)) < level
        values = np.where(good, rng.integers(4, 6, len(likert)), rng.integers(1, 4, len(likert)))
        r.answers = [
            Answer(question_id=q.id, value=int(v)) for q, v in zip(likert, values, strict=True)
        ]
        r.answers += [Answer(question_id=q.id, value=int(rng.random() < 0.2)) for q in yes_no]
        if i < comments:
            r.answers.append(Answer(question_id=text.id, text=f"{office.code} góp ý {i}"))
        db.session.add(r)
    db.session.commit()


def bearer(db, *scopes, office=None) -> dict:
    """An Authorization header with a new token of these scopes (limited to ``office``)."""
    from survey_app.api.auth import create_token

    _, plain = create_token("test", office, scopes)
    db.session.commit()
    return {"Authorization": f"Bearer {plain}"}


def sign_in(db, client, role, office=None, enabled=True):
    """Sign ``client`` in as a new official of ``role`` (the Flask-Login session, as the login
    page would leave it)."""
    from survey_app.models import Role, User

    user = User(
        email=f"{role}-{office.code if office else 'all'}-{id(client)}@example.gov.vn",
        name=str(role),
        role=Role(role),
        office=office,
        password_hash="x",
        is_enabled=enabled,
    )
    db.session.add(user)
    db.session.commit()
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)
        session["_fresh"] = True
    return user
