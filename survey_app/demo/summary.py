"""A checksum of the demo data by natural keys (codes and times, never ids or ciphertexts), so two
runs with the same seed can be compared across databases."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from ..extensions import db
from ..models import (
    Answer,
    Counter,
    Dossier,
    Invitation,
    Office,
    Question,
    Response,
    Service,
    office_services,
)


def _text(value) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _queries():
    parent, dossier, counter = aliased(Office), aliased(Dossier), aliased(Counter)
    yield select(
        Office.code,
        Office.name,
        Office.name_en,
        Office.kind,
        Office.group,
        parent.code,
        Office.sms_sampling_rate,
        Office.is_active,
    ).outerjoin(parent, Office.parent_id == parent.id)
    yield select(Office.code, Counter.code, Counter.name, Counter.is_active).join(Counter.office)
    yield select(Service.code, Service.name, Service.field, Service.name_en)
    yield (
        select(Office.code, Service.code)
        .join(office_services, office_services.c.office_id == Office.id)
        .join(Service, office_services.c.service_id == Service.id)
    )
    yield select(
        Office.code,
        Dossier.code,
        Dossier.service_code,
        Dossier.phone_hash,
        Dossier.phone_status,
        Dossier.received_at,
        Dossier.due_at,
        Dossier.returned_at,
    ).join(Dossier.office)
    yield (
        select(
            Office.code,
            Dossier.code,
            Invitation.status,
            Invitation.sampling_probability,
            Invitation.provider_message_id,
            Invitation.next_attempt_at,
        )
        .join(Dossier, Invitation.dossier_id == Dossier.id)
        .join(Office, Invitation.office_id == Office.id)
    )
    yield (
        select(
            Office.code,
            counter.code,
            Service.code,
            dossier.code,
            Response.channel,
            Response.submitted_at,
            Response.language,
            Response.integrity,
            Response.integrity_reason,
            Response.client_hash,
            Response.is_partial,
        )
        .join(Office, Response.office_id == Office.id)
        .outerjoin(counter, Response.counter_id == counter.id)
        .outerjoin(Service, Response.service_id == Service.id)
        .outerjoin(dossier, Response.dossier_id == dossier.id)
    )
    yield (
        select(
            Office.code,
            counter.code,
            Response.channel,
            Question.code,
            Answer.value,
            func.count(),
            func.min(Response.submitted_at),
            func.max(Response.submitted_at),
            func.sum(func.length(Answer.text)),
        )
        .join(Response, Answer.response_id == Response.id)
        .join(Office, Response.office_id == Office.id)
        .outerjoin(counter, Response.counter_id == counter.id)
        .join(Question, Answer.question_id == Question.id)
        .group_by(Office.code, counter.code, Response.channel, Question.code, Answer.value)
    )


def checksum() -> str:
    """SHA-256 (first 16 hex digits) over every demo table, ordered by natural keys."""
    digest = hashlib.sha256()
    for query in _queries():
        rows = ["\x1f".join(_text(v) for v in row) for row in db.session.execute(query)]
        for row in sorted(rows):
            digest.update(row.encode() + b"\n")
        digest.update(b"\x1e")
    return digest.hexdigest()[:16]
