"""POST /api/v1/dossiers, `flask mscore create-token` and `flask mscore import dossiers`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from survey_app.models import ApiToken, Dossier, Invitation, PhoneStatus

NOW = datetime.now(UTC).replace(microsecond=0)
PHONE = "0912345678"


def dossier(code="HS-001", office="OFF1", returned=True, **fields):
    """A dossier event as the one-stop software sends it."""
    body = {
        "office_code": office,
        "code": code,
        "service_code": "SV1",
        "phone": PHONE,
        "received_at": (NOW - timedelta(days=3)).isoformat(),
        "due_at": (NOW + timedelta(days=1)).isoformat(),
        "contact_consent": True,
    }
    if returned:
        body["returned_at"] = NOW.astimezone().isoformat()
    body.update(fields)
    return body


@pytest.fixture
def office(make_office, make_service):
    office = make_office(code="OFF1")
    make_service(code="SV1", office=office)
    return office


@pytest.fixture
def token(db, office):
    """A token for every office."""
    from survey_app.api.auth import create_token

    _, plain = create_token("one-stop")
    db.session.commit()
    return plain


@pytest.fixture
def post(client, token):
    def send(payload, token_=None, **kwargs):
        headers = {"Authorization": f"Bearer {token_ or token}"}
        return client.post("/api/v1/dossiers", json=payload, headers=headers, **kwargs)

    return send


def test_create_then_repeat_changes_nothing(db, post):
    first = post(dossier())
    assert first.status_code == 201
    assert first.json["status"] == "created" and first.json["invitation"] == "eligible"
    again = post(dossier())
    assert again.status_code == 200 and again.json["status"] == "unchanged"
    assert again.json["invitation"] is None
    assert db.session.scalar(select(func.count()).select_from(Dossier)) == 1
    assert db.session.scalar(select(func.count()).select_from(Invitation)) == 1


def test_update_adding_the_returned_time_triggers_the_decision(db, post):
    created = post(dossier(returned=False))
    assert created.status_code == 201 and created.json["invitation"] is None
    assert db.session.scalar(select(func.count()).select_from(Invitation)) == 0
    updated = post(dossier())
    assert updated.json["status"] == "updated" and updated.json["invitation"] == "eligible"
    invitation = db.session.scalar(select(Invitation))
    assert invitation.sampling_probability == 1.0 and invitation.language == "vi"


def test_stored_phone_is_protected_and_never_answered(db, post, client):
    answer = post(dossier(phone="+84 91 234 5678"))
    text = answer.get_data(as_text=True)
    assert "912345678" not in text and "phone" not in answer.json
    stored = db.session.scalar(select(Dossier))
    assert stored.phone_status == PhoneStatus.MOBILE
    assert "912345678" not in stored.phone_encrypted and len(stored.phone_hash) == 64
    from survey_app.protection import decrypt_phone

    assert decrypt_phone(stored.phone_encrypted) == "+84912345678"


@pytest.mark.parametrize(
    "phone, status",
    [
        ("02433334444", PhoneStatus.NOT_MOBILE),
        ("12345", PhoneStatus.INVALID),
        (None, PhoneStatus.MISSING),
    ],
)
def test_invalid_or_landline_numbers_are_stored_as_such_never_invited(db, post, phone, status):
    answer = post(dossier(phone=phone))
    assert answer.status_code == 201 and answer.json["invitation"] == "no_mobile_phone"
    assert any("never invited" in w for w in answer.json["warnings"])
    assert db.session.scalar(select(Dossier)).phone_status == status
    assert db.session.scalar(select(func.count()).select_from(Invitation)) == 0


def test_unknown_service_code_is_kept_and_flagged(db, post):
    answer = post(dossier(service_code="NOPE-1"))
    assert answer.status_code == 201 and "unknown service_code" in answer.json["warnings"][0]
    stored = db.session.scalar(select(Dossier))
    assert stored.service_code == "NOPE-1" and stored.service_id is None


def test_a_list_answers_per_item(db, post):
    items = [
        dossier("A"),
        dossier("B", returned=False),
        {"office_code": "OFF1"},
        dossier("C", office="NOPE"),
        dossier("D", received_at="2025-01-01T10:00:00"),
        "not an object",
        dossier("A"),
    ]
    answer = post(items)
    assert answer.status_code == 200
    results = answer.json["results"]
    assert [r["status"] for r in results] == [
        "created",
        "created",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
        "unchanged",
    ]
    assert results[2]["errors"] == {"code": ["Missing data for required field."]}
    assert results[3]["reason"] == "unknown_office"
    assert "received_at" in results[4]["errors"]  # no offset: refused
    assert results[5]["reason"] == "invalid"
    assert answer.json["summary"] == {"created": 2, "updated": 0, "unchanged": 1, "rejected": 4}
    assert "912345678" not in answer.get_data(as_text=True)


def test_a_thousand_dossiers_at_once(db, post):
    items = [dossier(f"HS-{i:04d}", phone=f"098{i:07d}") for i in range(1000)]
    answer = post(items)
    assert answer.status_code == 200 and answer.json["summary"]["created"] == 1000
    assert db.session.scalar(select(func.count()).select_from(Invitation)) == 1000
    too_many = post(items + [dossier("X")])
    assert too_many.status_code == 422 and too_many.json["code"] == "too_many"


def test_validation_error_of_a_single_dossier_is_422(post):
    answer = post(dossier(returned_at="yesterday", language="fr", extra=1))
    assert answer.status_code == 422
    assert answer.json["code"] == "invalid"
    assert set(answer.json["details"]) == {"returned_at", "language", "extra"}


@pytest.mark.parametrize("field", ["office_code", "code", "service_code", "phone"])
def test_a_control_character_in_a_code_is_422_and_stores_nothing(db, post, field):
    answer = post(dossier(**{field: "HS\x00001"}))  # PostgreSQL text cannot hold a NUL
    assert answer.status_code == 422 and answer.json["code"] == "invalid"
    assert answer.json["details"] == {field: ["Must not contain control characters."]}
    assert post(dossier(**{field: "HS\t001"})).status_code == 422
    assert db.session.scalar(select(func.count()).select_from(Dossier)) == 0


def test_unknown_office_is_422(post):
    answer = post(dossier(office="NOPE"))
    assert answer.status_code == 422 and answer.json["code"] == "unknown_office"


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}]
)
def test_missing_or_bad_token_is_401(client, office, headers):
    answer = client.post("/api/v1/dossiers", json=dossier(), headers=headers)
    assert answer.status_code == 401 and answer.json["code"] == "unauthorized"
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoked_token_is_401(db, post, token):
    db.session.scalar(select(ApiToken)).revoked_at = NOW
    db.session.commit()
    assert post(dossier()).status_code == 401


def test_token_without_the_scope_is_403(db, post, office):
    from survey_app.api.auth import create_token

    _, plain = create_token("reports only", scopes=("reports:read",))
    db.session.commit()
    answer = post(dossier(), token_=plain)
    assert answer.status_code == 403 and answer.json["details"]["required_scope"]


def test_office_scoped_token_cannot_write_other_offices(db, post, office, make_office):
    from survey_app.api.auth import create_token

    child = make_office(code="CHILD", parent=office)
    other = make_office(code="OTHER")
    _, plain = create_token("office 1", office)
    db.session.commit()
    assert post(dossier(office="OFF1"), token_=plain).status_code == 201
    assert post(dossier(office="CHILD"), token_=plain).status_code == 201
    forbidden = post(dossier(office=other.code), token_=plain)
    assert forbidden.status_code == 403 and forbidden.json["code"] == "forbidden_office"
    mixed = post([dossier("Z", office="OTHER"), dossier("Y")], token_=plain)
    assert [r["status"] for r in mixed.json["results"]] == ["rejected", "created"]
    assert (
        child.id
        and db.session.scalar(
            select(func.count()).select_from(Dossier).where(Dossier.office_id == other.id)
        )
        == 0
    )


def test_bad_json_is_400_and_other_media_415(client, token, office):
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    broken = client.post("/api/v1/dossiers", data="{not json", headers=headers)
    assert broken.status_code == 400 and broken.json["code"] == "bad_json"
    scalar = client.post("/api/v1/dossiers", data="42", headers=headers)
    assert scalar.status_code == 400
    form = client.post(
        "/api/v1/dossiers", data={"a": "b"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert form.status_code == 415


def test_create_token_command_prints_it_once_and_stores_a_hash(db, runner, office):
    result = runner.invoke(
        args=["mscore", "create-token", "--name", "Phần mềm một cửa", "--office", "OFF1"]
    )
    assert result.exit_code == 0, result.output
    plain = result.stdout.strip().splitlines()[0]
    token = db.session.scalar(select(ApiToken))
    assert plain.startswith("msc_") and plain not in token.token_hash
    assert token.office_id == office.id and token.scopes == "dossiers:write"
    bad = runner.invoke(args=["mscore", "create-token", "--name", "x", "--office", "NOPE"])
    assert bad.exit_code != 0 and "no office" in bad.output


CSV_HEADER = "office_code,code,service_code,phone,received_at,due_at,returned_at,contact_consent\n"


def test_import_dossiers_csv(db, runner, office, tmp_path):
    path = tmp_path / "dossiers.csv"
    path.write_text(
        CSV_HEADER
        + "".join(
            f"OFF1,HS-{i},SV1,098{i:07d},2025-01-0{i + 1}T08:00:00+07:00,,{NOW.isoformat()},có\n"
            for i in range(3)
        ),
        "utf-8",
    )
    result = runner.invoke(args=["mscore", "import", "dossiers", str(path)])
    assert result.exit_code == 0, result.output
    assert "3 created" in result.output and "SMS invitations queued: 3" in result.output
    assert db.session.scalar(select(func.count()).select_from(Invitation)) == 3
    again = runner.invoke(args=["mscore", "import", "dossiers", str(path)])
    assert "3 unchanged" in again.output
    assert db.session.scalar(select(func.count()).select_from(Invitation)) == 3


def test_import_dossiers_is_all_or_nothing_with_errors_by_line_and_column(
    db, runner, office, tmp_path
):
    path = tmp_path / "dossiers.csv"
    path.write_text(
        CSV_HEADER
        + f"OFF1,HS-1,SV1,{PHONE},2025-01-01T08:00:00+07:00,,,\n"
        + "NOPE,HS-2,SV1,,,,,\n"
        + "OFF1,HS-3,SV1,,2025-01-01 08:00,,,\n"
        + "OFF1,HS-1,SV1,,,,,\n",
        "utf-8",
    )
    result = runner.invoke(args=["mscore", "import", "dossiers", str(path)])
    assert result.exit_code != 0
    assert "line 3, column office_code" in result.output
    assert "line 4, column received_at" in result.output
    assert "line 5, column code: duplicate" in result.output
    assert PHONE not in result.output
    assert db.session.scalar(select(func.count()).select_from(Dossier)) == 0
