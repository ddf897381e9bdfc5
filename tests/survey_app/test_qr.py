"""QR posters: the code in the picture reads back as the survey URL, at error correction H."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import qrcode
from PIL import Image
from PIL.PdfParser import PdfParser

BASE = "https://mscore.test"  # PUBLIC_BASE_URL in the test config
SVG = "{http://www.w3.org/2000/svg}"


def expected_matrix(url: str) -> list[list[bool]]:
    """The modules an independent QRCode at error correction H gives for a URL."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_H, border=0)
    code.add_data(url)
    code.make(fit=True)
    return code.get_matrix()


def _qr_edges(dark: np.ndarray, n: int) -> tuple[int, int, int]:
    """Top row, left and right edge of the QR code in a dark-pixel mask."""
    for top, row in enumerate(dark):
        edges = np.flatnonzero(np.diff(np.concatenate(([0], row.astype(np.int8), [0]))))
        if not len(edges) or row[0]:  # blank, or the full-width header band
            continue
        left, right = edges[0], edges[-1]
        # the top edge of the finder patterns: the row's first dark run is 7 of n modules
        if edges[1] - left >= 70 and abs((edges[1] - left) - 7 * (right - left) / n) < 2:
            return top, left, right
    raise AssertionError("no QR code found in the image")


def sample_matrix(image: Image.Image, n: int) -> list[list[bool]]:
    """Find the QR code in a poster image and read its n x n modules at their centres."""
    dark = np.array(image.convert("L")) < 128
    top, left, right = _qr_edges(dark, n)
    module = (right - left) / n
    return [
        [
            bool(dark[int(top + (i + 0.5) * module), int(left + (j + 0.5) * module)])
            for j in range(n)
        ]
        for i in range(n)
    ]


def error_correction_level(matrix: list[list[bool]]) -> str:
    """Read the format information next to the top-left finder (ISO/IEC 18004, 7.9)."""
    n, bits = len(matrix), 0
    for i in range(15):
        row = i if i < 6 else i + 1 if i < 8 else n - 15 + i
        bits |= matrix[row][8] << i
    return {1: "L", 0: "M", 3: "Q", 2: "H"}[((bits ^ 0b101010000010010) >> 13) & 3]


def assert_poster_carries(image: Image.Image, url: str) -> None:
    wanted = expected_matrix(url)
    sampled = sample_matrix(image, len(wanted))
    assert sampled == wanted
    assert error_correction_level(sampled) == "H"


@pytest.fixture
def offices(make_office, make_counter):
    """Two active offices (one with two counters, one inactive) and an inactive office."""
    justice = make_office("STP", "Sở Tư pháp")
    make_counter(justice, "Q1", "Quầy số 1 – Lý lịch tư pháp")
    make_counter(justice, "Q2", "Quầy số 2")
    make_counter(justice, "Q3", "Quầy cũ", is_active=False)
    make_office("UB.HAIAN", "UBND xã Hải An, huyện Hải Lăng")
    make_office("OLD", "Văn phòng đã giải thể", is_active=False)
    return justice


