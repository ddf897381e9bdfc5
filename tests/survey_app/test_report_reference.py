"""End to end against R: the reference province in the database, the report API's numbers equal
what R's survey package computes from the unit records (tests/reference/, to 1e-8).

The province and R's results are committed files (tests/reference/province.py makes them; R is
not needed here). Items are domains of the whole post-stratified design (svymean on a subset),
elements and the overall index are svycontrast of svytotal, strata with one respondent follow
lonely.psu = "adjust" with their fpc, and changes are MOVER intervals of the two months.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlalchemy import insert

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
KEYS = ("value", "se", "low", "high", "n_eff")


@pytest.fixture(scope="module")
def province():
    return json.loads((REFERENCE / "province.json").read_text())


@pytest.fixture(scope="module")
def expected():
    return json.loads((REFERENCE / "province_expected.json").read_text())


@pytest.fixture
def built(db, make_office, make_service, questionnaire, province):
    """The province's offices, services, dossiers, invitations, responses and answers."""
    from survey_app.models import Answer, Dossier, Invitation, RankingGroup, Response

    offices = {
        code: make_office(code, meta["name"], group=RankingGroup(meta["group"]))
        for code, meta in province["offices"].items()
    }
    services = {
        code: make_service(code, f"Dịch vụ {code}", field=field)
        for code, field in province["services"].items()
    }
    question = {q.code: q.id for q in questionnaire.questions}
    sms = {}
    for r in province["responses"]:
        if r["dossier"]:
            key = (r["period"], r["office"], r["service"])
            sms[key] = sms.get(key, 0) + 1
    for cell in province["dossiers"]:
        first = date.fromisoformat(province["periods"][cell["period"]][0])
        mid = datetime(first.year, first.month, 15, 10, tzinfo=TZ).astimezone(UTC)
        key = (cell["period"], cell["office"], cell["service"])
        for k in range(cell["returned"] - sms.get(key, 0)):
            db.session.add(
                Dossier(
                    office=offices[cell["office"]],
                    code=f"{cell['office']}-{cell['service']}-{cell['period']}-{k}",
                    service=services.get(cell["service"]),
                    returned_at=mid,
                )
            )
    rows = []
    for i, r in enumerate(province["responses"]):
        dossier = None
        if r["dossier"]:
            returned = datetime.fromisoformat(r["dossier"]["returned_at"])
            dossier = Dossier(
                office=offices[r["office"]],
                code=r["dossier"]["code"],
                service=services.get(r["service"]),
                returned_at=returned,
            )
            dossier.invitation = Invitation(
                office_id=offices[r["office"]].id,
                phone_hash=f"h{i}",
                sampling_probability=r["dossier"]["probability"],
                status="answered",
                next_attempt_at=returned,
                sent_at=returned,
            )
        response = Response(
            office=offices[r["office"]],
            service=services.get(r["service"]),
            dossier=dossier,
            questionnaire_id=questionnaire.id,
            channel=r["channel"],
            submitted_at=datetime.fromisoformat(r["submitted_at"]),
            integrity=r["integrity"],
        )
        db.session.add(response)
        rows.append((response, r["answers"]))
    db.session.flush()
    answers = [
        {
            "response_id": response.id,
            "submitted_at": response.submitted_at,  # the month of the answer's partition
            "question_id": question[code],
            "value": value,
        }
        for response, values in rows
        for code, value in zip(province["questions"], values, strict=True)
        if value is not None
    ]
    db.session.execute(insert(Answer), answers)
    db.session.commit()
    return province


def _report(client, db):
    from survey_app.api.auth import create_token

    _, plain = create_token("reference", None, ("reports:read",))
    db.session.commit()
    res = client.get(
        "/api/v1/reports/satisfaction?from=2025-06-01&to=2025-06-30&compare=previous",
        headers={"Authorization": f"Bearer {plain}"},
    )
    assert res.status_code == 200, res.get_data(as_text=True)[:500]
    return res.json


def _close(got, want, where):
    assert got == pytest.approx(want, rel=1e-8, abs=1e-12), where


def _compare_estimate(got: dict, want: dict | None, where: str, previous: dict | None, change):
    if want is None or want["value"] is None:
        assert got["value"] is None, where
        assert got["n"] == 0 if want is None else got["blank_reason"] is not None, where
        return
    for key in KEYS:
        _close(got[key], want[key], f"{where} {key}")
    assert (got["n"], got["df"]) == (want["n"], want["df"]), where
    if "mean" in want:
        for key, name in (("value", "mean"), ("low", "mean_low"), ("high", "mean_high")):
            _close(got["mean"][key], want[name], f"{where} mean {key}")
    if previous is not None and previous["value"] is not None:
        _close(got["change"]["previous"], previous["value"], f"{where} previous")
    if change is not None:
        for key in ("diff", "low", "high"):
            _close(got["change"][key], change[key], f"{where} change {key}")


