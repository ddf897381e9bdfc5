"""The satisfaction report as Excel (one sheet per view, readable: exports_xlsx.py) and CSV (for
machines, formula-like text neutralised), with Vietnamese headers.

Every number comes from the API's JSON document, so a download holds exactly what the API says.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

from flask import current_app
from sqlalchemy import and_, select
from sqlalchemy.orm import aliased

from .extensions import db
from .models import Answer, Office, Question, Response, Service
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
CHANNEL_VI = {
    "qr_web": "Mã QR (web)",
    "sms": "Tin nhắn SMS",
    "kiosk": "Ki-ốt",
    "sms_link": "Đường dẫn trong tin nhắn SMS",
}
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
    ("Hạng tốt nhất (riêng đơn vị)", "individual_rank_low", INT),
    ("Hạng kém nhất (riêng đơn vị)", "individual_rank_high", INT),
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
    ("Phiếu qua đường dẫn SMS", "responses_by_channel.sms_link", INT),
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
    ("SMS trả lời bằng tin nhắn: đã gửi", "sms_by_mode.reply.sent", INT),
    ("SMS trả lời bằng tin nhắn: trả lời", "sms_by_mode.reply.answered", INT),
    ("SMS trả lời bằng tin nhắn: tỷ lệ phản hồi", "sms_by_mode.reply.response_rate", PCT),
    ("SMS gửi đường dẫn: đã gửi", "sms_by_mode.link.sent", INT),
    ("SMS gửi đường dẫn: trả lời", "sms_by_mode.link.answered", INT),
    ("SMS gửi đường dẫn: tỷ lệ phản hồi", "sms_by_mode.link.response_rate", PCT),
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
    offices = [o["code"] for o in document["offices"]]
    stmt = comments_query(start, end, offices, include_flagged, limit)
    tz = zone()
    for code, name, at, channel, service, text, value in db.session.execute(stmt):
        yield {
            "office_code": code,
            "office_name": name,
            "rating": value,
            "day": at.astimezone(tz).date().isoformat(),
            "channel": CHANNEL_VI.get(str(channel), str(channel)),
            "service": service,
            "text": text,
        }


def comments_query(start, end, office_codes: list[str], include_flagged: bool, limit: int):
    """The statement of `comments`: the comments of [start, end) in these offices, newest first."""
    rating = aliased(Answer)
    stmt = (
        select(
            Office.code,
            Office.name,
            Response.submitted_at,
            Response.channel,
            Service.code,
            Answer.text,
            rating.value,
        )
        .join(
            Response,
            and_(Response.id == Answer.response_id, Response.submitted_at == Answer.submitted_at),
        )
        .join(Office, Office.id == Response.office_id)
        .outerjoin(Service, Service.id == Response.service_id)
        .outerjoin(
            rating,
            and_(
                rating.response_id == Answer.response_id,
                rating.submitted_at == Answer.submitted_at,
                rating.submitted_at >= start,
                rating.submitted_at < end,
                rating.question_id.in_(select(Question.id).where(Question.code == "overall")),
            ),
        )
        .where(
            Answer.text.is_not(None),
            # bounds on answers too: PostgreSQL prunes each partitioned table by its own
            Answer.submitted_at >= start,
            Answer.submitted_at < end,
            Response.submitted_at >= start,
            Response.submitted_at < end,
        )
        .order_by(Response.submitted_at.desc(), Answer.response_id.desc())  # ties: a fixed order
        .limit(limit)
    )
    if not include_flagged:
        stmt = stmt.where(Response.integrity == "valid")
    return stmt.where(Office.code.in_(office_codes))


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


def write_export(params, fmt: str, stream, view: str = "offices", scope: str = "tất cả đơn vị"):
    """Build the report of ``params`` and write it as xlsx or csv to a binary stream."""
    document = satisfaction_document(params, breakdowns=True)
    limit = int(current_app.config.get("REPORT_MAX_COMMENTS", 5000))
    rows = []
    if fmt == "xlsx" or view == "comments":
        rows = list(comments(document, params.include_flagged, limit))
    if fmt == "xlsx":
        from .exports_xlsx import write_xlsx  # it builds on this module's views

        write_xlsx(document, stream, rows, scope)
    else:
        write_csv(document, view, stream, rows)
