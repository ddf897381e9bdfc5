"""The officials' pages and downloads: every page for every role, scope (an office manager never
sees another office's data, URL guessing included), figures equal to the report document,
charts as CSP-safe SVG, the printable PDF, CSV and Excel downloads."""

from __future__ import annotations

import csv
import io
import json
import re

import openpyxl
import pytest

from .officials import csrf_of, make_user, sign_in
from .test_api_reports import token  # noqa: F401  (the token fixture)
from .test_reporting import seed

P = "period=custom&from=2025-03-01&to=2025-03-31"
PAGES = ["/dashboard", "/dashboard/funnel", "/dashboard/trends", "/dashboard/responses"]


@pytest.fixture
def seeded(app, db, make_office, make_service, questionnaire):
    data = seed(db, make_office, make_service, questionnaire, scale=0.5)
    offices = data["offices"]
    make_user(db, "admin@x.vn", "admin")
    make_user(db, "analyst@x.vn", "analyst")
    make_user(db, "a@x.vn", "office_manager", offices["A"])  # A and B under it
    make_user(db, "b@x.vn", "office_manager", offices["B"])
    return data


def _csv(res) -> list[dict]:
    assert res.status_code == 200, res.text[:500]
    return list(csv.DictReader(io.StringIO(res.data.decode("utf-8-sig"))))


def test_anonymous_visitors_are_sent_to_sign_in(client, seeded):
    for url in [
        *PAGES,
        "/offices/A",
        "/offices/A/report.pdf",
        "/offices/A/comments.csv",
        "/dashboard/overview/offices.csv",
        "/dashboard/overview/ranking.svg",
    ]:
        res = client.get(f"{url}?{P}")
        assert res.status_code == 302, url
        assert res.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("email", ["admin@x.vn", "analyst@x.vn"])
def test_admins_and_analysts_see_every_office(client, seeded, email):
    sign_in(client, email)
    for url in PAGES:
        res = client.get(f"{url}?{P}&group=departments")
        assert res.status_code == 200, url
        assert "01/03/2025 – 31/03/2025" in res.text  # the period in every page
        assert "Khối sở, ban, ngành" in res.text  # and the group
    page = client.get(f"/dashboard?{P}&group=departments").text
    for name in ("Sở Tư pháp", "Sở Xây dựng", "Sở Y tế", "Phòng Hộ tịch"):
        assert name in page
    assert client.get(f"/offices/E?{P}").status_code == 200


def test_office_manager_sees_only_its_subtree(client, seeded):
    sign_in(client, "a@x.vn")
    page = client.get(f"/dashboard?{P}")
    assert page.status_code == 200
    assert "Sở Tư pháp" in page.text and "Phòng Hộ tịch" in page.text
    for other in ("Sở Xây dựng", "Sở Y tế", "UBND huyện E"):
        assert other not in page.text
    rows = _csv(client.get(f"/dashboard/overview/offices.csv?{P}"))
    assert sorted(r["Mã"] for r in rows) == ["A", "B"]
    for url in (
        "/offices/C",
        "/offices/D/report.pdf",
        "/offices/E/comments.csv",
        "/offices/C/ranking.svg",
        "/offices/D/questions.xlsx",
    ):
        res = client.get(f"{url}?{P}")
        assert res.status_code == 403, url
        assert "Không được phép" in res.text and "Góp ý số" not in res.text
    assert client.get(f"/offices/NOPE?{P}").status_code == 404
    # a group outside the scope is not offered, and guessing it shows the manager's own group
    res = client.get(f"/dashboard?{P}&group=districts")
    assert res.status_code == 400 and "UBND huyện E" not in res.text
    workbook = client.get("/reports/satisfaction.xlsx?from=2025-03-01&to=2025-03-31")
    sheet = openpyxl.load_workbook(io.BytesIO(workbook.data)).worksheets[0]
    codes = {
        c.value for row in sheet.iter_rows() for c in row if c.value in {"A", "B", "C", "D", "E"}
    }
    assert codes == {"A", "B"}


