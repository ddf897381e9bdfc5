"""Every text a citizen can receive, in Vietnamese without diacritics (GSM-7) and English, and the
segment count of a text (GSM-7 or UCS-2)."""

from __future__ import annotations

import json
import math
import unicodedata
from pathlib import Path

from flask import current_app

#: GSM 03.38 basic character set (one septet each) and the extension table (two septets each).
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")

MAX_SEGMENTS_INVITATION = 2
_SCALE_VI = "Tra loi 1-5 (1 rat khong hai long, 5 rat hai long)."
_SCALE_EN = "Reply 1-5 (1 very dissatisfied, 5 very satisfied)."

#: The default templates; {office} and {dossier} are filled in the invitation.
DEFAULT_TEXTS: dict[str, dict[str, str]] = {
    "vi": {
        "invitation": "{office}: ho so {dossier} da co ket qua. Ong/Ba hai long the nao voi viec "
        "giai quyet ho so? " + _SCALE_VI + " Nhan HUY de tu choi.",
        "q_overall": "Ong/Ba hai long the nao voi viec giai quyet ho so? " + _SCALE_VI,
        "q_result_on_time": "Cam on. Ong/Ba hai long the nao ve viec tra ket qua dung hen? "
        + _SCALE_VI,
        "q_staff_polite": "Ong/Ba hai long the nao ve thai do cua can bo? " + _SCALE_VI,
        "q_extra_payment": "Ong/Ba co bi yeu cau dua tien ngoai quy dinh khong? "
        "Tra loi CO hoac KHONG.",
        "q_comment": "Ong/Ba co gop y gi de cai thien dich vu? Nhan gop y, hoac KHONG neu "
        "khong co.",
        "retry": "Xin loi, chua ro cau tra loi. {question}",
        "move_on": "Cam on Ong/Ba. Xin chuyen sang cau tiep theo. {question}",
        "thanks": "Cam on Ong/Ba da danh gia. Y kien cua Ong/Ba giup cai thien dich vu cong.",
        "expired": "Cuoc khao sat nay da ket thuc. Cam on Ong/Ba.",
        "done": "Ong/Ba da hoan thanh khao sat. Cam on Ong/Ba.",
        "unknown": "Cam on Ong/Ba. So nay chi dung de khao sat su hai long ve dich vu hanh chinh "
        "cong.",
        "stop": "Ong/Ba se khong nhan tin nhan khao sat nua. Nhan DK de nhan lai.",
        "start": "Ong/Ba se nhan lai tin nhan khao sat. Nhan HUY de tu choi.",
        "help": "Khao sat su hai long ve dich vu hanh chinh cong. Tra loi bang so 1-5. "
        "Nhan HUY de tu choi.",
    },
    "en": {
        "invitation": "{office}: your dossier {dossier} has its result. How satisfied are you "
        "with how it was handled? " + _SCALE_EN + " Reply STOP to opt out.",
        "q_overall": "How satisfied are you with how your dossier was handled? " + _SCALE_EN,
        "q_result_on_time": "Thank you. How satisfied are you that the result came on time? "
        + _SCALE_EN,
        "q_staff_polite": "How satisfied are you with the staff's attitude? " + _SCALE_EN,
        "q_extra_payment": "Were you asked for any payment outside the rules? Reply YES or NO.",
        "q_comment": "Any suggestion to improve the service? Reply with it, or NO if none.",
        "retry": "Sorry, we did not understand. {question}",
        "move_on": "Thank you. On to the next question. {question}",
        "thanks": "Thank you for your rating. It helps improve public services.",
        "expired": "This survey has ended. Thank you.",
        "done": "You have completed this survey. Thank you.",
        "unknown": "Thank you. This number is only used for public-service satisfaction surveys.",
        "stop": "You will not receive survey texts any more. Reply START to receive them again.",
        "start": "You will receive survey texts again. Reply STOP to opt out.",
        "help": "Public-service satisfaction survey. Reply with a digit 1-5. "
        "Reply STOP to opt out.",
    },
}


def to_gsm_ascii(value: str) -> str:
    """Vietnamese without diacritics (đ becomes d), so the text stays in GSM-7."""
    value = value.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", value)
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return unicodedata.normalize("NFC", stripped)


def segments(text: str) -> tuple[str, int]:
    """The encoding ('gsm7' or 'ucs2') and the number of SMS segments a text needs."""
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text):
        length = sum(2 if ch in GSM7_EXTENDED else 1 for ch in text)
        return "gsm7", 1 if length <= 160 else math.ceil(length / 153)
    units = len(text.encode("utf-16-le")) // 2
    return "ucs2", 1 if units <= 70 else math.ceil(units / 67)


def _configured_texts() -> dict[str, dict[str, str]]:
    """The default templates with the operator's overrides (SMS_TEXTS or SMS_TEXTS_FILE)."""
    texts = {lang: dict(items) for lang, items in DEFAULT_TEXTS.items()}
    overrides = dict(current_app.config.get("SMS_TEXTS") or {})
    path = current_app.config.get("SMS_TEXTS_FILE")
    if path:
        for lang, items in json.loads(Path(path).read_text("utf-8")).items():
            overrides.setdefault(lang, {}).update(items)
    for lang, items in overrides.items():
        texts.setdefault(lang, {}).update(items)
    return texts


def text(key: str, language: str = "vi", **values) -> str:
    """One template, filled in, in a language (falling back to Vietnamese)."""
    texts = _configured_texts()
    template = texts.get(language, {}).get(key) or texts["vi"][key]
    return template.format(**values)


def invitation_text(office_name: str, dossier_code: str, language: str = "vi") -> str:
    """The invitation: office and dossier named, overall rating asked, at most two segments."""
    texts = _configured_texts()
    template = texts.get(language, {}).get("invitation") or texts["vi"]["invitation"]
    office = to_gsm_ascii(" ".join(office_name.split()))
    dossier = to_gsm_ascii(dossier_code)
    body = template.format(office=office, dossier=dossier)
    if segments(body)[1] <= MAX_SEGMENTS_INVITATION:
        return body
    # A long office name is shortened (never the dossier code, which the citizen needs).
    empty = len(template.format(office="", dossier=dossier))
    keep = max(8, MAX_SEGMENTS_INVITATION * 153 - empty - 2)
    while True:
        short = office[:keep].rstrip(" ,.-") + ".."
        body = template.format(office=short, dossier=dossier)
        if segments(body)[1] <= MAX_SEGMENTS_INVITATION or keep <= 8:
            return body
        keep -= 4


def question_text(code: str, language: str = "vi", fallback: str | None = None) -> str:
    """The text asking one question (template `q_<code>`; else the fallback, unaccented)."""
    texts = _configured_texts()
    template = texts.get(language, {}).get(f"q_{code}") or texts["vi"].get(f"q_{code}")
    if template is None:
        if fallback is None:
            raise KeyError(f"no SMS text for question {code!r}: add q_{code} to SMS_TEXTS")
        return to_gsm_ascii(fallback)
    return template
