"""CSV imports of offices, services, counters: bad files rejected whole, re-imports are no-ops."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import click
import pytest
from sqlalchemy import select

from survey_app.importers import CsvErrors, find_duplicates, read_csv
from survey_app.models import Counter, Office, OfficeKind, RankingGroup, Service, office_services

DATA = Path(__file__).parent / "data"


def _import(runner, kind: str, path: Path):
    return runner.invoke(args=["mscore", "import", kind, str(path)])


def _import_all(runner) -> list[str]:
    outputs = []
    for kind in ("offices", "services", "counters"):
        result = _import(runner, kind, DATA / f"{kind}.csv")
        assert result.exit_code == 0, result.output
        outputs.append(result.output.strip())
    return outputs


def _snapshot(db) -> dict:
    """Every column of every reference table, ids included, in a stable order."""
    tables = (Office.__table__, Service.__table__, Counter.__table__, office_services)
    with db.engine.connect() as conn:
        return {
            t.name: conn.execute(select(t).order_by(*t.primary_key.columns)).all() for t in tables
        }


def test_import_offices_services_counters(runner, db):
    outputs = _import_all(runner)
    assert outputs == [
        "offices: 5 created, 0 updated, 0 unchanged",
        "services: 4 created, 0 updated, 0 unchanged",
        "counters: 4 created, 0 updated, 0 unchanged",
    ]
    offices = {o.code: o for o in db.session.scalars(select(Office))}
    assert offices["STP"].name == "Sở Tư pháp"  # the file starts with a BOM: the header still reads
    assert offices["STP"].sms_sampling_rate == 0.5
    assert offices["HL-HAIAN"].parent is offices["HAILANG"]  # parent came later in the file
    assert offices["HL-HAIAN"].name == "UBND xã Hải An, huyện Hải Lăng"
    assert offices["HL-HAIBA"].is_active is False
    assert offices["HAILANG"].kind is OfficeKind.DISTRICT
    assert offices["HAILANG"].group is RankingGroup.DISTRICTS
    assert offices["HAILANG"].sms_sampling_rate == 1.0  # blank cell: the default
    assert [s.code for s in offices["HL-HAIBA"].services] == ["2.000528"]
    assert {s.code for s in offices["HAILANG"].services} == {"2.000528"}
    assert db.session.scalar(select(Service).where(Service.code == "TT-DD-01")).field == "Đất đai"
    counters = db.session.scalars(select(Counter).order_by(Counter.id)).all()
    assert [(c.office.code, c.code) for c in counters] == [
        ("STP", "Q1"),
        ("STP", "Q2"),
        ("HAILANG", "Q1"),
        ("HL-HAIAN", "Q1"),
    ]
    assert counters[1].name == "Quầy số 2 – Quốc tịch" and counters[3].is_active is False


def test_reimport_changes_nothing(runner, db):
    _import_all(runner)
    before = _snapshot(db)
    outputs = _import_all(runner)
    assert all(
        out.endswith("0 created, 0 updated, " + out.split()[-2] + " unchanged") for out in outputs
    )
    assert outputs[0] == "offices: 0 created, 0 updated, 5 unchanged"
    db.session.expire_all()
    assert _snapshot(db) == before


def test_nfd_input_compares_equal(runner, db, tmp_path):
    _import_all(runner)
    before = _snapshot(db)
    for kind in ("offices", "services", "counters"):
        nfd = tmp_path / f"{kind}.csv"
        text = (DATA / f"{kind}.csv").read_text("utf-8-sig")
        nfd.write_text(unicodedata.normalize("NFD", text), "utf-8")  # as macOS may save it
        assert unicodedata.normalize("NFD", text) != text
        result = _import(runner, kind, nfd)
        assert result.exit_code == 0, result.output
        assert " 0 updated" in result.output and " 0 created" in result.output
    assert _snapshot(db) == before


def test_changes_are_counted_and_applied(runner, db, tmp_path):
    _import_all(runner)
    changed = tmp_path / "offices.csv"
    changed.write_text(
        "code,name,kind,group,parent_code\n"
        "STP,Sở Tư pháp tỉnh Quảng Trị,department,departments,\n"
        "SKHDT,Sở Kế hoạch và Đầu tư,department,departments,\n"
        "NEW,Ban Quản lý Khu kinh tế,other,,SKHDT\n",
        "utf-8",
    )
    result = _import(runner, "offices", changed)
    assert result.output.strip() == "offices: 1 created, 1 updated, 1 unchanged"
    stp = db.session.scalar(select(Office).where(Office.code == "STP"))
    assert stp.name == "Sở Tư pháp tỉnh Quảng Trị"
    assert stp.name_en == "Department of Justice"  # column absent: left alone
    new = db.session.scalar(select(Office).where(Office.code == "NEW"))
    assert new.parent.code == "SKHDT" and new.group is None


def test_service_links_follow_the_file(runner, db, tmp_path):
    _import_all(runner)
    services = tmp_path / "services.csv"
    services.write_text(
        "code,name,field,office_codes\n2.000528,Đăng ký khai sinh,Hộ tịch,HL-HAIAN; HL-HAIAN\n",
        "utf-8",
    )
    assert _import(runner, "services", services).output.strip() == (
        "services: 0 created, 1 updated, 0 unchanged"
    )
    service = db.session.scalar(select(Service).where(Service.code == "2.000528"))
    offices = db.session.scalars(select(Office).where(Office.services.contains(service))).all()
    assert [o.code for o in offices] == ["HL-HAIAN"]
    assert _import(runner, "services", services).output.strip().endswith("1 unchanged")


def test_bad_file_is_rejected_whole_with_every_error(runner, db):
    result = _import(runner, "offices", DATA / "offices_bad.csv")
    assert result.exit_code == 1
    out = result.output
    assert "10 error(s), nothing imported" in out
    for expected in (
        "line 2, column kind: 'ministry' is not one of: province, department, district, commune",
        "line 3, column code: duplicate 'STP' (first on line 2)",
        "line 4, column code: 'SỞ TP' is not a code",
        "line 4, column group: 'khối sở' is not one of: departments, districts, communes",
        "line 5, column name: is required",
        "line 5, column sms_sampling_rate: '1.5' is not a number in (0, 1]",
        "line 5, column is_active: 'maybe' is not true/false",
        "line 5, column parent_code: parents form a cycle: A → B → A",
        "line 7, column parent_code: no office 'NOPE'",
    ):
        assert expected in out
    assert db.session.scalars(select(Office)).all() == []


def test_cycle_through_the_database_is_rejected(runner, db, tmp_path):
    _import_all(runner)  # HL-HAIAN's parent is HAILANG
    path = tmp_path / "offices.csv"
    path.write_text(
        "code,name,kind,group,parent_code\n"
        "HAILANG,UBND huyện Hải Lăng,district,districts,HL-HAIAN\n",
        "utf-8",
    )
    result = _import(runner, "offices", path)
    assert result.exit_code == 1
    assert "line 2, column parent_code: parents form a cycle: HAILANG → HL-HAIAN → HAILANG" in (
        result.output
    )


def test_missing_columns_are_named(runner, db, tmp_path):
    path = tmp_path / "counters.csv"
    path.write_text("office code\tcode\tten\nSTP\tQ1\tQuầy 1\n", "utf-8")  # tabs, typos
    result = _import(runner, "counters", path)
    assert result.exit_code == 1
    for column in ("office_code", "code", "name"):
        assert f"line 1, column {column}: required column is missing" in result.output
    path.write_text("office_code,code,name,colour\n", "utf-8")
    assert "line 1, column colour: unknown column" in _import(runner, "counters", path).output


def test_invalid_utf8_names_the_line(runner, db, tmp_path):
    path = tmp_path / "offices.csv"
    good = "code,name,kind,group,parent_code\nSTP,Sở Tư pháp,department,departments,\n"
    latin = "HL,UBND huyen Hai Lang (Qu\xe1ng Tr\xec),district,districts,\n".encode("cp1252")
    path.write_bytes(good.encode() + latin)  # a spreadsheet saved as Windows-1252
    result = _import(runner, "offices", path)
    assert result.exit_code == 1
    assert "line 3: is not valid UTF-8" in result.output
    assert db.session.scalars(select(Office)).all() == []


def test_unknown_offices_in_services_and_counters(runner, db, tmp_path):
    _import(runner, "offices", DATA / "offices.csv")
    services = tmp_path / "services.csv"
    services.write_text("code,name,field,office_codes\nS1,Dịch vụ,Hộ tịch,STP;GHOST\n", "utf-8")
    result = _import(runner, "services", services)
    assert "line 2, column office_codes: no office 'GHOST'" in result.output
    counters = tmp_path / "counters.csv"
    counters.write_text("office_code,code,name\nGHOST,Q1,Quầy 1\nSTP,Q1,A\nSTP,Q1,B\n", "utf-8")
    result = _import(runner, "counters", counters)
    assert "line 2, column office_code: no office 'GHOST'" in result.output
    assert "line 4, column code: duplicate ('STP', 'Q1') (first on line 3)" in result.output
    assert db.session.scalars(select(Service)).all() == []


def test_semicolons_and_decimal_commas(runner, db, tmp_path):
    path = tmp_path / "offices.csv"
    path.write_text(
        "code;name;kind;group;parent_code;sms_sampling_rate\n"
        "STP;Sở Tư pháp, tỉnh Quảng Trị;department;departments;;0,25\n",
        "utf-8",
    )
    result = _import(runner, "offices", path)
    assert result.output.strip() == "offices: 1 created, 0 updated, 0 unchanged", result.output
    office = db.session.scalar(select(Office))
    assert (office.name, office.sms_sampling_rate) == ("Sở Tư pháp, tỉnh Quảng Trị", 0.25)


def test_blank_required_cells(runner, db, tmp_path):
    path = tmp_path / "offices.csv"
    path.write_text("code,name,kind,group,parent_code\n,Sở Y tế,,departments,\n", "utf-8")
    result = _import(runner, "offices", path)
    assert "line 2, column code: is required" in result.output
    assert "line 2, column kind: is required" in result.output


def test_a_control_character_in_a_name_names_the_line_and_stores_nothing(runner, db, tmp_path):
    path = tmp_path / "offices.csv"
    path.write_text(
        "code,name,kind,group,parent_code\nSTP,Sở Tư pháp,department,departments,\n"
        "SYT,Sở Y\x00 tế,department,departments,\n",
        "utf-8",
    )
    result = _import(runner, "offices", path)
    assert result.exit_code != 0 and "line 3, column name: contains a control character" in (
        result.output
    )
    assert db.session.scalars(select(Office)).all() == []


def test_read_csv_core_line_numbers(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text('\ufeffCode , Name\n\nA,"hai\ndòng"\n  ,  \nB,Ba\nA,x\n', "utf-8")
    errors = CsvErrors(path)
    rows = read_csv(path, ("code", "name"), errors=errors)
    assert [(r.line, r.values) for r in rows] == [
        (3, {"code": "A", "name": "hai\ndòng"}),
        (6, {"code": "B", "name": "Ba"}),
        (7, {"code": "A", "name": "x"}),
    ]
    find_duplicates(rows, lambda r: r.get("code"), "code", errors)
    assert errors.lines() == ["line 7, column code: duplicate 'A' (first on line 3)"]
    with pytest.raises(click.ClickException, match="line 7, column code"):
        errors.raise_if_any()


def test_offices_hotline_and_complaint_route_and_counters_english_names(runner, db, tmp_path):
    """Optional columns for the thank-you page's next step and the English page's counter."""
    offices = tmp_path / "offices.csv"
    offices.write_text(
        "code,name,kind,group,parent_code,hotline,complaint_route\n"
        "QT,UBND tỉnh Quảng Trị,province,,,1022,Cổng dịch vụ công tỉnh\n"
        "STP,Sở Tư pháp,department,departments,QT,,\n",
        encoding="utf-8",
    )
    counters = tmp_path / "counters.csv"
    counters.write_text("office_code,code,name,name_en\nSTP,Q1,Quầy số 1,Counter 1\n")
    assert _import(runner, "offices", offices).exit_code == 0
    assert _import(runner, "counters", counters).exit_code == 0
    found = {o.code: o for o in db.session.scalars(select(Office))}
    assert (found["QT"].hotline, found["QT"].complaint_route) == ("1022", "Cổng dịch vụ công tỉnh")
    assert found["STP"].hotline is None  # empty: its parent's, on the thank-you page
    assert db.session.scalars(select(Counter)).one().name_en == "Counter 1"
    offices.write_text(
        "code,name,kind,group,parent_code,hotline\n"
        "QT,UBND tỉnh Quảng Trị,province,,," + "1" * 33 + "\n"
    )
    refused = _import(runner, "offices", offices)
    assert (
        refused.exit_code != 0
        and "hotline" in refused.output
        and "longer than 32" in refused.output
    )