def test_png_poster_reads_back_as_the_survey_url(runner, offices, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(args=["mscore", "qr", "--office", "STP"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "STP.png"
    image = Image.open(tmp_path / "STP.png")
    assert image.size == (1748, 2480) and round(image.info["dpi"][0]) == 300  # A5 at 300 dpi
    assert_poster_carries(image, f"{BASE}/s/STP")


def test_counter_poster_and_out_file(runner, offices, tmp_path):
    out = tmp_path / "quay1.png"
    result = runner.invoke(
        args=["mscore", "qr", "--office", "STP", "--counter", "Q1", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(out)
    assert_poster_carries(Image.open(out), f"{BASE}/s/STP/Q1")


def test_a_very_long_name_still_leaves_a_readable_code(app, runner, make_office, tmp_path):
    name = "Trung tâm Phục vụ hành chính công tỉnh Quảng Trị – Chi nhánh khu vực phía Nam " * 2
    make_office("LONG", name.strip())
    out = tmp_path / "long.png"
    assert (
        runner.invoke(args=["mscore", "qr", "--office", "LONG", "--out", str(out)]).exit_code == 0
    )
    assert_poster_carries(Image.open(out), f"{BASE}/s/LONG")


def test_a_long_base_url_breaks_over_lines(app, make_office, tmp_path):
    from survey_app.qr import Poster, layout, render_image

    url = "https://khao-sat-hai-long.dichvucong.quangtri.gov.vn/s/" + "A" * 32 + "/" + "B" * 32
    texts = [op[-1] for op in layout(Poster(url, "Sở Tư pháp")) if op[0] == "text"]
    assert "".join(t for t in texts if t.startswith("https://") or set(t) <= set("AB/")) == url
    assert_poster_carries(render_image(Poster(url, "Sở Tư pháp")), url)


def test_svg_has_text_with_diacritics_and_the_qr_as_a_path(runner, offices, tmp_path):
    out = tmp_path / "poster.svg"
    args = ["mscore", "qr", "--office", "UB.HAIAN", "--format", "svg", "--out", str(out)]
    assert runner.invoke(args=args).exit_code == 0
    root = ET.fromstring(out.read_bytes())
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "UBND xã Hải An, huyện Hải Lăng" in texts  # fits one line at a smaller size
    assert f"{BASE}/s/UB.HAIAN" in texts
    assert any("Quét mã QR" in t for t in texts) and any("Scan the QR code" in t for t in texts)
    (path,) = root.iter(f"{SVG}path")
    wanted = expected_matrix(f"{BASE}/s/UB.HAIAN")
    drawn = [[False] * len(wanted) for _ in wanted]
    for x, y, run in re.findall(r"M(\d+),(\d+)h(\d+)v1h-\d+z", path.get("d")):
        for col in range(int(x), int(x) + int(run)):
            drawn[int(y)][col] = True
    assert drawn == wanted
    assert error_correction_level(drawn) == "H"


def test_pdf_is_an_a5_page_with_the_name_url_and_a_readable_code(runner, offices, tmp_path):
    out = tmp_path / "poster.pdf"
    args = ["mscore", "qr", "--office", "STP", "--counter", "Q2", "--format", "pdf", "--out", out]
    assert runner.invoke(args=[str(a) for a in args]).exit_code == 0
    pdf = PdfParser(buf=out.read_bytes())
    assert pdf.info.Title == "Sở Tư pháp" and pdf.info.Subject == f"{BASE}/s/STP/Q2"
    (page_ref,) = pdf.pages
    page = pdf.read_indirect(page_ref)
    assert [round(v) for v in page[b"MediaBox"]] == [0, 0, 420, 595]  # A5 in points
    image_ref = page[b"Resources"][b"XObject"][b"image"]
    stream = pdf.read_indirect(image_ref)
    assert_poster_carries(Image.open(io.BytesIO(stream.buf)), f"{BASE}/s/STP/Q2")


def test_all_writes_one_file_per_active_office_and_counter(runner, offices, tmp_path):
    out = tmp_path / "posters"
    result = runner.invoke(args=["mscore", "qr", "--all", "--out", str(out), "--format", "svg"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "STP-Q1.svg",
        "STP-Q2.svg",
        "STP.svg",
        "UB.HAIAN.svg",
        "all-posters.pdf",
    ]
    assert "all-posters.pdf (4 posters" in result.output.splitlines()[-1]


def _decoded(image: Image.Image) -> list[str]:
    """The texts of the QR codes zxing-cpp (an independent decoder) finds in an image."""
    import zxingcpp

    return sorted(code.text for code in zxingcpp.read_barcodes(image))


def test_a_decoder_reads_the_office_url_in_the_png_poster(runner, offices, tmp_path):
    result = runner.invoke(
        args=["mscore", "qr", "--office", "STP", "--out", str(tmp_path / "p.png")]
    )
    assert result.exit_code == 0, result.output
    assert _decoded(Image.open(tmp_path / "p.png")) == [f"{BASE}/s/STP"]


@pytest.mark.parametrize("crop_marks", [False, True])
def test_all_posters_in_one_pdf_two_a5_to_an_a4_sheet(runner, offices, tmp_path, crop_marks):
    import pypdfium2

    out = tmp_path / "posters"
    args = ["mscore", "qr", "--all", "--out", str(out)] + (["--crop-marks"] if crop_marks else [])
    assert runner.invoke(args=args).exit_code == 0
    pdf = pypdfium2.PdfDocument(out / "all-posters.pdf")
    assert len(pdf) == 2  # four posters, two to a sheet
    width, height = pdf[0].get_size()  # points: A4 landscape
    assert round(width / 72 * 25.4) == 297 and round(height / 72 * 25.4) == 210
    # rasterised as a printer would, each sheet's QR codes read back as its posters' URLs
    sheets = [_decoded(pdf[i].render(scale=200 / 72).to_pil()) for i in range(len(pdf))]
    assert sheets == [
        [f"{BASE}/s/STP", f"{BASE}/s/STP/Q1"],
        [f"{BASE}/s/STP/Q2", f"{BASE}/s/UB.HAIAN"],
    ]
    assert "Sở Tư pháp" in pdf[0].get_textpage().get_text_range()  # real text, diacritics
    # vector text and codes: small enough to email for a province's 181 posters
    assert (out / "all-posters.pdf").stat().st_size < 150_000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--office", "NOPE"], "no active office with code 'NOPE'"),
        (["--office", "OLD"], "no active office with code 'OLD'"),
        (["--office", "STP", "--counter", "Q9"], "office 'STP' has no active counter 'Q9'"),
        (["--office", "STP", "--counter", "Q3"], "office 'STP' has no active counter 'Q3'"),
        ([], "give --office CODE"),
        (["--all"], "--all needs --out DIR"),
        (["--all", "--office", "STP", "--out", "x"], "leave out --office"),
    ],
)
def test_unknown_codes_fail_cleanly(runner, offices, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(args=["mscore", "qr", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert list(tmp_path.iterdir()) == []


def test_poster_routes(client, offices):
    response = client.get("/qr/STP.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert_poster_carries(Image.open(io.BytesIO(response.data)), f"{BASE}/s/STP")
    response = client.get("/qr/STP/Q1.svg")
    assert response.mimetype == "image/svg+xml" and "Quầy số 1" in response.data.decode()
    response = client.get("/qr/UB.HAIAN.pdf")  # a dot in the code is still the office code
    assert response.mimetype == "application/pdf" and response.data.startswith(b"%PDF")
    assert 'filename="UB.HAIAN.pdf"' in response.headers["Content-Disposition"]


@pytest.mark.parametrize(
    "path",
    [
        "/qr/NOPE.png",
        "/qr/OLD.png",
        "/qr/STP/Q9.png",
        "/qr/STP/Q3.svg",
        "/qr/UB.HAIAN/Q1.png",
        "/qr/STP.gif",
    ],
)
def test_poster_routes_404(client, offices, path):
    assert client.get(path).status_code == 404
