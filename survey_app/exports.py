"""The satisfaction report as Excel (one sheet per view) and CSV, with Vietnamese headers.

Every number comes from the API's JSON document, so a download holds exactly what the API says.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import re
import zipfile
from datetime import UTC, date, datetime
from xml.sax.saxutils import escape

from flask import current_app
from sqlalchemy import select

from .extensions import db
from .models import Answer, Office, Response, Service
from .reporting.documents import satisfaction_document
from .reporting.periods import Period, zone

PCT, INT, DEC, PTS = "0.0%", "#,##0", "0.0", "0.00"
ELEMENT_VI = {
    "access": "Tiếp cận dịch vụ",
    "procedure": "Thủ tục hành chính",
    "civil_servant": "Công chức",
    "result": "Kết quả",
    "feedback": "Tiếp nhận, xử lý góp ý, phản ánh, kiến nghị",
}
TIER_VI = {
    "above": "Cao hơn rõ rệt",
    "below": "Thấp hơn rõ rệt",
    "indistinguishable": "Không khác biệt rõ",
    "unreliable": "Chưa đủ tin cậy",
}
CHANNEL_VI = {"qr_web": "Mã QR (web)", "sms": "Tin nhắn SMS", "kiosk": "Ki-ốt"}
VIEWS = ("offices", "groups", "elements", "questions", "services", "channels", "comments")
SHEET_VI = {
    "offices": "Đơn vị",
    "groups": "Tổng theo khối",
    "elements": "Yếu tố",
    "questions": "Câu hỏi",
    "services": "Dịch vụ",
    "channels": "Kênh",
    "comments": "Góp ý",
    "methodology": "Phương pháp",
}

EST = [
    ("Giá trị", "value", PCT),
    ("Cận dưới", "low", PCT),
    ("Cận trên", "high", PCT),
    ("Số phiếu (n)", "n", INT),
    ("Cỡ mẫu hiệu dụng", "n_eff", DEC),
    ("Đủ tin cậy", "reliable", None),
    ("Ước lượng EB", "eb.value", PCT),
    ("Nhóm so sánh", "tier", None),
]
RANK = [
    ("Hạng", "rank", INT),
    ("Hạng tốt nhất", "rank_low", INT),
    ("Hạng kém nhất", "rank_high", INT),
    ("Số đơn vị xếp hạng", "group_size", INT),
]
CHANGE = [
    ("Kỳ trước", "change.previous", PCT),
    ("Thay đổi", "change.diff", PCT),
    ("Thay đổi: cận dưới", "change.low", PCT),
    ("Thay đổi: cận trên", "change.high", PCT),
    ("Thay đổi có ý nghĩa", "change.significant", None),
    ("Hạng kỳ trước", "change.previous_rank", INT),
]
UNIT = [
    ("Hồ sơ đã trả kết quả", "dossiers", INT),
    ("Số phiếu", "responses", INT),
    ("Phiếu QR", "responses_by_channel.qr_web", INT),
    ("Phiếu SMS", "responses_by_channel.sms", INT),
    ("Phiếu ki-ốt", "responses_by_channel.kiosk", INT),
]
TAIL = [
    ("Điểm PAR", "index.par_points.value", PTS),
    ("Điểm PAR: cận dưới", "index.par_points.low", PTS),
    ("Điểm PAR: cận trên", "index.par_points.high", PTS),
    ("Câu hỏi chung: tỷ lệ hài lòng", "overall_question.value", PCT),
    ("Phiếu không hài lòng", "dissatisfied", INT),
    ("Tỷ lệ hồ sơ không bị phản ánh (QĐ 766)", "complaint_free_ratio", PCT),
    ("SMS đã gửi", "sms.sent", INT),
    ("SMS trả lời", "sms.answered", INT),
    ("Tỷ lệ phản hồi SMS", "sms.response_rate", PCT),
]
OFFICE = [
    ("Mã đơn vị", "code", None),
    ("Tên đơn vị", "name", None),
    ("Khối", "group", None),
    ("Đơn vị cấp trên", "parent_code", None),
]


def _get(item, path: str):
    """The value at a dotted path of a report entry, as a cell shows it."""
    return _get_parts(item, path.split("."))


def _get_parts(item, parts):
    """:func:`_get` with the path already split (the xlsx writer splits each column once):
    Có/Không for flags, tiers in Vietnamese, None where the path is missing."""
    for part in parts:
        if not isinstance(item, dict):
            return None
        item = item.get(part)
    if isinstance(item, bool):
        return "Có" if item else "Không"
    return TIER_VI.get(item, item) if isinstance(item, str) else item


def _prefixed(cols, prefix):
    return [(h, f"{prefix}.{p}", f) for h, p, f in cols]


def views(document: dict, comments=()) -> dict:
    """Per view: its columns (header, path, number format) and rows (dicts)."""
    change = CHANGE if document.get("previous_period") else []
    index_cols = [
        (f"Chỉ số hài lòng: {h.lower()}" if i < 3 else h, p, f)
        for i, (h, p, f) in enumerate(_prefixed(EST + RANK + change, "index"))
    ]
    out = {
        "offices": (OFFICE + UNIT + index_cols + TAIL, document["offices"]),
        "groups": (
            [("Khối", "group", None), ("Số đơn vị", "offices", INT)]
            + UNIT
            + _prefixed(EST[:6], "index")
            + TAIL[3:],
            document["groups"],
        ),
    }
    questions = {q["code"]: q for q in document["questions"]}
    elements, items = [], []
    for office in document["offices"]:
        for name in document["elements"]:
            elements.append({**office, "element": ELEMENT_VI[name], "e": office["elements"][name]})
        for code, est in office["questions"].items():
            q = questions[code]
            items.append(
                {
                    **office,
                    "question": code,
                    "text": q["text_vi"],
                    "element": ELEMENT_VI.get(q["dimension"], q["dimension"]),
                    "e": est,
                }
            )
    out["elements"] = (
        OFFICE[:2] + [("Yếu tố", "element", None)] + _prefixed(EST + RANK + change, "e"),
        elements,
    )
    out["questions"] = (
        OFFICE[:2]
        + [("Mã câu hỏi", "question", None), ("Câu hỏi", "text", None), ("Yếu tố", "element", None)]
        + _prefixed(
            EST
            + [
                ("Điểm trung bình (1–5)", "mean.value", PTS),
                ("Điểm TB: cận dưới", "mean.low", PTS),
                ("Điểm TB: cận trên", "mean.high", PTS),
            ]
            + change,
            "e",
        ),
        items,
    )
    share = [
        ("Số phiếu", "responses", INT),
        ("Tỷ lệ hài lòng (câu hỏi chung)", "value", PCT),
        ("Cận dưới", "low", PCT),
        ("Cận trên", "high", PCT),
        ("Số trả lời (n)", "n", INT),
        ("Cỡ mẫu hiệu dụng", "n_eff", DEC),
        ("Đủ tin cậy", "reliable", None),
    ]
    breakdowns = document.get("breakdowns") or {}
    channels = [
        {**r, "label": CHANNEL_VI.get(r["label"], r["label"])}
        for r in breakdowns.get("channels", [])
    ]
    out["services"] = (
        [
            ("Mã đơn vị", "office_code", None),
            ("Tên đơn vị", "office_name", None),
            ("Mã dịch vụ", "label", None),
        ]
        + share,
        breakdowns.get("services", []),
    )
    out["channels"] = (
        [
            ("Mã đơn vị", "office_code", None),
            ("Tên đơn vị", "office_name", None),
            ("Kênh", "label", None),
        ]
        + share,
        channels,
    )
    out["comments"] = (
        [
            ("Mã đơn vị", "office_code", None),
            ("Ngày", "day", None),
            ("Kênh", "channel", None),
            ("Dịch vụ", "service", None),
            ("Góp ý", "text", None),
        ],
        comments,
    )
    return out


def comments(document: dict, include_flagged: bool, limit: int):
    """The period's comments in the report's offices (newest first, at most ``limit``), without
    any personal data."""
    start, end = Period(
        date.fromisoformat(document["period"]["from"]), date.fromisoformat(document["period"]["to"])
    ).utc_bounds
    stmt = (
        select(Office.code, Response.submitted_at, Response.channel, Service.code, Answer.text)
        .join(Response, Response.id == Answer.response_id)
        .join(Office, Office.id == Response.office_id)
        .outerjoin(Service, Service.id == Response.service_id)
        .where(
            Answer.text.is_not(None), Response.submitted_at >= start, Response.submitted_at < end
        )
        .order_by(Response.submitted_at.desc())
        .limit(limit)
    )
    if not include_flagged:
        stmt = stmt.where(Response.integrity == "valid")
    stmt = stmt.where(Office.code.in_([o["code"] for o in document["offices"]]))
    tz = zone()
    for code, at, channel, service, text in db.session.execute(stmt):
        yield {
            "office_code": code,
            "day": at.astimezone(tz).date().isoformat(),
            "channel": CHANNEL_VI.get(str(channel), str(channel)),
            "service": service,
            "text": text,
        }


def methodology(document: dict) -> list[tuple[str, str]]:
    """What the methodology sheet states: period, weighting, intervals, reliability."""
    p, period = document["parameters"], document["period"]
    prev = document.get("previous_period")
    return [
        (
            "Kỳ báo cáo",
            f"{period['from']} đến {period['to']} ({period['days']} ngày, giờ "
            f"{period['timezone']})",
        ),
        ("So sánh", f"kỳ trước {prev['from']} đến {prev['to']}" if prev else "không"),
        ("Khối", p["group"] or "tất cả"),
        ("Hài lòng", f"trả lời {p['satisfied_from']} hoặc 5 trên thang 5 điểm"),
        (
            "Trọng số",
            "trọng số gốc 1/p cho người được mời qua SMS với xác suất p (1 cho kênh "
            "khác); hậu phân tầng theo đơn vị × lĩnh vực dịch vụ về số hồ sơ đã trả kết "
            f"quả trong kỳ; ô dưới {p['min_cell']} phiếu được gộp vào ô lớn nhất của "
            "đơn vị; tầng phương sai là lĩnh vực × kênh",
        ),
        ("Khoảng tin cậy", f"{p['method']}, mức {p['level']:.0%}, bậc tự do của thiết kế"),
        (
            "Quy tắc tin cậy",
            f"cỡ mẫu hiệu dụng ≥ {p['reliability']['min_n_eff']:g} và bậc tự "
            f"do ≥ {p['reliability']['min_df']}; chưa đủ tin cậy: không xếp hạng",
        ),
        (
            "Chỉ số",
            "chỉ số yếu tố = trung bình tỷ lệ hài lòng các câu hỏi; chỉ số chung = "
            "trung bình 5 yếu tố",
        ),
        ("Điểm PAR", f"{p['par_max_points']:g} × chỉ số hài lòng"),
        ("QĐ 766", "(hồ sơ đã trả − phiếu không hài lòng (câu hỏi chung 1–2)) / hồ sơ đã trả"),
        ("Phiếu bị gắn cờ", "có tính" if p["include_flagged"] else "không tính"),
        ("Lập lúc", datetime.now(UTC).astimezone(zone()).isoformat(timespec="seconds")),
    ]


def write_xlsx(document: dict, stream, comment_rows=()) -> None:
    """Write an .xlsx workbook: one sheet per view, frozen bold headers, number formats.

    The sheets' XML is written directly (openpyxl's write-only mode without lxml took ~5 s for a
    year over 1,000 offices); :data:`_STYLES` holds the few cell formats used."""
    sheets = []
    for name, (cols, rows) in views(document, comment_rows).items():
        widths = [40 if path in ("name", "text") else 14 for _h, path, _f in cols]
        header = [(h, _HEADER) for h, _p, _f in cols]
        paths = [(path.split("."), _STYLE_OF.get(fmt, 0)) for _h, path, fmt in cols]
        body = ([(_get_parts(row, parts), style) for parts, style in paths] for row in rows)
        sheets.append(
            (SHEET_VI[name], _sheet_xml(widths, "C2" if name != "groups" else "B2", header, body))
        )
    rows = ([(key, 0), (text, 0)] for key, text in methodology(document))
    sheets.append(
        (SHEET_VI["methodology"], _sheet_xml([22, 110], None, [("Mục", 0), ("Nội dung", 0)], rows))
    )
    with zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for path, xml in _package([name for name, _xml in sheets]):
            archive.writestr(path, xml)
        for i, (_name, xml) in enumerate(sheets, start=1):
            archive.writestr(f"xl/worksheets/sheet{i}.xml", xml)


_HEADER = 1  # cell formats (cellXfs) of _STYLES: 0 General, 1 bold wrapped header, then numbers
_STYLE_OF = {PCT: 2, DEC: 3, PTS: 4}  # counts (INT) read right in General
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_QUOTE = {chr(34): "&quot;"}  # escape() entities for a double-quoted attribute
_STYLES = (
    f'{_XML}<styleSheet xmlns="{_MAIN}"><numFmts count="3">'
    '<numFmt numFmtId="164" formatCode="0.0%"/><numFmt numFmtId="165" formatCode="0.0"/>'
    '<numFmt numFmtId="166" formatCode="0.00"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="5"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1" '
    'applyAlignment="1"><alignment vertical="top" wrapText="1"/></xf>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="166" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '</cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/>'
    "</cellStyles></styleSheet>"
)


def _sheet_xml(widths, freeze, header, rows) -> str:
    """A worksheet: column widths, frozen panes at ``freeze``, rows of (value, style) pairs."""
    letters = [_letter(i) for i in range(max(len(widths), len(header)))]
    out = [
        f'{_XML}<worksheet xmlns="{_MAIN}" xmlns:r="{_REL}"><sheetViews>'
        '<sheetView workbookViewId="0">'
    ]
    if freeze:
        x = ord(freeze[0]) - ord("A")
        pane = "bottomRight" if x else "bottomLeft"
        out.append(
            f'<pane xSplit="{x}" ySplit="1" topLeftCell="{freeze}" activePane="{pane}" '
            f'state="frozen"/><selection pane="{pane}"/>'
        )
    out.append('</sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/>')
    if widths:
        out += [
            "<cols>",
            *[
                f'<col min="{i}" max="{i}" width="{w}" customWidth="1"/>'
                for i, w in enumerate(widths, start=1)
            ],
            "</cols>",
        ]
    out.append("<sheetData>")
    for r, row in enumerate(itertools.chain([header], rows), start=1):
        cells = []
        for letter, (value, style) in zip(letters, row, strict=False):
            if value is None or value == "":  # an empty cell, as openpyxl writes it
                continue
            s = f' s="{style}"' if style else ""
            if isinstance(value, str):
                text = escape(_ILLEGAL.sub("", value))
                cells.append(
                    f'<c r="{letter}{r}"{s} t="inlineStr"><is><t xml:space="preserve">'
                    f"{text}</t></is></c>"
                )
            elif isinstance(value, float) and not math.isfinite(value):
                continue
            else:
                cells.append(f'<c r="{letter}{r}"{s}><v>{value!r}</v></c>')
        out.append(f'<row r="{r}">{"".join(cells)}</row>')
    out.append("</sheetData></worksheet>")
    return "".join(out)


def _package(names: list[str]):
    """The workbook's parts around its sheets: content types, relationships, styles."""
    n = len(names)
    sheet_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
    yield (
        "[Content_Types].xml",
        "".join(
            (
                _XML,
                '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">',
                '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
                'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>',
                '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
                'officedocument.spreadsheetml.sheet.main+xml"/>',
                '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
                'officedocument.spreadsheetml.styles+xml"/>',
                *[
                    f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{sheet_type}"/>'
                    for i in range(1, n + 1)
                ],
                "</Types>",
            )
        ),
    )
    yield (
        "_rels/.rels",
        (
            f'{_XML}<Relationships xmlns="{_PKG}"><Relationship Id="rId1" '
            f'Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>"
        ),
    )
    yield (
        "xl/workbook.xml",
        "".join(
            (
                _XML,
                f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><bookViews><workbookView/>'
                "</bookViews><sheets>",
                *[
                    f'<sheet name="{escape(name, _QUOTE)}" sheetId="{i}" r:id="rId{i}"/>'
                    for i, name in enumerate(names, start=1)
                ],
                "</sheets></workbook>",
            )
        ),
    )
    yield (
        "xl/_rels/workbook.xml.rels",
        "".join(
            (
                _XML,
                f'<Relationships xmlns="{_PKG}">',
                *[
                    f'<Relationship Id="rId{i}" Type="{_REL}/worksheet" '
                    f'Target="worksheets/sheet{i}.xml"/>'
                    for i in range(1, n + 1)
                ],
                f'<Relationship Id="rId{n + 1}" Type="{_REL}/styles" Target="styles.xml"/>',
                "</Relationships>",
            )
        ),
    )
    yield "xl/styles.xml", _STYLES


