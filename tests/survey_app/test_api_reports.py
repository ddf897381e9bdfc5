"""The reading API: tokens and scopes, office scoping, JSON errors, cursor pages, OpenAPI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from .test_reporting import seed

Q = "from=2025-03-01&to=2025-03-31"


@pytest.fixture
def seeded(app, db, make_office, make_service, questionnaire):
    return seed(db, make_office, make_service, questionnaire, scale=0.5)


@pytest.fixture
def token(db):
    """make a bearer header: token(scopes, office=None)."""
    from survey_app.api.auth import create_token

    def make(*scopes, office=None):
        _, plain = create_token("test", office, scopes)
        db.session.commit()
        return {"Authorization": f"Bearer {plain}"}

    return make


def test_report_validates_against_its_schema(client, seeded, token):
    from survey_app.api.report_schemas import SatisfactionReportOut

    res = client.get(
        f"/api/v1/reports/satisfaction?{Q}&compare=previous&include=breakdowns",
        headers=token("reports:read"),
    )
    assert res.status_code == 200, res.json
    doc = res.json
    assert SatisfactionReportOut().validate(doc) == {}
    assert [o["code"] for o in doc["offices"]] == ["A", "B", "C", "D", "E"]
    assert doc["offices"][0]["index"]["change"]["previous"] is None  # nothing in February
    assert {r["label"] for r in doc["breakdowns"]["channels"]} <= {"qr_web", "sms", "kiosk"}


def test_manager_sees_only_its_offices(client, seeded, token):
    headers = token("reports:read", "responses:read", office=seeded["offices"]["A"])
    doc = client.get(f"/api/v1/reports/satisfaction?{Q}", headers=headers).json
    assert [o["code"] for o in doc["offices"]] == ["A", "B"]  # B is A's child
    for path in (
        f"/api/v1/reports/satisfaction?{Q}&office=C",
        "/api/v1/responses?office=C",
        f"/reports/satisfaction.xlsx?{Q}&office=C",
    ):
        res = client.get(path, headers=headers)
        assert res.status_code in (403, 404) and res.json["code"] in ("forbidden", "not_found")
        assert "offices" not in res.json and "responses" not in res.json
    page = client.get("/api/v1/responses?limit=500", headers=headers).json
    assert {r["office_code"] for r in page["responses"]} == {"A", "B"}
    offices = client.get("/api/v1/offices", headers=headers).json["offices"]
    assert [(o["code"], o["depth"], o["parent_code"]) for o in offices] == [
        ("A", 0, None),
        ("B", 1, "A"),
    ]


@pytest.mark.parametrize(
    "query, status, code",
    [
        ("", 422, "invalid_query"),
        ("from=2025-03-31&to=2025-03-01", 422, "invalid_query"),
        ("from=2025-13-01&to=2025-03-01", 422, "invalid_query"),
        (f"{Q}&level=2", 422, "invalid_query"),
        (f"{Q}&method=bayes", 422, "invalid_query"),
        (f"{Q}&group=planets", 422, "invalid_query"),
        (f"{Q}&colour=red", 400, "unknown_parameter"),
        (f"{Q}&level=0.9&level=0.8", 400, "repeated_parameter"),
        (f"{Q}&office=NOPE", 404, "not_found"),
        ("from=2000-01-01&to=2025-03-01", 422, "invalid_query"),
    ],
)
def test_bad_queries_get_json_errors(client, app, token, query, status, code):
    res = client.get(f"/api/v1/reports/satisfaction?{query}", headers=token("reports:read"))
    assert res.status_code == status and res.is_json
    assert res.json["code"] == code and set(res.json) == {"code", "message", "details"}


@pytest.mark.parametrize(
    "url",
    [
        f"/api/v1/reports/satisfaction?{Q}&office=%00groups",
        "/api/v1/responses?channel=sms&cursor=0&limit=1&office=%00groups",  # found by schemathesis
        "/api/v1/offices?group=%00",
    ],
)
def test_a_nul_character_in_a_query_is_400_not_a_database_error(client, seeded, token, url):
    res = client.get(url, headers=token("reports:read", "responses:read"))
    assert res.status_code == 400 and res.json["code"] == "bad_request"
    assert "NUL" in res.json["message"]


def test_tokens_and_scopes(client, app, token):
    url = f"/api/v1/reports/satisfaction?{Q}"
    assert client.get(url).status_code == 401
    assert client.get(url, headers={"Authorization": "Bearer nope"}).status_code == 401
    res = client.get(url, headers=token("dossiers:write"))
    assert res.status_code == 403 and res.json["details"]["required_scope"] == "reports:read"
    assert client.get("/api/v1/responses", headers=token("reports:read")).status_code == 403
    assert client.get(
        "/api/v1/questionnaires/current", headers=token("responses:read")
    ).status_code in (200, 404)
    assert client.get("/api/v1/nothing-here", headers=token("reports:read")).json["code"]


def test_current_questionnaire(client, questionnaire, token):
    doc = client.get("/api/v1/questionnaires/current", headers=token("reports:read")).json
    assert doc["version"] == questionnaire.version
    overall = doc["questions"][0]
    assert overall["code"] == "overall" and overall["values"] == [1, 2, 3, 4, 5]
    assert overall["text"]["vi"].startswith("Nhìn chung")


def _insert_response(db, office, questionnaire, minutes_ago=10, comment=None):
    from survey_app.models import Answer, Response

    r = Response(
        office=office,
        questionnaire_id=questionnaire.id,
        channel="qr_web",
        submitted_at=datetime.now(UTC) - timedelta(minutes=minutes_ago),
        client_hash="secret-device-hash",
    )
    q = questionnaire.questions
    r.answers = [Answer(question_id=q[0].id, value=5)]
    if comment:
        r.answers.append(Answer(question_id=q[-1].id, text=comment))
    db.session.add(r)
    db.session.commit()
    return r.id


def test_cursor_pages_never_skip_or_repeat_while_responses_arrive(
    client, db, make_office, questionnaire, token
):
    office = make_office("P1")
    headers = token("responses:read")
    expected = [_insert_response(db, office, questionnaire, comment="Tốt") for _ in range(25)]
    seen, cursor = [], None
    for step in range(20):
        url = "/api/v1/responses?limit=4" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=headers).json
        seen += [r["id"] for r in page["responses"]]
        cursor = page["next_cursor"]
        if step < 6:  # new responses keep arriving between pages
            expected += [_insert_response(db, office, questionnaire) for _ in range(2)]
        if not page["has_more"]:
            break
    from survey_app.api.responses import response_key

    assert seen == [response_key(i) for i in sorted(expected)] and len(set(seen)) == len(seen)
    first = client.get("/api/v1/responses?limit=1", headers=headers).json["responses"][0]
    assert first["comment"] == "Tốt" and first["answers"] == {"overall": 5}
    assert "secret-device-hash" not in str(first) and "phone" not in str(first)


def test_young_responses_wait_for_the_settle_time(client, db, make_office, questionnaire, token):
    office = make_office("P2")
    old = _insert_response(db, office, questionnaire)
    _insert_response(db, office, questionnaire, minutes_ago=0)
    page = client.get("/api/v1/responses", headers=token("responses:read")).json
    from survey_app.api.responses import response_key

    assert [r["id"] for r in page["responses"]] == [response_key(old)] and page["has_more"]
    assert (
        client.get("/api/v1/responses?cursor=%%%", headers=token("responses:read")).json["code"]
        == "bad_cursor"
    )


def test_openapi_document_is_valid(client, app):
    from openapi_spec_validator import validate

    spec = client.get("/api/openapi.json").json
    validate(spec)
    assert "/reports/satisfaction" in spec["paths"]
    page = client.get("/api/docs")
    assert page.status_code == 200 and "reports/satisfaction" in page.get_data(as_text=True)


def test_schemathesis_finds_no_server_error(app, seeded, token):
    """Fuzz every GET of the document (valid and invalid inputs, bounded): never a 500."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis import GenerationMode

    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    headers = token("reports:read", "responses:read")
    checked = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.method.upper() != "GET":
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=15,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(mode))
            def run(case):
                response = case.call(headers=headers)
                assert response.status_code < 500, (case.path, case.query, response.text[:300])
                if response.status_code == 304:  # If-None-Match on an ended period: no body
                    assert response.content == b"" and response.headers.get("etag")
                    return
                kind = response.headers.get("Content-Type") or response.headers.get("content-type")
                assert str(kind).lower().count("json"), (case.path, response.status_code, kind)

            run()
            checked += 1
    assert checked == 8


def test_questions_always_breakdowns_only_when_asked(client, seeded, token):
    from survey_app.api.report_schemas import SatisfactionReportOut

    headers = token("reports:read")
    plain = client.get(f"/api/v1/reports/satisfaction?{Q}", headers=headers).json
    full = client.get(
        f"/api/v1/reports/satisfaction?{Q}&include=questions,breakdowns", headers=headers
    ).json
    assert SatisfactionReportOut().validate(plain) == {} == SatisfactionReportOut().validate(full)
    assert "breakdowns" not in plain and set(full["breakdowns"]) == {"services", "channels"}
    assert plain["questions"] == full["questions"]
    for a, b in zip(plain["offices"], full["offices"], strict=True):
        assert a["questions"]["overall"] == a["overall_question"]
        assert a == {k: v for k, v in b.items() if k in a}
