"""Issue 16 §1: a scoped caller (office token or office manager) sees its offices only, in every
format, and comparisons with its group only under disclosure control."""

from __future__ import annotations

import csv
import io
import json

import openpyxl
import pytest

from .scoping import MARCH, add_responses, bearer, sign_in

URL = f"/api/v1/reports/satisfaction?{MARCH}"


@pytest.fixture
def province(db, make_office, questionnaire):
    """A (departments) over its commune B; C, D departments; E a district; U without a group.
    Each has 40 responses, so each is reliable and ranked."""
    from survey_app.models import OfficeKind, RankingGroup

    offices = {"A": make_office("A", "Sở Tư pháp")}
    offices["B"] = make_office(
        "B", "Xã B", parent=offices["A"], kind=OfficeKind.COMMUNE, group=RankingGroup.COMMUNES
    )
    offices["C"] = make_office("C", "Sở Xây dựng")
    offices["D"] = make_office("D", "Sở Y tế")
    offices["E"] = make_office("E", "Huyện E", kind=OfficeKind.DISTRICT, group="districts")
    offices["U"] = make_office("U", "Ban quản lý U", kind=OfficeKind.OTHER, group=None)
    for i, (code, level) in enumerate(zip("ABCDEU", (0.9, 0.5, 0.7, 0.6, 0.8, 0.4), strict=True)):
        add_responses(db, offices[code], questionnaire, 40, level, seed=i, comments=2)
    return offices


def _estimates(entry):
    """Every estimate dict of an office or group entry."""
    yield entry.get("index")
    yield from (entry.get("elements") or {}).values()
    yield entry.get("overall_question")
    yield from (entry.get("questions") or {}).values()


def test_office_token_gets_no_group_totals_built_from_other_offices(client, db, province):
    """The finding: an office token got every group's totals, ranks and group sizes."""
    from survey_app.api.report_schemas import SatisfactionReportOut

    headers = bearer(db, "reports:read", office=province["A"])
    doc = client.get(f"{URL}&compare=previous&include=breakdowns", headers=headers).json
    assert SatisfactionReportOut().validate(doc) == {}
    assert [o["code"] for o in doc["offices"]] == ["A", "B"]
    # A's group has two offices outside the scope (C, D): no benchmark; B's group (communes)
    # none; E's and U's groups hold no office of the scope: not listed at all
    assert [(g["group"], g["benchmark"]) for g in doc["groups"]] == [
        ("communes", "withheld"),
        ("departments", "withheld"),
    ]
    for group in doc["groups"]:
        assert group["reason"] and group["index"] is None and "responses" not in group
        assert "offices" not in group and "dossiers" not in group
    for office in doc["offices"]:
        for est in filter(None, _estimates(office)):
            assert est.get("rank") is est.get("group_size") is est.get("rank_low") is None
            assert est.get("individual_rank_low") is est.get("individual_rank_high") is None
            assert est.get("tier") in (None, "unreliable")
            assert set(est.get("eb", {}).values()) <= {None}
            assert est.get("change", {}).get("previous_rank") is None
    assert doc["disclosure"]["min_outside_offices"] == 3
    assert {b["office_code"] for b in doc["breakdowns"]["services"]} <= {"A", "B"}


def test_own_numbers_are_the_unscoped_ones(client, db, province):
    """What is the caller's own (counts, estimates, intervals) is what an unscoped caller sees."""
    scoped = client.get(URL, headers=bearer(db, "reports:read", office=province["A"])).json
    full = client.get(URL, headers=bearer(db, "reports:read")).json
    by_code = {o["code"]: o for o in full["offices"]}
    for office in scoped["offices"]:
        other = by_code[office["code"]]
        for key in ("dossiers", "responses", "responses_by_channel", "dissatisfied", "sms"):
            assert office[key] == other[key]
        for mine, theirs in zip(_estimates(office), _estimates(other), strict=True):
            for key in ("value", "low", "high", "se", "n", "n_eff", "df", "reliable"):
                assert mine[key] == pytest.approx(theirs[key]), key