def _letter(i: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(i + 1)


#: Characters that make a spreadsheet read a CSV cell as a formula (OWASP, CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """A CSV cell's value that no spreadsheet runs as a formula: text starting with ``=``,
    ``+``, ``-``, ``@``, a tab or a carriage return gets a leading single quote (OWASP);
    numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def write_csv(document: dict, view: str, stream, comment_rows=()) -> None:
    """One view as UTF-8 CSV with a BOM (Excel opens it right); shares stay fractions."""
    cols, rows = views(document, comment_rows)[view]
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    writer = csv.writer(text)
    writer.writerow([h for h, _p, _f in cols])
    for row in rows:
        writer.writerow(
            ["" if (v := _get(row, p)) is None else neutralise(v) for _h, p, _f in cols]
        )
    text.flush()
    text.detach()


def write_export(params, fmt: str, stream, view: str = "offices") -> None:
    """Build the report of ``params`` and write it as xlsx or csv to a binary stream."""
    document = satisfaction_document(params, breakdowns=True)
    limit = int(current_app.config.get("REPORT_MAX_COMMENTS", 5000))
    rows = []
    if fmt == "xlsx" or view == "comments":
        rows = list(comments(document, params.include_flagged, limit))
    if fmt == "xlsx":
        write_xlsx(document, stream, rows)
    else:
        write_csv(document, view, stream, rows)
