"""QR posters for offices and counters: `flask mscore qr` and `GET /qr/<office>[/<counter>].<fmt>`.

A poster is an A5 page at 300 dpi: the office (and counter) name, a short instruction in Vietnamese
and English, the QR code of the survey URL (error correction H, so a worn or scratched print still
scans) and the URL in text beneath it. One layout (a list of drawing operations) feeds both the
raster renderer (PNG, and PDF through Pillow) and the SVG one, so the formats cannot drift apart.
Text is drawn with the DejaVu Sans shipped in survey_app/fonts, which has every Vietnamese glyph.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote
from xml.sax.saxutils import escape, quoteattr

import click
import numpy as np
import qrcode
from flask import Blueprint, Response, abort, current_app
from flask.cli import with_appcontext
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import select

from .extensions import db, limiter
from .models import Counter, Office

bp = Blueprint("qr", __name__)

ALL_POSTERS = "all-posters.pdf"  # --all: every poster, two A5 to an A4 sheet
FORMATS = {"png": "image/png", "svg": "image/svg+xml; charset=utf-8", "pdf": "application/pdf"}
FONT_DIR = Path(__file__).parent / "fonts"
DPI, WIDTH, HEIGHT, MARGIN = 300, 1748, 2480, 120  # A5 portrait, 148 x 210 mm
ERROR_CORRECTION = qrcode.constants.ERROR_CORRECT_H
QUIET_ZONE = 4  # modules of white around the code, as the standard asks
BRAND, INK, GREY = "#0b4f8a", "#111111", "#555555"
HEADER_VI, HEADER_EN = "ĐÁNH GIÁ SỰ HÀI LÒNG", "Citizen satisfaction survey"
INSTRUCTION_VI = "Quét mã QR để góp ý về việc giải quyết thủ tục hành chính"
INSTRUCTION_EN = "Scan the QR code with your phone to rate the service you received"
FOOTER = "Ẩn danh, khoảng 1 phút · Anonymous, about 1 minute"


@dataclass(frozen=True)
class Poster:
    """What a poster shows: the survey URL, the office name and, for a counter, its name."""

    url: str
    title: str
    subtitle: str | None = None


def survey_url(office_code: str, counter_code: str | None = None) -> str:
    """The public survey URL a poster's QR code carries."""
    path = f"/s/{quote(office_code, safe='')}"
    if counter_code:
        path += f"/{quote(counter_code, safe='')}"
    return current_app.config["PUBLIC_BASE_URL"] + path


