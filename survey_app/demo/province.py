"""The demo province: departments, districts and their communes, counters and services.

Names follow Quảng Trị, where M-Score began; the numbers attached to them are invented.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

import numpy as np

from ..extensions import db
from ..models import Counter, Office, OfficeKind, RankingGroup, Service

# (code, name, name_en, fields handled)
DEPARTMENTS = [
    ("STP", "Sở Tư pháp", "Department of Justice", ["Lý lịch tư pháp", "Quốc tịch"]),
    (
        "SKHDT",
        "Sở Kế hoạch và Đầu tư",
        "Department of Planning and Investment",
        ["Đăng ký doanh nghiệp", "Đầu tư"],
    ),
    ("STC", "Sở Tài chính", "Department of Finance", ["Tài chính"]),
    ("SNV", "Sở Nội vụ", "Department of Home Affairs", ["Thi đua, khen thưởng"]),
    ("SCT", "Sở Công Thương", "Department of Industry and Trade", ["Thương mại"]),
    ("SXD", "Sở Xây dựng", "Department of Construction", ["Xây dựng"]),
    ("SGTVT", "Sở Giao thông vận tải", "Department of Transport", ["Đường bộ"]),
    (
        "STNMT",
        "Sở Tài nguyên và Môi trường",
        "Department of Natural Resources and Environment",
        ["Đất đai", "Môi trường"],
    ),
    (
        "SNNPTNT",
        "Sở Nông nghiệp và Phát triển nông thôn",
        "Department of Agriculture and Rural Development",
        ["Nông nghiệp"],
    ),
    (
        "SLDTBXH",
        "Sở Lao động - Thương binh và Xã hội",
        "Department of Labour, Invalids and Social Affairs",
        ["Lao động", "Bảo trợ xã hội"],
    ),
    ("SGDDT", "Sở Giáo dục và Đào tạo", "Department of Education and Training", ["Giáo dục"]),
    ("SYT", "Sở Y tế", "Department of Health", ["Y tế"]),
    (
        "SVHTTDL",
        "Sở Văn hóa, Thể thao và Du lịch",
        "Department of Culture, Sports and Tourism",
        ["Văn hóa", "Du lịch"],
    ),
    (
        "STTTT",
        "Sở Thông tin và Truyền thông",
        "Department of Information and Communications",
        ["Báo chí, xuất bản"],
    ),
    (
        "SKHCN",
        "Sở Khoa học và Công nghệ",
        "Department of Science and Technology",
        ["Khoa học và công nghệ"],
    ),
    ("SNGV", "Sở Ngoại vụ", "Department of Foreign Affairs", ["Ngoại vụ"]),
    ("BQLKKT", "Ban Quản lý Khu kinh tế tỉnh", "Economic Zone Authority", ["Đầu tư"]),
    ("CAT", "Công an tỉnh", "Provincial Police", ["Xuất nhập cảnh"]),
    ("BHXH", "Bảo hiểm xã hội tỉnh", "Provincial Social Insurance", ["Bảo hiểm xã hội"]),
    ("CTHUE", "Cục Thuế tỉnh", "Provincial Tax Department", ["Thuế"]),
]

# (code, name, name_en, communes)
DISTRICTS = [
    (
        "DONGHA",
        "UBND thành phố Đông Hà",
        "Dong Ha City",
        ["phường 1", "phường 5", "phường Đông Lương", "phường Đông Thanh"],
    ),
    ("TXQT", "UBND thị xã Quảng Trị", "Quang Tri Town", ["phường 2", "phường An Đôn", "xã Hải Lệ"]),
    (
        "VINHLINH",
        "UBND huyện Vĩnh Linh",
        "Vinh Linh District",
        ["thị trấn Hồ Xá", "xã Vĩnh Thạch", "xã Vĩnh Kim", "xã Vĩnh Giang"],
    ),
    (
        "GIOLINH",
        "UBND huyện Gio Linh",
        "Gio Linh District",
        ["thị trấn Gio Linh", "xã Gio Mỹ", "xã Trung Giang"],
    ),
    (
        "CAMLO",
        "UBND huyện Cam Lộ",
        "Cam Lo District",
        ["thị trấn Cam Lộ", "xã Cam Hiếu", "xã Cam Thành"],
    ),
    (
        "TRIEUPHONG",
        "UBND huyện Triệu Phong",
        "Trieu Phong District",
        ["thị trấn Ái Tử", "xã Triệu Phước", "xã Triệu Độ", "xã Triệu Long"],
    ),
    (
        "HAILANG",
        "UBND huyện Hải Lăng",
        "Hai Lang District",
        ["thị trấn Diên Sanh", "xã Hải An", "xã Hải Ba", "xã Hải Dương", "xã Hải Định"],
    ),
    (
        "HUONGHOA",
        "UBND huyện Hướng Hóa",
        "Huong Hoa District",
        ["thị trấn Khe Sanh", "thị trấn Lao Bảo", "xã Tân Hợp", "xã Hướng Phùng"],
    ),
    (
        "DAKRONG",
        "UBND huyện Đakrông",
        "Dakrong District",
        ["thị trấn Krông Klang", "xã Mò Ó", "xã Tà Rụt"],
    ),
    ("CONCO", "UBND huyện Cồn Cỏ", "Con Co Island District", []),
]

# (code, name, field, levels: P province departments, D districts, C communes)
SERVICES = [
    ("LLTP-01", "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam", "Lý lịch tư pháp", "P"),
    ("QT-01", "Nhập quốc tịch Việt Nam", "Quốc tịch", "P"),
    ("HT-01", "Đăng ký khai sinh", "Hộ tịch", "C"),
    ("HT-02", "Đăng ký kết hôn", "Hộ tịch", "C"),
    ("HT-03", "Đăng ký khai tử", "Hộ tịch", "C"),
    ("HT-04", "Cấp bản sao trích lục hộ tịch", "Hộ tịch", "DC"),
    ("HT-05", "Đăng ký kết hôn có yếu tố nước ngoài", "Hộ tịch", "D"),
    ("HT-06", "Thay đổi, cải chính, bổ sung thông tin hộ tịch", "Hộ tịch", "DC"),
    ("CT-01", "Chứng thực bản sao từ bản chính", "Chứng thực", "DC"),
    ("CT-02", "Chứng thực chữ ký", "Chứng thực", "DC"),
    ("DN-01", "Đăng ký thành lập doanh nghiệp tư nhân", "Đăng ký doanh nghiệp", "P"),
    ("DN-02", "Đăng ký thay đổi nội dung đăng ký doanh nghiệp", "Đăng ký doanh nghiệp", "P"),
    ("DN-03", "Đăng ký thành lập hộ kinh doanh", "Đăng ký doanh nghiệp", "D"),
    ("DT-01", "Quyết định chủ trương đầu tư", "Đầu tư", "P"),
    ("DD-01", "Cấp Giấy chứng nhận quyền sử dụng đất lần đầu", "Đất đai", "D"),
    ("DD-02", "Đăng ký biến động quyền sử dụng đất", "Đất đai", "PD"),
    ("DD-03", "Chuyển mục đích sử dụng đất", "Đất đai", "D"),
    ("DD-04", "Hòa giải tranh chấp đất đai", "Đất đai", "C"),
    ("MT-01", "Cấp giấy phép môi trường", "Môi trường", "P"),
    ("XD-01", "Cấp giấy phép xây dựng nhà ở riêng lẻ", "Xây dựng", "D"),
    ("XD-02", "Thẩm định thiết kế xây dựng", "Xây dựng", "P"),
    ("GT-01", "Đổi Giấy phép lái xe", "Đường bộ", "P"),
    ("GT-02", "Cấp giấy phép xe tập lái", "Đường bộ", "P"),
    ("LD-01", "Giải quyết hưởng trợ cấp thất nghiệp", "Lao động", "P"),
    ("LD-02", "Cấp giấy phép lao động cho người nước ngoài", "Lao động", "P"),
    ("XH-01", "Trợ cấp xã hội hằng tháng", "Bảo trợ xã hội", "DC"),
    ("GD-01", "Chuyển trường cho học sinh trung học", "Giáo dục", "PD"),
    ("GD-02", "Cấp bản sao văn bằng, chứng chỉ", "Giáo dục", "P"),
    ("YT-01", "Cấp chứng chỉ hành nghề khám bệnh, chữa bệnh", "Y tế", "P"),
    ("YT-02", "Cấp giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm", "Y tế", "P"),
    ("TM-01", "Cấp Giấy phép bán lẻ rượu", "Thương mại", "D"),
    ("TM-02", "Cấp Giấy chứng nhận cửa hàng đủ điều kiện bán lẻ xăng dầu", "Thương mại", "P"),
    ("VH-01", "Cấp giấy phép tổ chức biểu diễn nghệ thuật", "Văn hóa", "P"),
    ("DL-01", "Cấp thẻ hướng dẫn viên du lịch nội địa", "Du lịch", "P"),
    ("BC-01", "Cấp giấy phép xuất bản bản tin", "Báo chí, xuất bản", "P"),
    ("KH-01", "Đăng ký hoạt động khoa học và công nghệ", "Khoa học và công nghệ", "P"),
    ("NV-01", "Cho phép tổ chức hội nghị, hội thảo quốc tế", "Ngoại vụ", "P"),
    ("NN-01", "Cấp chứng chỉ hành nghề thú y", "Nông nghiệp", "P"),
    ("XNC-01", "Cấp hộ chiếu phổ thông", "Xuất nhập cảnh", "P"),
    ("BH-01", "Cấp lại, đổi thẻ bảo hiểm y tế", "Bảo hiểm xã hội", "P"),
    ("BH-02", "Giải quyết hưởng chế độ thai sản", "Bảo hiểm xã hội", "P"),
    ("TH-01", "Đăng ký thuế lần đầu", "Thuế", "P"),
    ("TC-01", "Đăng ký mã số đơn vị có quan hệ với ngân sách", "Tài chính", "P"),
    ("TD-01", "Tặng Bằng khen của Chủ tịch UBND tỉnh", "Thi đua, khen thưởng", "P"),
]

#: How a field's procedures tend to be rated (land and construction are the hard ones).
FIELD_EFFECTS = {
    "Đất đai": -0.35,
    "Xây dựng": -0.25,
    "Môi trường": -0.15,
    "Hộ tịch": 0.1,
    "Chứng thực": 0.15,
    "Bảo hiểm xã hội": -0.1,
}
#: Legal processing time in working days by field; others take 5.
LEGAL_DAYS = {
    "Đất đai": 20,
    "Xây dựng": 15,
    "Môi trường": 25,
    "Đầu tư": 30,
    "Hộ tịch": 2,
    "Chứng thực": 1,
    "Lý lịch tư pháp": 10,
    "Quốc tịch": 60,
    "Đường bộ": 5,
}
STAND_OUT = {"SNV": 0.6, "STNMT": -0.7, "HUONGHOA": -0.55, "CAMLO": 0.45, "HAILANG-HAIAN": 0.5}
COUNTER_NAMES = [
    "Quầy 1 – Tiếp nhận hồ sơ",
    "Quầy 2 – Trả kết quả",
    "Quầy 3 – Hướng dẫn",
    "Quầy 4 – Thu phí, lệ phí",
]


def slug(text: str) -> str:
    """ASCII upper-case code from a Vietnamese name: 'xã Hải Định' -> 'HAIDINH'."""
    for prefix in ("thị trấn ", "phường ", "xã "):
        text = text.removeprefix(prefix)
    text = unicodedata.normalize("NFD", text.replace("Đ", "D").replace("đ", "d"))
    return "".join(c for c in text if c.isascii() and c.isalnum()).upper()


@dataclass
class DemoOffice:
    """An office of the demo with the traits that drive its simulated activity."""

    office: Office
    size: float  # relative dossier volume
    effect: float  # how much better or worse than average it is rated
    lateness: float  # shifts the share of dossiers returned late
    counters: list[Counter] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    service_index: list[int] = field(default_factory=list)  # positions in SERVICES


def build_province(rng: np.random.Generator) -> tuple[list[DemoOffice], list[Service]]:
    """Create the offices, counters, services and links of the demo province (flush only)."""
    services = [Service(code=code, name=name, field=field_) for code, name, field_, _ in SERVICES]
    db.session.add_all(services)
    levels = {s.code: lv for s, (_, _, _, lv) in zip(services, SERVICES, strict=True)}
    position = {s.code: i for i, s in enumerate(services)}
    made: list[DemoOffice] = []

    def add(office: Office, size: float, level: str, fields: list[str] | None = None) -> None:
        office.sms_sampling_rate = float(np.round(rng.uniform(0.3, 1.0), 2))
        effect = float(rng.normal(0, 0.3))
        demo = DemoOffice(
            office,
            size * float(rng.lognormal(0, 0.4)),
            effect,
            float(rng.normal(-effect / 3, 0.15)),
        )
        count = int(rng.integers(1, 5 if level != "C" else 3))
        demo.counters = [Counter(code=f"Q{i + 1}", name=COUNTER_NAMES[i]) for i in range(count)]
        office.counters = demo.counters
        demo.services = [
            s for s in services if level in levels[s.code] and (fields is None or s.field in fields)
        ]
        office.services = demo.services
        demo.service_index = [position[s.code] for s in demo.services]
        db.session.add(office)
        made.append(demo)

    for code, name, name_en, fields in DEPARTMENTS:
        add(
            Office(
                code=code,
                name=name,
                name_en=name_en,
                kind=OfficeKind.DEPARTMENT,
                group=RankingGroup.DEPARTMENTS,
            ),
            1.0,
            "P",
            fields,
        )
    for code, name, name_en, communes in DISTRICTS:
        district = Office(
            code=code,
            name=name,
            name_en=name_en,
            kind=OfficeKind.DISTRICT,
            group=RankingGroup.DISTRICTS,
        )
        add(district, 1.6, "D")
        for commune in communes:
            full = f"UBND {commune}, {name.removeprefix('UBND ')}"
            add(
                Office(
                    code=f"{code}-{slug(commune)}",
                    name=full,
                    kind=OfficeKind.COMMUNE,
                    group=RankingGroup.COMMUNES,
                    parent=district,
                ),
                0.35,
                "C",
            )
    for demo in made:  # a few offices stand out, so the rankings have something to show
        if demo.office.code in STAND_OUT:
            demo.effect = STAND_OUT[demo.office.code]
            demo.lateness = -demo.effect / 3
    db.session.flush()
    return made, services
