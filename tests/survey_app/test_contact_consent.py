# ruff: noqa: F811 (pytest fixtures imported from test_api_dossiers are redefined as arguments)
"""contact_consent (Law 91/2025/QH15): no consent, no invitation; through the API and the CSV."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from survey_app.models import Dossier, Invitation, InvitationStatus

from .test_api_dossiers import NOW, dossier, office, post, token  # noqa: F401 (fixtures)


def _invitations(db) -> int:
    return db.session.scalar(select(func.count()).select_from(Invitation))


@pytest.mark.parametrize("consent", [None, False, "không", "0", "no"])
def test_no_consent_no_invitation(db, post, consent):
    body = dossier()
    if consent is None:
        del body["contact_consent"]  # absent: a new dossier has no consent
    else:
        body["contact_consent"] = consent
    answer = post(body)
    assert answer.status_code == 201 and answer.json["invitation"] == "no_contact_consent"
    assert _invitations(db) == 0
    assert db.session.scalar(select(Dossier)).contact_consent is False


@pytest.mark.parametrize("consent", [True, "true", "Có", "1", "yes"])
def test_consent_given_allows_the_invitation(db, post, consent):
    answer = post(dossier(contact_consent=consent))
    assert answer.status_code == 201 and answer.json["invitation"] == "eligible"
    assert _invitations(db) == 1 and db.session.scalar(select(Dossier)).contact_consent is True


def test_an_unreadable_consent_is_422(post):
    answer = post(dossier(contact_consent="maybe"))
    assert answer.status_code == 422 and "contact_consent" in answer.json["details"]


def test_consent_recorded_at_reception_is_kept_when_later_events_omit_it(db, post):
    assert post(dossier(returned=False)).json["invitation"] is None  # consent recorded
    later = dossier()
    del later["contact_consent"]
    assert post(later).json["invitation"] == "eligible"
    assert _invitations(db) == 1


def test_consent_withdrawn_before_the_text_left_stops_it(db, post):
    assert post(dossier()).json["invitation"] == "eligible"
    answer = post(dossier(contact_consent=False))
    assert answer.json["status"] == "updated"
    invitation = db.session.scalar(select(Invitation))
    assert invitation.status == InvitationStatus.FAILED
    assert invitation.error_code == "no_contact_consent"


def test_csv_contact_consent_words_and_errors(db, runner, office, tmp_path):
    header = "office_code,code,phone,returned_at,contact_consent\n"
    rows = [("có", True), ("Không", False), ("1", True), ("0", False), ("", False)]
    path = tmp_path / "dossiers.csv"
    path.write_text(
        header
        + "".join(
            f"OFF1,HS-{i},098{i:07d},{NOW.isoformat()},{word}\n" for i, (word, _) in enumerate(rows)
        ),
        "utf-8",
    )
    result = runner.invoke(args=["mscore", "import", "dossiers", str(path)])
    assert result.exit_code == 0, result.output
    assert "SMS invitations queued: 2" in result.output
    stored = {d.code: d.contact_consent for d in db.session.scalars(select(Dossier))}
    assert stored == {f"HS-{i}": expected for i, (_, expected) in enumerate(rows)}
    bad = tmp_path / "bad.csv"
    bad.write_text(header + f"OFF1,HS-9,0980000009,{NOW.isoformat()},perhaps\n", "utf-8")
    refused = runner.invoke(args=["mscore", "import", "dossiers", str(bad)])
    assert refused.exit_code != 0 and "line 2, column contact_consent" in refused.output
