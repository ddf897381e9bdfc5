# ruff: noqa: F811 (pytest fixtures imported from test_api_dossiers are redefined as arguments)
"""What POST /api/v1/dossiers answers (issue 16): nothing about other dossiers of a number or its
opt-out, a clear 422 for impossible times and lone surrogates, the receipt's rating link."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from survey_app.models import Dossier, Invitation, OptOut

from .test_api_dossiers import PHONE, dossier, office, post, token  # noqa: F401 (fixtures)


def test_the_answer_does_not_tell_opted_out_or_recently_invited_numbers(db, post, monkeypatch):
    from survey_app.protection import phone_hash
    from survey_app.services import dossiers as service

    fresh = post(dossier("HS-1", phone="0987000001")).json
    again = post(dossier("HS-2", phone="0987000001")).json  # invited a moment ago
    db.session.add(OptOut(phone_hash=phone_hash("+84987000003"), source="keyword"))
    db.session.commit()
    opted = post(dossier("HS-3", phone="0987000003")).json
    monkeypatch.setattr(service, "draw", lambda: 0.999)
    db.session.scalar(select(Dossier).where(Dossier.code == "HS-1")).office.sms_sampling_rate = 0.5
    db.session.commit()
    unsampled = post(dossier("HS-4", phone="0987000004")).json
    answers = [fresh, again, opted, unsampled]
    assert {a["invitation"] for a in answers} == {"eligible"}
    shape = [
        sorted(k for k in a if k not in ("index", "code", "rating_url", "rating_qr_url"))
        for a in answers
    ]
    assert all(s == shape[0] for s in shape) and [a["warnings"] for a in answers] == [[]] * 4
    assert db.session.scalar(select(func.count()).select_from(Invitation)) == 1  # HS-1 only


def test_reasons_about_the_dossier_itself_are_said(db, post):
    old = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    assert post(dossier("HS-1", returned_at=old)).json["invitation"] == "returned_too_long_ago"
    assert post(dossier("HS-2", phone=None)).json["invitation"] == "no_mobile_phone"


@pytest.mark.parametrize(
    "value",
    [
        "9999-12-31T23:59:59-07:00",
        "9999-12-31T23:59:59+07:00",
        "0001-01-01T00:00:00+07:00",
        "1999-12-31T23:59:59+00:00",
        "2100-01-01T00:00:00+00:00",
    ],
)
@pytest.mark.parametrize("field", ["received_at", "due_at", "returned_at"])
def test_impossible_times_are_422_with_a_message(db, post, field, value):
    answer = post(dossier(**{field: value}))
    assert answer.status_code == 422 and answer.json["code"] == "invalid"
    assert answer.json["details"] == {
        field: ["Must be a time from 2000-01-01 to 2099-12-31 (UTC)."]
    }
    listed = post([dossier("A", **{field: value}), dossier("B")])
    assert [r["status"] for r in listed.json["results"]] == ["rejected", "created"]
    assert db.session.scalar(select(func.count()).select_from(Dossier)) == 1


@pytest.mark.parametrize("field", ["office_code", "code", "service_code", "phone"])
def test_a_lone_surrogate_is_422_never_500(db, client, token, field):
    import json

    body = json.dumps(dossier(**{field: "HS-\ud800"}))  # json escapes it as \ud800
    assert "\\ud800" in body
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    answer = client.post("/api/v1/dossiers", data=body, headers=headers)
    assert answer.status_code == 422 and answer.json["code"] == "invalid"
    assert answer.json["details"] == {
        field: ["Must be valid Unicode text (a lone surrogate is not)."]
    }
    key = client.post("/api/v1/dossiers", data='{"\\udfff": 1}', headers=headers)
    assert key.status_code == 422
    listed = client.post("/api/v1/dossiers", data=f"[{body}]", headers=headers)
    assert listed.status_code == 200 and listed.json["results"][0]["status"] == "rejected"
    assert db.session.scalar(select(func.count()).select_from(Dossier)) == 0


def test_each_accepted_dossier_carries_its_receipt_link_and_qr(db, post, client):
    from survey_app.services.rating_links import RECEIPT, read_token

    answer = post([dossier("HS-1"), dossier("HS-2", returned=False), {"code": "x"}]).json
    first, second, bad = answer["results"]
    stored = {d.code: d.id for d in db.session.scalars(select(Dossier))}
    for item in (first, second):
        assert item["rating_url"].startswith("https://mscore.test/r/")
        token_ = item["rating_url"].rsplit("/", 1)[1]
        assert read_token(token_) == (stored[item["code"]], RECEIPT)
        assert item["rating_qr_url"] == item["rating_url"] + ".png"
        image = client.get(item["rating_qr_url"].removeprefix("https://mscore.test"))
        assert image.status_code == 200 and image.mimetype == "image/png"
        assert client.get(item["rating_url"].removeprefix("https://mscore.test")).status_code == 200
    assert "rating_url" not in bad
    single = post(dossier("HS-1"))
    assert single.json["rating_url"] == first["rating_url"]
    assert PHONE not in single.get_data(as_text=True)


def test_csv_import_names_line_and_column_of_an_impossible_time(db, runner, office, tmp_path):
    path = tmp_path / "dossiers.csv"
    path.write_text(
        "office_code,code,phone,returned_at\n"
        "OFF1,HS-1,,2025-01-01T08:00:00+07:00\n"
        "OFF1,HS-2,,9999-12-31T23:59:59-07:00\n",
        "utf-8",
    )
    result = runner.invoke(args=["mscore", "import", "dossiers", str(path)])
    assert result.exit_code != 0
    assert "line 3, column returned_at: Must be a time from 2000-01-01" in result.output
    assert db.session.scalar(select(func.count()).select_from(Dossier)) == 0
