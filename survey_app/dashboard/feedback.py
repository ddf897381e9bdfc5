"""What citizens wrote and reported for one office: comments (newest first, searchable) and
answers reporting a payment outside the rules; and responses per counter. These are lists and
counts of answers, not estimates (the estimates come from the report)."""

from __future__ import annotations

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import aliased

from ..extensions import db
from ..models import Answer, Counter, Question, Response, Service
from ..reporting import Period

PAYMENT_QUESTION = "extra_payment"
OVERALL_QUESTION = "overall"
MAX_SHOWN = 200


def _question_ids(code: str):
    return select(Question.id).where(Question.code == code).scalar_subquery()


def feedback(office_id: int, period: Period, search: str | None = None, limit: int = MAX_SHOWN):
    """(rows, total): the office's responses in the period with a comment or a reported
    payment outside the rules, newest first; ``search`` narrows the comments."""
    start, end = period.utc_bounds
    comment, payment, overall = aliased(Answer), aliased(Answer), aliased(Answer)
    comment_q = select(Question.id).where(Question.kind == "text").scalar_subquery()
    query = (
        select(
            Response.submitted_at,
            Response.channel,
            Service.code.label("service"),
            overall.value.label("rating"),
            payment.value.label("payment"),
            comment.text.label("text"),
        )
        .outerjoin(Service, Service.id == Response.service_id)
        .outerjoin(
            comment, and_(comment.response_id == Response.id, comment.question_id.in_(comment_q))
        )
        .outerjoin(
            payment,
            and_(
                payment.response_id == Response.id,
                payment.question_id.in_(_question_ids(PAYMENT_QUESTION)),
            ),
        )
        .outerjoin(
            overall,
            and_(
                overall.response_id == Response.id,
                overall.question_id.in_(_question_ids(OVERALL_QUESTION)),
            ),
        )
        .where(
            Response.office_id == office_id,
            Response.submitted_at >= start,
            Response.submitted_at < end,
            Response.integrity == "valid",
            or_(comment.text.is_not(None), payment.value == 1),
        )
    )
    if search:
        query = query.where(func.lower(comment.text).contains(search.lower(), autoescape=True))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.execute(query.order_by(Response.submitted_at.desc()).limit(limit)).all()
    return [row._asdict() for row in rows], total


def counter_counts(office_id: int, period: Period, not_stated: str) -> list[dict]:
    """Responses per counter of the office in the period (valid ones, as the report counts);
    responses without a counter in a last row named ``not_stated``."""
    start, end = period.utc_bounds
    counts = dict(
        db.session.execute(
            select(Response.counter_id, func.count())
            .where(
                Response.office_id == office_id,
                Response.submitted_at >= start,
                Response.submitted_at < end,
                Response.integrity == "valid",
            )
            .group_by(Response.counter_id)
        ).all()
    )
    counters = db.session.scalars(
        select(Counter).where(Counter.office_id == office_id).order_by(Counter.code)
    ).all()
    rows = [{"code": c.code, "name": c.name, "responses": counts.get(c.id, 0)} for c in counters]
    if counts.get(None):
        rows.append({"code": "–", "name": not_stated, "responses": counts[None]})
    return rows