def test_an_office_manager_sees_the_group_benchmark_it_is_given(
    client, db, seeded, make_office, questionnaire
):
    """With 3 more departments outside its scope, a manager's group benchmark is given (issue 16
    §1) without the fields kept for unscoped callers (PAR points, group sizes): the page shows
    the benchmark and a dash for what the document does not carry, never a 500."""
    from .scoping import add_responses

    for i, code in enumerate(("F", "G", "H")):
        add_responses(db, make_office(code, f"Sở {code}"), questionnaire, 30, 0.8, seed=i)
    sign_in(client, "a@x.vn")
    doc = client.get("/api/v1/reports/satisfaction?from=2025-03-01&to=2025-03-31").json
    (group,) = [g for g in doc["groups"] if g["group"] == "departments"]
    assert group["index"]["value"] is not None  # the benchmark is given ...
    page = client.get(f"/dashboard?{P}")
    assert page.status_code == 200, page.text[:300]
    assert "Sở F" not in page.text and "Sở Xây dựng" not in page.text  # ... no outside office


def test_manager_of_a_leaf_sees_one_office(client, seeded):
    sign_in(client, "b@x.vn")
    assert client.get(f"/offices/A?{P}").status_code == 403
    res = client.get(f"/offices/B?{P}")
    assert res.status_code == 200 and "Phòng Hộ tịch" in res.text
    rows = _csv(client.get(f"/dashboard/responses/responses.csv?{P}"))
    assert [r["Mã"] for r in rows] == ["B"]
    assert _csv(client.get(f"/offices/B/comments.csv?{P}")) is not None


def test_office_table_holds_what_the_report_says(client, seeded, token):  # noqa: F811
    headers = token("reports:read")
    api = client.get(
        "/api/v1/reports/satisfaction?from=2025-03-01&to=2025-03-31&group=departments"
        "&compare=previous",
        headers=headers,
    ).json
    sign_in(client, "analyst@x.vn")
    rows = {
        r["Mã"]: r
        for r in _csv(client.get(f"/dashboard/overview/offices.csv?{P}&group=departments"))
    }
    assert set(rows) == {o["code"] for o in api["offices"]}
    for office in api["offices"]:
        row, index = rows[office["code"]], office["index"]
        assert float(row["Chỉ số hài lòng"]) == pytest.approx(index["value"])
        assert float(row["Cận dưới (95%)"]) == pytest.approx(index["low"])
        assert int(row["Số phiếu"]) == office["responses"]
        assert row["Hạng"] == ("" if index.get("rank") is None else str(index["rank"]))
        for key, header in (
            ("rank_low", "Hạng cao nhất có thể (so sánh mọi đơn vị cùng lúc)"),
            ("individual_rank_low", "Hạng cao nhất có thể (riêng đơn vị này)"),
            ("individual_rank_high", "Hạng thấp nhất có thể (riêng đơn vị này)"),
        ):
            shown = index.get(key) if index.get("reliable") else None
            assert row[header] == ("" if shown is None else str(shown)), (key, row)
    ranked = [o["index"] for o in api["offices"] if o["index"].get("rank") is not None]
    assert ranked and all(
        i["rank_low"] <= i["individual_rank_low"] <= i["individual_rank_high"] <= i["rank_high"]
        for i in ranked
    )  # the individual interval lies within the joint one
    group = next(g for g in api["groups"] if g["group"] == "departments")
    page = client.get(f"/dashboard?{P}&group=departments").text
    assert f"{100 * group['index']['value']:.1f}".replace(".", ",") + "%" in page


def test_unreliable_offices_are_shown_and_not_ranked(client, seeded):
    sign_in(client, "analyst@x.vn")
    rows = _csv(client.get(f"/dashboard/overview/offices.csv?{P}&group=districts"))
    assert rows and all(r["Đủ tin cậy"] in {"0", "1"} for r in rows)
    for r in rows:
        if r["Đủ tin cậy"] == "0":
            assert r["Hạng"] == "" and r["So với cả khối"] == "Chưa đủ phiếu"


def test_sorting_and_bad_filters(client, seeded):
    sign_in(client, "analyst@x.vn")
    res = client.get(f"/dashboard?{P}&group=departments&sort=name&dir=desc")
    names = re.findall(
        r'<th scope="row" class="rank">.*?</th>\s*<td class="name"><a href="[^"]+">'
        r"([^<]+)</a></td>",
        res.text,
    )
    assert names == sorted(names, key=str.casefold, reverse=True) and len(names) == 4
    for bad in (
        "period=2025-13",
        "period=custom&from=2025-03-31&to=2025-03-01",
        "period=custom&from=x&to=y",
        "period=custom&from=1900-01-01&to=1900-01-31",
        "period=1999",
        "period=2025-Q5",
        "group=nope",
    ):
        res = client.get(f"/dashboard?{bad}")
        assert res.status_code == 400 and 'class="error-summary"' in res.text, bad
    assert client.get("/dashboard?period=%00").status_code == 400  # never a 500


