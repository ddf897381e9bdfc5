"""Every text a citizen can receive, in Vietnamese without diacritics (GSM-7) and English, and the
segment count of a text (GSM-7 or UCS-2)."""

from __future__ import annotations

import json
import math
import re
import string
import unicodedata
from pathlib import Path

from flask import Flask, current_app

#: GSM 03.38 basic character set (one septet each) and the extension table (two septets each).
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")

MAX_SEGMENTS_INVITATION = 2
_SCALE_VI = "Tra loi 1-5 (1 rat khong hai long, 5 rat hai long)."
_SCALE_EN = "Reply 1-5 (1 very dissatisfied, 5 very satisfied)."

#: The default templates. Placeholders: {office} and {dossier} in the invitations, {link} (the
#: dossier's personal rating link) in link mode, {free} (REPLIES_FREE's sentence where replies
#: are free, else nothing), {question} in retry and move_on.
DEFAULT_TEXTS: dict[str, dict[str, str]] = {
    "vi": {
        "invitation": "{office}: ho so {dossier} da co ket qua. Ong/Ba hai long the nao voi viec "
        "giai quyet ho so? " + _SCALE_VI + " {free}Nhan HUY de tu choi.",
        "invitation_link": "{office}: ho so {dossier} da co ket qua. {free}Moi Ong/Ba danh gia "
        "muc do hai long (1 phut) tai {link}",
        "replies_free": "Tin nhan tra loi mien phi.",
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
        "help_link": "Khao sat su hai long ve dich vu hanh chinh cong: Ong/Ba danh gia tai duong "
        "link trong tin nhan. Nhan HUY de tu choi.",
        "link_reply": "Cam on Ong/Ba. Xin moi danh gia tai {link}",
    },
    "en": {
        "invitation": "{office}: your dossier {dossier} has its result. How satisfied are you "
        "with how it was handled? " + _SCALE_EN + " {free}Reply STOP to opt out.",
        "invitation_link": "{office}: your dossier {dossier} has its result. {free}Please rate "
        "our service (1 minute) at {link}",
        "replies_free": "Replies are free.",
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
        "help_link": "Public-service satisfaction survey: rate us at the link in our text. "
        "Reply STOP to opt out.",
        "link_reply": "Thank you. Please rate us at {link}",
    },
}
#: The placeholders each template may use; a template not named here takes none.
PLACEHOLDERS = {
    "invitation": {"office", "dossier", "free"},
    "invitation_link": {"office", "dossier", "free", "link"},
    "retry": {"question"},
    "move_on": {"question"},
    "link_reply": {"link"},
}
#: The deployment's settings a texts file may hold beside the languages, with their defaults.
SETTINGS = {"replies_free": False}


#: Punctuation outside GSM-7 that names and codes use, and its GSM-7 stand-in.
_STAND_INS = str.maketrans(
    {"–": "-", "—": "-", "‘": "'", "’": "'", "“": '"', "”": '"', "…": "...", "\u00a0": " "}
)


def to_gsm_ascii(value: str) -> str:
    """Vietnamese without diacritics (đ becomes d), GSM-7 stand-ins for typographic punctuation
    and a space for anything else outside GSM-7, so the text stays in GSM-7."""
    value = value.replace("đ", "d").replace("Đ", "D").translate(_STAND_INS)
    decomposed = unicodedata.normalize("NFD", value)
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return "".join(
        ch if ch in GSM7_BASIC or ch in GSM7_EXTENDED else " "
        for ch in unicodedata.normalize("NFC", stripped)
    )


def segments(text: str) -> tuple[str, int]:
    """The encoding ('gsm7' or 'ucs2') and the number of SMS segments a text needs."""
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text):
        length = sum(2 if ch in GSM7_EXTENDED else 1 for ch in text)
        return "gsm7", 1 if length <= 160 else math.ceil(length / 153)
    units = len(text.encode("utf-16-le")) // 2
    return "ucs2", 1 if units <= 70 else math.ceil(units / 67)


def _load_file(path: str) -> dict:
    """The texts file's JSON object (ValueError or OSError when it cannot be used)."""
    data = json.loads(Path(path).read_text("utf-8"))
    if not isinstance(data, dict):
        raise ValueError("the file must hold one JSON object")
    return data


def _configured(config=None) -> tuple[dict[str, dict[str, str]], dict]:
    """The templates (defaults with the operator's SMS_TEXTS and SMS_TEXTS_FILE overrides) and
    the deployment's settings."""
    config = config if config is not None else current_app.config
    texts = {lang: dict(items) for lang, items in DEFAULT_TEXTS.items()}
    settings = dict(SETTINGS)
    sources = [config.get("SMS_TEXTS") or {}]
    if config.get("SMS_TEXTS_FILE"):
        sources.append(_load_file(config["SMS_TEXTS_FILE"]))
    for source in sources:
        for key, value in source.items():
            if key in SETTINGS:
                settings[key] = value
            else:
                texts.setdefault(key, {}).update(value)
    return texts, settings


def _template(texts: dict, key: str, language: str) -> str:
    return texts.get(language, {}).get(key) or texts["vi"][key]


def template(key: str, language: str = "vi") -> str:
    """One template as configured, placeholders unfilled (falling back to Vietnamese)."""
    texts, _settings = _configured()
    return (
        _template(texts, key, language) if key in texts["vi"] else question_text(key[2:], language)
    )