def test_a_group_of_one_office_outside_the_scope_is_never_shown(client, db, province):
    """`group=ungrouped` held a single office outside the scope: its exact figures came back."""
    headers = bearer(db, "reports:read", office=province["A"])
    doc = client.get(f"{URL}&group=ungrouped", headers=headers).json
    assert doc["offices"] == [] and doc["groups"] == []
    rows = _csv(
        client.get(
            f"/reports/satisfaction.csv?{MARCH}&group=ungrouped&view=groups", headers=headers
        )
    )
    assert rows[1:] == []


def test_benchmark_given_with_three_offices_outside_the_scope(
    client, db, province, make_office, questionnaire
):
    f = make_office("F", "Sở Công Thương")
    add_responses(db, f, questionnaire, 40, 0.8, seed=9)
    scoped = client.get(URL, headers=bearer(db, "reports:read", office=province["A"])).json
    full = client.get(URL, headers=bearer(db, "reports:read")).json
    departments = next(g for g in scoped["groups"] if g["group"] == "departments")
    truth = next(g for g in full["groups"] if g["group"] == "departments")
    assert departments["benchmark"] == "given" and departments["reason"] is None
    assert departments["index"] == {k: truth["index"][k] for k in ("value", "low", "high")}
    a = scoped["offices"][0]["index"]
    a_full = next(o for o in full["offices"] if o["code"] == "A")["index"]
    for key in ("rank", "rank_low", "rank_high", "group_size", "tier", "eb"):
        assert a[key] == a_full[key] and a[key] is not None
    for key in ("individual_rank_low", "individual_rank_high"):  # against the group, not the scope
        assert a[key] == a_full[key] and a[key] is not None
    assert a["group_size"] == 4
    communes = next(g for g in scoped["groups"] if g["group"] == "communes")
    assert communes["benchmark"] == "withheld"  # B is alone in its group


def test_ranks_need_three_ranked_offices_outside(client, db, province, make_office, questionnaire):
    """Three outside offices answered, but one too little to be ranked: the rank would compare A
    with two offices only, so it is withheld while the group's index is given."""
    f = make_office("F", "Sở Công Thương")
    add_responses(db, f, questionnaire, 5, 0.8, seed=9)  # unreliable: not ranked
    doc = client.get(URL, headers=bearer(db, "reports:read", office=province["A"])).json
    departments = next(g for g in doc["groups"] if g["group"] == "departments")
    assert departments["benchmark"] == "given" and departments["index"]["value"] is not None
    a = doc["offices"][0]["index"]
    assert a["rank"] is None and a["group_size"] is None and a["rank_low"] is None
    assert a["individual_rank_low"] is None and a["individual_rank_high"] is None
    assert a["eb"]["value"] is not None  # F has answers: the shrinkage target rests on three


def _csv(response):
    assert response.status_code == 200, response.data[:300]
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))


@pytest.mark.parametrize(
    "view", ["offices", "groups", "elements", "questions", "services", "channels", "comments"]
)
def test_every_csv_view_is_scoped(client, db, province, view):
    headers = bearer(db, "reports:read", office=province["A"])
    rows = _csv(client.get(f"/reports/satisfaction.csv?{MARCH}&view={view}", headers=headers))
    header, body = rows[0], rows[1:]
    if view == "groups":
        assert [r[0] for r in body] == ["communes", "departments"]
        counts = [header.index(h) for h in ("Số đơn vị", "Số phiếu", "Hồ sơ đã trả kết quả")]
        assert all(r[i] == "" for r in body for i in counts)
        return
    assert body, "the scope's own rows are there"
    code = header.index("Mã đơn vị")
    assert {r[code] for r in body} == {"A", "B"}
    if view == "comments":
        text = header.index("Góp ý")
        assert {r[text].split()[0] for r in body} == {"A", "B"}
    for name in ("Hạng", "Số đơn vị xếp hạng", "Ước lượng EB"):
        if name in header:
            assert {r[header.index(name)] for r in body} == {""}


def _sheet_rows(book, name: str) -> list[tuple]:
    """The data rows of a sheet: those under its header row (title and period lines above it)."""
    rows = list(book[name].iter_rows(values_only=True))
    header = next(i for i, r in enumerate(rows) if r[0] in ("Khối", "Mã đơn vị"))
    return rows[header + 1 :]