def _compare_unit(got: dict, want: dict, before: dict | None, change: dict, where: str):
    before = before or {"questions": {}, "elements": {}, "index": None}
    for code, item in want["questions"].items():
        _compare_estimate(
            got["questions"][code],
            item,
            f"{where} {code}",
            before["questions"].get(code),
            change["questions"].get(code),
        )
    for name, element in want["elements"].items():
        _compare_estimate(
            got["elements"][name],
            element,
            f"{where} {name}",
            before["elements"].get(name),
            change["elements"].get(name),
        )
    _compare_estimate(
        got["index"], want["index"], f"{where} index", before["index"], change["index"]
    )


def test_report_equals_r_on_the_reference_province(client, db, built, expected):
    doc = _report(client, db)
    offices = {o["code"]: o for o in doc["offices"]}
    assert set(offices) == set(expected["current"]["offices"])
    for code, want in expected["current"]["offices"].items():
        before = expected["previous"]["offices"].get(code)
        change = expected["change"]["offices"][code]
        _compare_unit(offices[code], want, before, change, code)
    groups = {g["group"]: g for g in doc["groups"]}
    for name, want in expected["current"]["groups"].items():
        before = expected["previous"]["groups"].get(name)
        _compare_unit(groups[name], want, before, expected["change"]["groups"][name], name)


def test_the_reference_province_has_what_it_is_for(client, db, built, expected):
    """The cases the province was made for are there, and blank estimates say why."""
    doc = _report(client, db)
    offices = {o["code"]: o for o in doc["offices"]}
    d4 = offices["D4"]
    assert d4["questions"]["access_seats"]["value"] is None
    assert d4["questions"]["access_seats"]["n"] == 0
    assert d4["elements"]["access"]["value"] is None
    assert d4["elements"]["access"]["blank_reason"] == "item_without_answers"
    assert d4["elements"]["access"]["missing"] == ["access_seats"]
    assert d4["index"]["blank_reason"] == "element_blank"
    assert d4["index"]["missing"] == ["access"]
    assert d4["index"]["change"]["previous"] is not None  # May's index was not blank
    assert offices["D2"]["index"]["value"] == 1.0 and offices["D2"]["index"]["se"] == 0.0
    assert offices["D3"]["index"]["value"] == 0.0 and offices["D3"]["index"]["high"] > 0.0
    mean = offices["D2"]["questions"]["overall"]["mean"]
    assert 1.0 <= mean["low"] and mean["high"] <= 5.0
    assert offices["D1"]["index"]["blank_reason"] is None
    assert all(
        o["index"]["n"] < o["responses"] for o in doc["offices"] if o["code"] in ("D1", "C1")
    ), "some respondents answered only the overall question"


@pytest.mark.parametrize("row_bytes", [10**9, 400, 0], ids=["moments", "mixed", "patterns"])
def test_a_years_moments_give_the_indices_of_its_respondents(
    app, db, built, row_bytes, monkeypatch
):
    """A calendar year's keys with many patterns hold moments instead (one row per key); its
    indices equal the raw responses' (the patterns' path, equal to R above), with the
    reference's skips, SMS sampling rates, post-strata and single-respondent strata, whether
    every key, some or none hold moments (the rule's threshold forced)."""
    from sqlalchemy import func, select

    from survey_app.models import RollupMoment, RollupPattern
    from survey_app.models.rollups import YEAR
    from survey_app.models.surveys import SIPAS_ELEMENTS
    from survey_app.reporting import Params, Period, build_report, year_moments

    monkeypatch.setattr(year_moments, "PATTERN_ROW_BYTES", row_bytes)
    year = Period(date(2025, 1, 1), date(2025, 12, 31))
    rolled = build_report(Params(year, compare=False))
    raw = build_report(Params(year, compare=False, source="raw"))
    moments = db.session.scalar(select(func.count()).select_from(RollupMoment))
    patterns = db.session.scalar(select(func.count()).where(RollupPattern.grain == YEAR))
    assert (moments > 0) == (row_bytes > 0)
    assert (patterns > 0) == (row_bytes < 10**9)
    for estimates in ("current", "group_current"):
        got, want = getattr(rolled, estimates), getattr(raw, estimates)
        for name in ("index", *map(str, SIPAS_ELEMENTS)):
            a, b = got.tables[name], want.tables[name]
            assert np.isfinite(b.se).any(), name
            np.testing.assert_allclose(a.value, b.value, rtol=1e-12, err_msg=name)
            np.testing.assert_allclose(a.se, b.se, rtol=1e-9, err_msg=name)
            np.testing.assert_allclose(a.low, b.low, rtol=1e-9, err_msg=name)
            np.testing.assert_array_equal(a.n, b.n)
            np.testing.assert_array_equal(a.df, b.df)
            np.testing.assert_allclose(a.n_eff, b.n_eff, rtol=1e-12, err_msg=name)