def test_charts_are_svg_without_style_or_script(client, db, seeded):
    seeded["offices"]["C"].name = 'Sở <script>alert(1)</script> & "Xây dựng"'
    db.session.commit()
    sign_in(client, "analyst@x.vn")
    page = client.get(f"/dashboard?{P}&group=departments").text
    assert "<script>alert(1)" not in page
    for url in (
        "/dashboard/overview/ranking.svg",
        "/dashboard/overview/elements.svg",
        "/dashboard/funnel/funnel.svg",
        "/dashboard/trends/trend.svg",
        "/offices/A/elements.svg",
        "/offices/A/trend.svg",
    ):
        res = client.get(f"{url}?{P}&group=departments")
        assert res.status_code == 200 and res.mimetype == "image/svg+xml", url
        svg = res.data.decode()
        assert svg.startswith("<svg") and "style=" not in svg and "<script" not in svg
        # the browser's sans-serif, never a font it may lack (its default would be a serif)
        assert set(re.findall(r'font-family="([^"]*)"', svg)) == {"sans-serif"}, url
    ranking = client.get(f"/dashboard/overview/ranking.svg?{P}&group=departments").data.decode()
    assert "&lt;script&gt;" in ranking and "Sở Tư pháp" in ranking
    assert 'role="img" aria-label="4 đơn vị' in page  # the text alternative


def test_chart_specs_are_valid_vega_lite(app, client, seeded):
    import altair as alt

    from survey_app.dashboard import charts

    specs = []
    original = charts.svg
    charts.svg = lambda spec: specs.append(spec) or original(spec)
    try:
        sign_in(client, "analyst@x.vn")
        for url in PAGES + ["/offices/A"]:
            assert client.get(f"{url}?{P}&group=departments").status_code == 200
    finally:
        charts.svg = original
    assert len(specs) >= 5
    for spec in specs:
        alt.LayerChart.from_dict(spec, validate=True)  # raises on an invalid spec


def test_the_printed_chart_is_drawn_with_dejavu(app, client, seeded, monkeypatch):
    """The PDF's PNG chart names DejaVu Sans, its Vietnamese glyphs drawn from survey_app/fonts
    (the SVG names the browser's sans-serif: test_charts_are_svg_without_style_or_script)."""
    from survey_app.dashboard import charts

    drawn = []
    original = charts._png  # memoised: the spec each PNG is asked for, drawn or not
    monkeypatch.setattr(
        charts, "_png", lambda text, scale: drawn.append(json.loads(text)) or original(text, scale)
    )
    sign_in(client, "a@x.vn")
    assert client.get(f"/offices/A/report.pdf?{P}").status_code == 200
    assert drawn and {spec["config"]["font"] for spec in drawn} == {"DejaVu Sans"}