def qr_matrix(url: str) -> list[list[bool]]:
    """The QR modules (True = dark) of a URL at error correction H, without the quiet zone."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECTION, border=0)
    code.add_data(url)
    code.make(fit=True)
    return code.get_matrix()


def qr_png(url: str, module_px: int = 8) -> bytes:
    """A plain QR code of a URL as PNG (error correction M, the standard quiet zone)."""
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=module_px, border=QUIET_ZONE
    )
    code.add_data(url)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image().save(buffer, format="PNG")
    return buffer.getvalue()


@lru_cache(maxsize=8)
def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(
        str(FONT_DIR / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")), size
    )


def _wrap(text: str, size: int, bold: bool, width: int) -> list[str]:
    font, lines, line = _font(size, bold), [], ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if line and font.getlength(candidate) > width:
            lines.append(line)
            line = word
        else:
            line = candidate
    return lines + [line] if line else lines


def _split(url: str, size: int, width: int) -> list[str]:
    font, lines = _font(size, True), [""]
    for char in url:
        if lines[-1] and font.getlength(lines[-1] + char) > width:
            lines.append("")
        lines[-1] += char
    return lines


def layout(poster: Poster) -> list[tuple]:
    """The poster's drawing operations, in page pixels at 300 dpi."""
    # ("rect", x, y, w, h, fill), ("text", centre_x, baseline, size, bold, fill, text),
    # ("qr", x, y, module_px, matrix)
    ops: list[tuple] = [("rect", 0, 0, WIDTH, 250, BRAND)]
    ops += [
        ("text", WIDTH // 2, 130, 76, True, "#ffffff", HEADER_VI),
        ("text", WIDTH // 2, 205, 46, False, "#ffffff", HEADER_EN),
    ]
    inner, y = WIDTH - 2 * MARGIN, 250
    blocks = [(poster.title, (84, 72, 62), True, INK)]
    if poster.subtitle:
        blocks.append((poster.subtitle, (64, 56), True, BRAND))
    blocks += [(INSTRUCTION_VI, (48,), False, INK), (INSTRUCTION_EN, (42,), False, GREY)]
    for text, sizes, bold, fill in blocks:
        # the fewest lines, then the biggest size: a name on one line reads better than two
        size = -min((len(_wrap(text, s, bold, inner)), -s) for s in sizes)[1]
        y += size // 2
        for line in _wrap(text, size, bold, inner):
            y += round(size * 1.25)
            ops.append(("text", WIDTH // 2, y, size, bold, fill, line))
    matrix = qr_matrix(poster.url)
    n = len(matrix)
    footer_space = 260  # URL, footer, margin
    room = min(WIDTH - 2 * MARGIN, HEIGHT - footer_space - y)
    module = max(room // (n + 2 * QUIET_ZONE), 4)
    side = n * module
    qr_y = y + QUIET_ZONE * module
    ops.append(("qr", (WIDTH - side) // 2, qr_y, module, matrix))
    url_size = 50 if _font(50, True).getlength(poster.url) <= inner else 38
    y = qr_y + side + 4 * module - 20
    for line in _split(poster.url, url_size, inner):  # a long base URL breaks over lines
        y += round(url_size * 1.25)
        ops.append(("text", WIDTH // 2, y, url_size, True, INK, line))
    ops.append(("text", WIDTH // 2, HEIGHT - MARGIN // 2 - 20, 36, False, GREY, FOOTER))
    return ops


def render_image(poster: Poster) -> Image.Image:
    """The poster as an RGB image at 300 dpi."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    for op in layout(poster):
        if op[0] == "rect":
            _, x, y, w, h, fill = op
            draw.rectangle((x, y, x + w - 1, y + h - 1), fill=fill)
        elif op[0] == "text":
            _, cx, baseline, size, bold, fill, text = op
            draw.text((cx, baseline), text, font=_font(size, bold), fill=fill, anchor="ms")
        else:
            _, x, y, module, matrix = op
            pixels = np.where(np.array(matrix, dtype=bool), 0, 255).astype(np.uint8)
            side = len(matrix) * module
            image.paste(Image.fromarray(pixels, "L").resize((side, side), Image.NEAREST), (x, y))
    return image


def _svg_path(matrix: list[list[bool]]) -> str:
    """Dark modules as one SVG path in module units, a rectangle per horizontal run."""
    parts = []
    for row_index, row in enumerate(matrix):
        col = 0
        while col < len(row):
            if row[col]:
                start = col
                while col < len(row) and row[col]:
                    col += 1
                parts.append(f"M{start},{row_index}h{col - start}v1h{start - col}z")
            col += 1
    return "".join(parts)


def qr_svg(url: str, label: str) -> str:
    """A plain QR code of a URL as an inline <svg> element, named `label` for screen readers."""
    matrix = qr_matrix(url)
    side = len(matrix) + 2 * QUIET_ZONE
    return (
        f'<svg class="qr" xmlns="http://www.w3.org/2000/svg" viewBox="{-QUIET_ZONE} '
        f'{-QUIET_ZONE} {side} {side}" role="img" aria-label={quoteattr(label)}>'
        f'<rect x="{-QUIET_ZONE}" y="{-QUIET_ZONE}" width="{side}" height="{side}" fill="#ffffff"/>'
        f'<path fill="#000000" shape-rendering="crispEdges" d={quoteattr(_svg_path(matrix))}/>'
        "</svg>"
    )


def render_svg(poster: Poster) -> bytes:
    """The poster as UTF-8 SVG: real text elements and the QR code as one path."""
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="148mm" height="210mm" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}">',
        f"<title>{escape(poster.title)}</title>",
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
    ]
    for op in layout(poster):
        if op[0] == "rect":
            _, x, y, w, h, fill = op
            out.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{fill}"/>')
        elif op[0] == "text":
            _, cx, baseline, size, bold, fill, text = op
            weight = ' font-weight="bold"' if bold else ""
            out.append(
                f'<text x="{cx}" y="{baseline}" font-family="DejaVu Sans, Arial, sans-serif"'
                f' font-size="{size}"{weight} fill="{fill}" text-anchor="middle">'
                f"{escape(text)}</text>"
            )
        else:
            _, x, y, module, matrix = op
            d = quoteattr(_svg_path(matrix))
            out.append(
                f'<path transform="translate({x},{y}) scale({module})" fill="#000000" '
                f'shape-rendering="crispEdges" d={d}/>'
            )
    out.append("</svg>\n")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + "\n".join(out)).encode("utf-8")


@lru_cache(maxsize=64)
def render(poster: Poster, fmt: str) -> bytes:
    """The poster's bytes in a format: png, svg or pdf (the PNG image on an A5 page)."""
    if fmt == "svg":
        return render_svg(poster)
    buffer = io.BytesIO()
    image = render_image(poster)
    if fmt == "png":
        image.save(buffer, "PNG", dpi=(DPI, DPI))
    else:
        image.save(
            buffer,
            "PDF",
            resolution=DPI,
            quality=95,
            subsampling=0,
            title=poster.title,
            subject=poster.url,
            keywords=poster.url,
            creator="mscore",
        )
    return buffer.getvalue()


def find_target(office_code: str, counter_code: str | None = None):
    """The active office and counter a poster is for; LookupError naming what is missing."""
    office = db.session.scalar(select(Office).where(Office.code == office_code))
    if office is None or not office.is_active:
        raise LookupError(f"no active office with code {office_code!r}")
    counter = None
    if counter_code:
        counter = db.session.scalar(
            select(Counter).where(Counter.office_id == office.id, Counter.code == counter_code)
        )
        if counter is None or not counter.is_active:
            raise LookupError(f"office {office_code!r} has no active counter {counter_code!r}")
    return office, counter


def poster_for(office: Office, counter: Counter | None = None) -> Poster:
    """The poster of an office or one of its counters."""
    return Poster(
        url=survey_url(office.code, counter.code if counter else None),
        title=office.name,
        subtitle=counter.name if counter else None,
    )


def file_name(office: Office, counter: Counter | None, fmt: str) -> str:
    """`<office>[-<counter>].<fmt>`: the default name of a poster file."""
    return f"{office.code}-{counter.code}.{fmt}" if counter else f"{office.code}.{fmt}"


@bp.get("/qr/<office_code>.<any(png, svg, pdf):fmt>")
@bp.get("/qr/<office_code>/<counter_code>.<any(png, svg, pdf):fmt>")
@limiter.limit("60 per minute")
def poster_view(office_code: str, fmt: str, counter_code: str | None = None):
    """The printable poster of an active office or counter (404 otherwise)."""
    try:
        office, counter = find_target(office_code, counter_code)
    except LookupError:
        abort(404)
    response = Response(render(poster_for(office, counter), fmt), mimetype=FORMATS[fmt])
    response.headers["Content-Disposition"] = (
        f'inline; filename="{file_name(office, counter, fmt)}"'
    )
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


def _write(path: Path, office: Office, counter: Counter | None, fmt: str) -> None:
    path.write_bytes(render(poster_for(office, counter), fmt))
    click.echo(str(path))


@click.command("qr")
@click.option("--office", "office_code", metavar="CODE", help="Office code.")
@click.option("--counter", "counter_code", metavar="CODE", help="Counter code within the office.")
@click.option("--format", "fmt", type=click.Choice(list(FORMATS)), default="png", show_default=True)
@click.option(
    "--all", "all_", is_flag=True, help="Every active office and counter, into --out DIR."
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="File to write (default <office>[-<counter>].<fmt>), or the directory for --all.",
)
@click.option(
    "--crop-marks", is_flag=True, help="With --all: crop marks on the sheets of all-posters.pdf."
)
@with_appcontext
def qr_command(office_code, counter_code, fmt, all_, out, crop_marks) -> None:
    """Make printable QR posters (PNG, SVG or PDF) for an office, a counter, or all of them."""
    if not all_:
        if not office_code:
            raise click.UsageError("give --office CODE (and optionally --counter CODE), or --all")
        try:
            office, counter = find_target(office_code, counter_code)
        except LookupError as exc:
            raise click.BadParameter(
                str(exc),
                param_hint="--counter" if counter_code and "counter" in str(exc) else "--office",
            ) from None
        _write(out or Path(file_name(office, counter, fmt)), office, counter, fmt)
        return
    if office_code or counter_code:
        raise click.UsageError("--all makes every poster; leave out --office and --counter")
    if out is None:
        raise click.UsageError("--all needs --out DIR")
    out.mkdir(parents=True, exist_ok=True)
    offices = db.session.scalars(select(Office).where(Office.is_active).order_by(Office.code))
    written, posters = set(), []
    for office in offices:
        for counter in [None] + [c for c in office.counters if c.is_active]:
            name = file_name(office, counter, fmt)
            if name in written or name == ALL_POSTERS:
                raise click.ClickException(f"two posters would both be written to {name}")
            written.add(name)
            _write(out / name, office, counter, fmt)
            posters.append(poster_for(office, counter))
    from .poster_sheets import poster_sheets

    sheets = out / ALL_POSTERS  # every poster in one file to print (or email)
    sheets.write_bytes(poster_sheets(posters, crop_marks))
    click.echo(f"{sheets} ({len(posters)} posters, {sheets.stat().st_size / 1e6:.1f} MB)")


def register(group) -> None:
    """Attach `flask mscore qr` to the group."""
    group.add_command(qr_command)
