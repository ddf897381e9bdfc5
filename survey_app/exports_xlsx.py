"""The report's readable workbook: one sheet per view of `exports.views` (offices by rank within
their group, Vietnamese group names and plainer headers), the citizens' comments, a glossary in
plain words and the methodology; written with workbook.py (XlsxWriter)."""

from __future__ import annotations

from datetime import date

from .exports import DEC, INT, PCT, PTS, SHEET_VI, _get_parts, methodology, views
from .workbook import Book, Sheet

GROUP_VI = {
    "departments": "Khối sở, ban, ngành",
    "districts": "Khối huyện, thị xã, thành phố",
    "communes": "Khối xã, phường, thị trấn",
    "ungrouped": "Đơn vị chưa xếp khối",
}
#: Plainer headers for people (the CSV keeps its own, for machines).
PLAIN = {
    "Ước lượng EB": "Chỉ số điều chỉnh cho đơn vị ít phiếu",
    "Cỡ mẫu hiệu dụng": "Số phiếu quy đổi",
    "Nhóm so sánh": "So với trung bình khối",
}
GLOSSARY = [
    (
        "Chỉ số hài lòng",
        "Tỷ lệ người dân hài lòng (chọn 4 hoặc 5 trên thang 5 điểm), đã gia quyền theo số hồ "
        "sơ của từng lĩnh vực để đại diện cho mọi người làm thủ tục.",
    ),
    (
        "Cận dưới, cận trên",
        "Khoảng tin cậy 95%: chỉ số thật nằm trong khoảng này với độ tin cậy 95%. Khoảng rộng "
        "nghĩa là còn ít phiếu.",
    ),
    ("Đủ tin cậy", "Có đủ phiếu (số phiếu quy đổi từ 30 trở lên) để so sánh và xếp hạng."),
    (
        "Số phiếu quy đổi",
        "Số phiếu sau khi tính đến gia quyền; nhỏ hơn số phiếu thực khi các phiếu có trọng số "
        "khác nhau.",
    ),
    (
        "Hạng, hạng tốt nhất, hạng kém nhất",
        "Hạng trong khối (1 là hài lòng nhất) và khoảng hạng mà đơn vị thực sự có thể có, "
        "đúng cho mọi đơn vị trong khối cùng lúc; hai đơn vị có khoảng hạng chồng nhau chưa "
        "chắc khác nhau.",
    ),
    (
        "Hạng tốt nhất, hạng kém nhất (riêng đơn vị)",
        'Khoảng hạng của riêng đơn vị này ("đơn vị tôi đứng ở đâu"), hẹp hơn khoảng hạng '
        'chung ở trên, vốn đúng cho mọi đơn vị cùng lúc ("đơn vị nào chắc chắn hơn đơn vị '
        'nào").',
    ),
    (
        "So với trung bình khối",
        "Cao hơn rõ rệt / thấp hơn rõ rệt: cả khoảng tin cậy nằm trên / dưới trung bình khối; "
        "không khác biệt rõ: khoảng tin cậy chứa trung bình khối.",
    ),
    (
        "Chỉ số điều chỉnh cho đơn vị ít phiếu",
        "Ước lượng kéo về phía trung bình khối, càng nhiều khi đơn vị càng ít phiếu; để tham "
        "khảo, không dùng để xếp hạng.",
    ),
    ("Điểm PAR", "Điểm của thành phần hài lòng trong Chỉ số cải cách hành chính (PAR Index)."),
    ("Thay đổi có ý nghĩa", "Thay đổi so với kỳ trước lớn hơn mức dao động ngẫu nhiên."),
    (
        "Tỷ lệ hồ sơ không bị phản ánh (QĐ 766)",
        "(Hồ sơ đã trả − phiếu không hài lòng) / hồ sơ đã trả, theo Quyết định 766/QĐ-TTg.",
    ),
    (
        "SMS trả lời bằng tin nhắn, SMS gửi đường dẫn",
        "Hai cách mời qua SMS: người dân trả lời từng câu bằng tin nhắn, hoặc bấm đường dẫn "
        "riêng trong tin nhắn để mở phiếu trên điện thoại (cách dùng ở Việt Nam, nơi không "
        "nhận được tin nhắn trả lời). Tỷ lệ phản hồi = số lời mời được trả lời / số lời mời "
        "đã gửi trong kỳ.",
    ),
]
COMMENT_COLUMNS = [
    ("Mã đơn vị", "text"),
    ("Tên đơn vị", "long"),
    ("Ngày", "text"),
    ("Kênh", "text"),
    ("Dịch vụ", "text"),
    ("Đánh giá chung (1–5)", "int"),
    ("Góp ý", "long"),
]
_KIND = {PCT: "pct", INT: "int", DEC: "dec", PTS: "pts"}


def _rank_order(row: dict):
    index = row.get("index") or {}
    rank, value = index.get("rank"), index.get("value")
    return (row.get("group") or "", rank is None, rank or 0, -(value or 0), row.get("code") or "")


def _write_view(book, name: str, cols, rows, subtitle: str) -> None:
    if name in ("offices", "groups"):
        rows = sorted(rows, key=_rank_order)
    columns = [
        (PLAIN.get(h, h), "long" if p in ("name", "text") else _KIND.get(f, "text"))
        for h, p, f in cols
    ]
    title = f"Mức độ hài lòng của người dân – {SHEET_VI[name]}"
    sheet = Sheet(book, SHEET_VI[name], title, subtitle, columns)
    paths = [p.split(".") for _h, p, _f in cols]
    for row in rows:
        values = [_get_parts(row, parts) for parts in paths]
        sheet.append(
            [
                GROUP_VI.get(v, v) if parts == ["group"] else v
                for v, parts in zip(values, paths, strict=True)
            ]
        )
    sheet.finish(next((i for i, (_h, p, _f) in enumerate(cols) if p.endswith("tier")), None))


def write_xlsx(document: dict, stream, comment_rows=(), scope: str = "tất cả đơn vị") -> None:
    """Write the readable workbook (XlsxWriter, workbook.py): per sheet a title and the period,
    frozen headers, filters, offices by rank within their group with Vietnamese group names,
    tiers in colour, landscape A4 one page wide; comments with office and rating; a glossary in
    plain words and the methodology."""
    start, end = (date.fromisoformat(document["period"][k]) for k in ("from", "to"))
    subtitle = f"Kỳ báo cáo: {start:%d/%m/%Y} – {end:%d/%m/%Y}. Phạm vi: {scope}."
    book = Book(stream)
    for name, (cols, rows) in views(document, ()).items():
        if name != "comments":
            _write_view(book, name, cols, rows, subtitle)
    sheet = Sheet(book, SHEET_VI["comments"], "Góp ý của người dân", subtitle, COMMENT_COLUMNS)
    for c in comment_rows:
        sheet.append(
            [
                c["office_code"],
                c.get("office_name"),
                c["day"],
                c["channel"],
                c["service"],
                c.get("rating"),
                c["text"],
            ]
        )
    sheet.finish()
    for name, items in (("Giải thích", GLOSSARY), (SHEET_VI["methodology"], methodology(document))):
        sheet = Sheet(
            book,
            name,
            f"{name} – báo cáo mức độ hài lòng",
            subtitle,
            [("Mục", "long"), ("Nội dung", "long")],
            {"Nội dung": 100},
        )
        for key, text in items:
            sheet.append([key, text])
        sheet.finish()
    book.close()