def test_office_page_and_its_downloads(client, db, seeded, questionnaire):
    from datetime import UTC, datetime

    from survey_app.models import Answer, Response

    comment = next(q for q in questionnaire.questions if q.kind == "text")
    payment = next(q for q in questionnaire.questions if q.code == "extra_payment")
    overall = next(q for q in questionnaire.questions if q.code == "overall")
    r = Response(
        office=seeded["offices"]["A"],
        questionnaire_id=questionnaire.id,
        channel="qr_web",
        submitted_at=datetime(2025, 3, 31, 16, tzinfo=UTC),  # 23:00 local, the newest
    )
    r.answers = [
        Answer(question_id=overall.id, value=1),
        Answer(question_id=payment.id, value=1),
        Answer(question_id=comment.id, text="Bị đòi 200 nghìn"),
    ]
    db.session.add(r)
    db.session.commit()
    sign_in(client, "a@x.vn")
    page = client.get(f"/offices/A?{P}")
    assert page.status_code == 200
    first = page.text.index("Bị đòi 200 nghìn")
    assert '<tr class="highlight">' in page.text[first - 400 : first]  # highlighted, newest first
    assert page.text.index("Góp ý số") > first
    found = client.get(f"/offices/A?{P}&q=200 NGHÌN")
    assert "Bị đòi 200 nghìn" in found.text and "Góp ý số" not in found.text
    rows = _csv(client.get(f"/offices/A/comments.csv?{P}"))
    assert rows[0]["Góp ý"] == "Bị đòi 200 nghìn" and rows[0]["Đánh giá chung"] == "1"
    assert rows[0]["Cho biết bị đòi tiền ngoài quy định"] == "1"
    for table in ("elements", "questions", "services", "channels", "counters", "trend"):
        res = client.get(f"/offices/A/{table}.xlsx?{P}")
        assert res.status_code == 200, table
        ws = openpyxl.load_workbook(io.BytesIO(res.data)).worksheets[0]
        assert "Sở Tư pháp" in ws["A1"].value and "01/03/2025 – 31/03/2025" in ws["A2"].value
        assert ws.freeze_panes == "A5" and ws.page_setup.orientation == "landscape"
    pdf = client.get(f"/offices/A/report.pdf?{P}")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF") and pdf.data.count(b"/Type /Page\n") == 1
    assert b"/MediaBox [0 0 595.28 841.89]" in pdf.data  # A4
    assert "bao-cao-A_2025-03-01_2025-03-31.pdf" in pdf.headers["Content-Disposition"]


def test_pages_show_what_disclosure_control_withholds_as_withheld(app):
    """A scoped official's document (issue 16 §1's format): the group's benchmark withheld
    with the rule's words, a reliable office's tier and rank withheld (null): the page says
    'not shown', never a tier or a mean it was not given."""
    from survey_app.dashboard import pages

    doc = {
        "offices": [
            {
                "code": "A",
                "name": "Sở A",
                "group": "departments",
                "responses": 80,
                "index": {
                    "value": 0.8,
                    "low": 0.7,
                    "high": 0.9,
                    "n_eff": 70.0,
                    "reliable": True,
                    "tier": None,
                    "rank": None,
                    "group_size": None,
                },
            }
        ],
        "groups": [
            {
                "group": "departments",
                "benchmark": "withheld",
                "reason": "fewer_than_3_outside_offices_with_responses",
                "index": None,
            }
        ],
        "disclosure": {"scoped": True, "rule": {"vi": "Các so sánh với khối ...", "en": "..."}},
    }
    with app.test_request_context("/dashboard"):
        assert pages.group_entry(doc, "departments") is None
        assert pages.headline(doc, "departments") is None
        assert pages.withheld_reason(doc, "departments") == "Các so sánh với khối ..."
        (row,) = pages.office_rows(doc, "departments")
        assert row["tier"] == "withheld" and row["rank"] is None
        assert row["tier_label"] == "Không hiển thị (quá ít đơn vị khác)"


def test_funnel_colours_follow_the_points_side(app):
    """Above the limits is green, below red, whatever order the labels are cached in."""
    from survey_app.dashboard import chart_views, charts
    from survey_app.dashboard.filters import Filters
    from survey_app.reporting import Period

    rows = [
        {"name": n, "value": v, "n_eff": 400.0}
        for n, v in (("High", 0.97), ("Mid", 0.8), ("Low", 0.55), ("Mid2", 0.78))
    ]
    head = {"index": {"value": 0.8}}
    with app.test_request_context("/dashboard"):
        from datetime import date

        filters = Filters("2025-03", Period(date(2025, 3, 1), date(2025, 3, 31)), "d", ["d"])
        for _ in range(2):  # the second time from the memoised structure
            spec, _text, table = chart_views.funnel_view(rows, head, filters)
            layer = next(
                lay for lay in spec["layer"] if lay.get("data", {}).get("name") == "points"
            )
            scale = layer["encoding"]["color"]["scale"]
            colour = dict(zip(scale["domain"], scale["range"], strict=True))
            where = {r["name"]: r["where"] for r in table.rows}
            assert colour[where["High"]] == "#00703c" and colour[where["Low"]] == "#d4351c"
            assert charts.svg(spec).startswith("<svg")