def text(key: str, language: str = "vi", **values) -> str:
    """One template, filled in, in a language (falling back to Vietnamese)."""
    texts, _settings = _configured()
    return _template(texts, key, language).format(**values)


def invitation_text(
    office_name: str, dossier_code: str, language: str = "vi", link: str | None = None
) -> str:
    """The invitation: office and dossier named, then the overall question (reply mode) or the
    personal `link` (link mode); at most two segments, the office name shortened if need be."""
    texts, settings = _configured()
    template = _template(texts, "invitation_link" if link else "invitation", language)
    free = _template(texts, "replies_free", language) + " " if settings["replies_free"] else ""
    values = {"dossier": to_gsm_ascii(dossier_code), "free": free, "link": link or ""}
    office = to_gsm_ascii(" ".join(office_name.split()))
    body = template.format(office=office, **values)
    if segments(body)[1] <= MAX_SEGMENTS_INVITATION:
        return body
    # A long office name is shortened (never the dossier code, which the citizen needs).
    empty = len(template.format(office="", **values))
    keep = max(8, MAX_SEGMENTS_INVITATION * 153 - empty - 2)
    while True:
        short = office[:keep].rstrip(" ,.-") + ".."
        body = template.format(office=short, **values)
        if segments(body)[1] <= MAX_SEGMENTS_INVITATION or keep <= 8:
            return body
        keep -= 4


def question_text(code: str, language: str = "vi", fallback: str | None = None) -> str:
    """The text asking one question (template `q_<code>`; else the fallback, unaccented)."""
    texts, _settings = _configured()
    template = texts.get(language, {}).get(f"q_{code}") or texts["vi"].get(f"q_{code}")
    if template is None:
        if fallback is None:
            raise KeyError(f"no SMS text for question {code!r}: add q_{code} to SMS_TEXTS")
        return to_gsm_ascii(fallback)
    return template


LANGUAGE = re.compile(r"[a-z]{2}")
LONGEST_DOSSIER_CODE = 64  # the column's width: the invitation must fit even then


def _template_problems(language: str, key, template) -> list[str]:
    """What is wrong with one template of a texts file (unknown, not text, bad placeholders)."""
    where = f"{language}.{key}"
    if not isinstance(key, str) or not (key in DEFAULT_TEXTS["vi"] or key.startswith("q_")):
        return [f"{where}: no such text (known: {', '.join(sorted(DEFAULT_TEXTS['vi']))}, q_…)"]
    if not isinstance(template, str) or not template.strip():
        return [f"{where}: must be a non-empty string"]
    allowed = PLACEHOLDERS.get(key, set())
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as exc:
        return [f"{where}: {exc} (write a literal brace as {{{{ or }}}})"]
    problems = []
    for _literal, name, spec, conversion in fields:
        if name is not None and (name not in allowed or spec or conversion):
            names = ", ".join(f"{{{n}}}" for n in sorted(allowed)) or "none"
            problems.append(f"{where}: {{{name}}} is not a placeholder here (allowed: {names})")
    if key == "invitation_link" and "link" not in {f[1] for f in fields}:
        problems.append(f"{where}: must contain {{link}}, the citizen's rating link")
    return problems


def _file_problems(data: dict) -> list[str]:
    """What is wrong with the texts file's structure and templates."""
    problems = []
    for key, value in data.items():
        if key in SETTINGS:
            if not isinstance(value, type(SETTINGS[key])):
                kind = type(SETTINGS[key]).__name__
                problems.append(f"{key}: must be {kind} (true or false)")
        elif not (isinstance(key, str) and LANGUAGE.fullmatch(key)) or not isinstance(value, dict):
            problems.append(
                f"{key}: neither a setting ({', '.join(SETTINGS)}) nor a language code (vi, en) "
                "holding an object of texts"
            )
        else:
            for name, template in value.items():
                problems += _template_problems(key, name, template)
    return problems


def longest_invitation(language: str) -> str:
    """The invitation as long as it can get here: the longest dossier code, the longest link of
    this deployment's PUBLIC_BASE_URL (SMS_MODE link), the office name shortened to fit."""
    from survey_app.services.rating_links import SMS, rating_url

    link = rating_url(2**40 - 1, SMS) if current_app.config["SMS_MODE"] == "link" else None
    office = "Office name " * 25  # longer than any text: shortened to what fits
    return invitation_text(office, "0" * LONGEST_DOSSIER_CODE, language, link)


def check_texts(app: Flask) -> None:
    """Refuse to start with a texts file that cannot be used, or with an invitation that could
    take more than two segments (the longest dossier code, this deployment's link)."""
    from survey_app.config import ConfigError

    path = app.config.get("SMS_TEXTS_FILE")
    problems = []
    if path:
        try:
            problems = _file_problems(_load_file(path))
        except json.JSONDecodeError as exc:
            problems = [f"line {exc.lineno} column {exc.colno}: {exc.msg}"]
        except (OSError, ValueError) as exc:
            problems = [str(exc)]
    if not problems:
        with app.app_context():
            texts, _settings = _configured(app.config)
            for language in texts:
                body = longest_invitation(language)
                encoding, count = segments(body)
                if count > MAX_SEGMENTS_INVITATION:
                    problems.append(
                        f"{language}: the invitation takes {count} {encoding} segments "
                        f"(at most {MAX_SEGMENTS_INVITATION}; GSM-7 needs letters without "
                        f"diacritics): {body!r}"
                    )
    if problems:
        raise ConfigError(f"SMS texts ({path or 'defaults'}): " + "; ".join(problems))