def test_xlsx_is_scoped(client, db, province):
    headers = bearer(db, "reports:read", office=province["A"])
    res = client.get(f"/reports/satisfaction.xlsx?{MARCH}", headers=headers)
    book = openpyxl.load_workbook(io.BytesIO(res.data))
    groups = _sheet_rows(book, "Tổng theo khối")
    assert sorted(r[0] for r in groups) == ["Khối sở, ban, ngành", "Khối xã, phường, thị trấn"]
    assert all(r[1] is None for r in groups)  # no office count
    assert sorted(r[0] for r in _sheet_rows(book, "Đơn vị")) == ["A", "B"]
    assert {r[0] for r in _sheet_rows(book, "Góp ý")} == {"A", "B"}


def test_cli_report_for_an_office(app, client, db, province, runner, tmp_path):
    out = tmp_path / "a.json"
    result = runner.invoke(
        args=[
            "mscore",
            "report",
            "--from",
            "2025-03-01",
            "--to",
            "2025-03-31",
            "--office",
            "A",
            "--format",
            "json",
            "--out",
            str(out),
        ]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    api = client.get(URL, headers=bearer(db, "reports:read", office=province["A"])).json
    assert doc == api
    result = runner.invoke(
        args=[
            "mscore",
            "report",
            "--from",
            "2025-03-01",
            "--to",
            "2025-03-31",
            "--office",
            "NOPE",
            "--out",
            str(out),
        ]
    )
    assert result.exit_code != 0 and "no office" in result.output


def test_office_manager_session_is_scoped_everywhere(app, db, province):
    client = app.test_client()
    sign_in(db, client, "office_manager", province["A"])
    doc = client.get(URL).json
    assert [o["code"] for o in doc["offices"]] == ["A", "B"]
    assert all(g["benchmark"] == "withheld" for g in doc["groups"])
    page = client.get("/api/v1/responses?limit=500").json
    assert {r["office_code"] for r in page["responses"]} == {"A", "B"}
    assert [o["code"] for o in client.get("/api/v1/offices").json["offices"]] == ["A", "B"]
    rows = _csv(client.get(f"/reports/satisfaction.csv?{MARCH}&view=groups"))
    assert [r[0] for r in rows[1:]] == ["communes", "departments"]
    assert client.get(f"{URL}&office=C").status_code == 403


def test_an_analyst_session_sees_every_office(app, db, province):
    client = app.test_client()
    sign_in(db, client, "analyst")
    doc = client.get(URL).json
    assert [o["code"] for o in doc["offices"]] == ["A", "B", "C", "D", "E", "U"]
    assert "disclosure" not in doc and doc["groups"][0]["offices"]


def test_a_disabled_officials_session_is_refused(app, db, province):
    client = app.test_client()
    sign_in(db, client, "analyst", enabled=False)
    assert client.get(URL).status_code == 401
    assert client.get(f"/reports/satisfaction.csv?{MARCH}").status_code == 401


def test_response_ids_and_cursors_do_not_count_other_offices(client, db, province, questionnaire):
    """Database ids run across offices: A's ids 1 and 5 would say that 3 responses went
    elsewhere in between. The API names responses by a keyed hash and encrypts its cursors."""
    import base64

    headers = bearer(db, "responses:read", office=province["A"])
    page = client.get("/api/v1/responses?limit=3&office=A", headers=headers).json
    assert len(page["responses"]) == 3 and page["has_more"]
    for response in page["responses"]:
        assert isinstance(response["id"], str) and not response["id"].isdigit()
        assert len(response["id"]) == 16
    cursor = page["next_cursor"]
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    assert b"r1:" not in raw and b"r2:" not in raw and str(len(page["responses"])).encode() != raw
    rest = client.get(f"/api/v1/responses?limit=500&office=A&cursor={cursor}", headers=headers)
    seen = [r["id"] for r in page["responses"]] + [r["id"] for r in rest.json["responses"]]
    assert len(seen) == len(set(seen)) == 80  # A and its commune B
