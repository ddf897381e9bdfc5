"""Every poster in one print-ready PDF: A4 landscape sheets holding two A5 posters side by side,
with optional crop marks, as vector text and vector QR codes (fpdf2), so that a province's 181
posters make a file small enough to email (qr.py's raster PDFs are 430 KB a poster).

The posters are drawn from qr.py's layout (the same operations as the PNG and SVG), scaled from
its 300-dpi pixels to millimetres; the fonts are the DejaVu Sans that qr.py uses, embedded once
(subset to the glyphs used).
"""

from __future__ import annotations

from fpdf import FPDF

from .qr import DPI, FONT_DIR, HEIGHT, WIDTH, Poster, layout

A5_W, A5_H = 148.0, 210.0  # mm: one poster; two side by side fill an A4 landscape sheet
MM = 25.4 / DPI  # millimetres per layout pixel
MARK = 5.0  # mm: length of a crop mark, drawn outside the cut


def _rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))


def _draw(pdf: FPDF, poster: Poster, left: float) -> None:
    """One poster with its top-left corner at (left, 0) mm."""
    for op in layout(poster):
        if op[0] == "rect":
            _, x, y, w, h, fill = op
            pdf.set_fill_color(*_rgb(fill))
            pdf.rect(left + x * MM, y * MM, w * MM, h * MM, style="F")
        elif op[0] == "text":
            _, cx, baseline, size, bold, fill, text = op
            pdf.set_font("DejaVu", "B" if bold else "", size * 72 / DPI)
            pdf.set_text_color(*_rgb(fill))
            pdf.text(left + cx * MM - pdf.get_string_width(text) / 2, baseline * MM, text)
        else:
            _, x, y, module, matrix = op
            pdf.set_fill_color(0, 0, 0)
            size = module * MM
            for row, cells in enumerate(matrix):
                col = 0
                while col < len(cells):  # one rectangle per horizontal run of dark modules
                    if cells[col]:
                        start = col
                        while col < len(cells) and cells[col]:
                            col += 1
                        pdf.rect(
                            left + x * MM + start * size,
                            y * MM + row * size,
                            (col - start) * size,
                            size,
                            style="F",
                        )
                    col += 1


def _crop_marks(pdf: FPDF) -> None:
    """Short lines at the corners and the middle cut of a sheet, outside the posters' area."""
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(0.2)
    for x in (0.0, A5_W, 2 * A5_W):
        pdf.line(x, 0, x, MARK)
        pdf.line(x, A5_H - MARK, x, A5_H)


def poster_sheets(posters: list[Poster], crop_marks: bool = False) -> bytes:
    """The posters two to an A4 landscape sheet, as PDF bytes."""
    pdf = FPDF(orientation="landscape", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_margin(0)
    pdf.add_font("DejaVu", "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.set_title("mscore posters")
    pdf.set_creator("mscore")
    assert abs(WIDTH * MM - A5_W) < 0.1 and abs(HEIGHT * MM - A5_H) < 0.1  # qr.py's A5
    for first in range(0, len(posters), 2):
        pdf.add_page()
        for i, poster in enumerate(posters[first : first + 2]):
            _draw(pdf, poster, i * A5_W)
        if crop_marks:
            _crop_marks(pdf)
    return bytes(pdf.output())
