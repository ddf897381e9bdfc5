"""GET /api/v1/questionnaires/current: the questions now asked, in both languages."""

from __future__ import annotations

from ..errors import json_error
from ..extensions import db
from ..models import KIND_VALUES
from ..services.questionnaires import current_questionnaire
from . import bp
from .report_schemas import QuestionnaireOut
from .reports import REPORTS_READ, RESPONSES_READ, authenticate


@bp.get("/questionnaires/current")
def current():
    """The current questionnaire version: codes, SIPAS dimensions, kinds, texts, values."""
    authenticate(REPORTS_READ, RESPONSES_READ)
    questionnaire = current_questionnaire()
    if questionnaire is None:
        return json_error(404, "not_found", "no questionnaire has been published yet")
    document = QuestionnaireOut().dump(
        {
            "version": questionnaire.version,
            "name": questionnaire.name,
            "questions": [
                {
                    "code": q.code,
                    "dimension": str(q.dimension),
                    "kind": str(q.kind),
                    "position": q.position,
                    "required": q.is_required,
                    "text": {"vi": q.text_vi, "en": q.text_en},
                    "values": list(KIND_VALUES.get(q.kind, ())),
                }
                for q in questionnaire.questions
            ],
        }
    )
    db.session.commit()
    return document
