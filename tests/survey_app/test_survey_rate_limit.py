"""The survey's rate limit per client (Flask-Limiter), with a low limit for the test."""

import pytest
from sqlalchemy import func, select

from survey_app.models import Response

from .test_survey import _post


@pytest.fixture
def app_config(app_config):
    return {**app_config, "SURVEY_RATE_LIMIT": "2 per minute"}


@pytest.fixture
def office(make_office, questionnaire):
    return make_office(code="HCC-TP", name="Sở Tư pháp")


def test_rate_limit_per_client_answers_429_with_a_friendly_page(app, db, office):
    codes = [_post(app.test_client())[0].status_code for _ in range(2)]
    limited, _ = _post(app.test_client())
    assert codes == [303, 303] and limited.status_code == 429
    assert "Có quá nhiều lượt gửi" in limited.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Response)) == 2
    assert app.test_client().get("/s/HCC-TP").status_code == 200  # reading is not limited