def test_titles_and_downloads_name_period_and_scope(client, seeded):
    sign_in(client, "a@x.vn")
    page = client.get(f"/dashboard?{P}").text
    title = re.search(r"<title>([^<]+)</title>", page)[1]
    assert "01/03/2025 – 31/03/2025" in title and "Sở Tư pháp và các đơn vị trực thuộc" in title
    res = client.get(f"/dashboard/overview/offices.xlsx?{P}")
    assert "2025-03-01_2025-03-31_A.xlsx" in res.headers["Content-Disposition"]
    ws = openpyxl.load_workbook(io.BytesIO(res.data)).worksheets[0]
    assert "Sở Tư pháp và các đơn vị trực thuộc" in ws["A2"].value


def test_odd_queries_never_answer_500(client, seeded):
    sign_in(client, "analyst@x.vn")
    odd = [
        "period=custom&from=2025-02-30&to=2025-03-01",
        "period=custom&from=2025-03-01",
        "period=" + "9" * 300,
        "group=<script>&sort=<b>&dir=sideways",
        "office=../../etc&q=%25_%5C",
        "period=2025-03&period=2025-04&group=a&group=b",
        "q=" + "x" * 5000,
    ]
    urls = [
        *PAGES,
        "/offices/A",
        "/offices/A/report.pdf",
        "/offices/A/comments.csv",
        "/dashboard/overview/offices.xlsx",
        "/dashboard/trends/trend.svg",
    ]
    for url in urls:
        for query in odd:
            res = client.get(f"{url}?{query}")
            assert res.status_code < 500, (url, query, res.status_code)
    assert client.get("/dashboard/overview/nope.csv").status_code == 404
    assert client.get("/dashboard/nope").status_code == 404


def test_a_running_period_is_computed_at_most_once_a_minute(
    app, client, db, seeded, questionnaire, monkeypatch
):
    """A page of a period that includes today reuses its document for DASHBOARD_LIVE_SECONDS
    (60) and says when it was computed; the report API is always fresh."""
    from datetime import UTC, datetime

    from survey_app.dashboard import data
    from survey_app.dashboard.filters import month_period
    from survey_app.models import Response
    from survey_app.reporting import kept, local_today

    office = seeded["offices"]["A"]

    def respond():
        db.session.add(
            Response(
                office=office,
                questionnaire_id=questionnaire.id,
                channel="qr_web",
                submitted_at=datetime.now(UTC),
                integrity="valid",
            )
        )
        db.session.commit()

    def responses():
        with app.test_request_context():
            doc = data.document(None, month_period(today.year, today.month), None)
        return next(o for o in doc["offices"] if o["code"] == "A")["responses"], doc["as_of"]

    today = local_today()
    respond()
    sign_in(client, "admin@x.vn")
    page = client.get(f"/dashboard?period={today:%Y-%m}")
    assert page.status_code == 200
    assert re.search(r"· [^<·]*\b\d\d:\d\d</span>", page.text), "the page says when"
    first, as_of = responses()
    assert first == 1 and re.fullmatch(r"\d\d:\d\d", as_of)
    respond()
    assert responses()[0] == 1  # within the minute: the same document
    clock = kept.time.monotonic() + 61  # the documents' store is reporting/kept.Kept
    monkeypatch.setattr(kept.time, "monotonic", lambda: clock)
    assert responses()[0] == 2  # a minute later: computed again
    ended = client.get(f"/dashboard?{P}")
    assert ended.status_code == 200 and not re.search(r"\d\d:\d\d</span>", ended.text)


def test_a_running_periods_reused_document_stays_in_its_scope(client, seeded):
    """The minute's reuse of a running period is per scope: a manager who opens the page right
    after an admin gets its own offices, not the admin's document."""
    from survey_app.reporting import local_today

    today = local_today()
    url = f"/dashboard?period={today:%Y-%m}&group=departments"
    sign_in(client, "admin@x.vn")
    page = client.get(url)
    assert page.status_code == 200 and "Sở Xây dựng" in page.text
    client.post("/logout", data={"csrf_token": csrf_of(client, "/logout")})
    sign_in(client, "a@x.vn")
    page = client.get(url)
    assert page.status_code == 200 and "Sở Tư pháp" in page.text
    for other in ("Sở Xây dựng", "Sở Y tế"):
        assert other not in page.text
    rows = _csv(client.get(f"/dashboard/overview/offices.csv?period={today:%Y-%m}"))
    assert sorted(r["Mã"] for r in rows) == ["A", "B"]
