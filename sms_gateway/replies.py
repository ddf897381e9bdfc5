"""Forgiving parsing of SMS replies: keywords, ratings 1-5, yes/no and comments (no I/O).

Replies are folded first: NFKC (full-width digits), lower case, Vietnamese diacritics removed
(đ becomes d), punctuation turned into spaces, digits split from letters ("5sao" -> "5 sao").
A rating is read only from a lone digit 1-5 or from a known phrase; anything ambiguous (two
different ratings, "10", a phone number) is None, so the question is asked again.
"""

from __future__ import annotations

import enum
import re
import unicodedata

MAX_COMMENT = 1000


class Keyword(enum.StrEnum):
    """Commands a citizen can send at any time."""

    STOP = "stop"
    START = "start"
    HELP = "help"


_KEYWORDS = {
    Keyword.STOP: {
        "stop",
        "huy",
        "tu choi",
        "tuchoi",
        "stopall",
        "unsubscribe",
        "cancel",
        "end",
        "quit",
        "huy bo",
    },
    # "DK" (ĐK, đăng ký: register) and "BAT DAU" (bắt đầu: start): words no answer reads as
    Keyword.START: {
        "start",
        "unstop",
        "bat dau",
        "batdau",
        "dk",
        "dky",
        "dang ky",
        "dangky",
        "dang ki",
        "dangki",
    },
    Keyword.HELP: {"help", "hd", "huong dan", "tro giup", "info"},
}

_NUMBER_WORDS = {
    "mot": 1,
    "hai": 2,
    "ba": 3,
    "bon": 4,
    "tu": 4,
    "nam": 5,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
}
_FILLER = {
    "sao",
    "diem",
    "d",
    "star",
    "stars",
    "point",
    "points",
    "a",
    "ạ",
    "so",
    "muc",
    "la",
    "toi",
    "chon",
    "em",
    "minh",
    "cho",
    "danh",
    "gia",
    "of",
    "out",
    "i",
    "give",
    "rate",
    "ok",
    "nhe",
    "nha",
    "vote",
}
#: Phrases of the 5-point scale, longest first so "rat khong hai long" wins over "hai long".
_PHRASES = sorted(
    [
        ("rat khong hai long", 1),
        ("hoan toan khong hai long", 1),
        ("rat te", 1),
        ("rat khong tot", 1),
        ("very dissatisfied", 1),
        ("very unsatisfied", 1),
        ("khong hai long", 2),
        ("chua hai long", 2),
        ("ko hai long", 2),
        ("k hai long", 2),
        ("not satisfied", 2),
        ("dissatisfied", 2),
        ("unsatisfied", 2),
        ("te", 2),
        ("binh thuong", 3),
        ("tam duoc", 3),
        ("trung binh", 3),
        ("tam on", 3),
        ("neutral", 3),
        ("average", 3),
        ("hai long", 4),
        ("tot", 4),
        ("satisfied", 4),
        ("good", 4),
        ("rat hai long", 5),
        ("rat tot", 5),
        ("hoan toan hai long", 5),
        ("tuyet voi", 5),
        ("very satisfied", 5),
        ("excellent", 5),
        ("very good", 5),
    ],
    key=lambda item: -len(item[0].split()),
)
_YES = {"co", "c", "yes", "y", "yeah", "co a", "da co", "dung", "roi", "bi", "co bi"}
_NO = {
    "khong",
    "ko",
    "k",
    "kg",
    "khg",
    "no",
    "n",
    "chua",
    "hong",
    "khong co",
    "khong bi",
    "ko co",
    "k co",
    "none",
    "nope",
    "khong a",
    "khong nhe",
    "0",
}


def fold(raw: str | None) -> str:
    """The reply as lower-case ASCII words separated by single spaces."""
    if not raw:
        return ""
    value = unicodedata.normalize("NFKC", str(raw)).lower()
    value = value.replace("đ", "d")
    value = "".join(
        ch for ch in unicodedata.normalize("NFD", value) if unicodedata.category(ch) != "Mn"
    )
    value = re.sub(r"[^a-z0-9]+", " ", value)
    value = re.sub(r"(?<=[0-9])(?=[a-z])|(?<=[a-z])(?=[0-9])", " ", value)
    return " ".join(value.split())


def keyword(raw: str | None) -> Keyword | None:
    """STOP, START or HELP when the whole reply is one of their spellings."""
    folded = fold(raw)
    for kind, spellings in _KEYWORDS.items():
        if folded in spellings:
            return kind
    return None


def _phrase_ratings(words: list[str]) -> list[int]:
    found, i = [], 0
    while i < len(words):
        for phrase, value in _PHRASES:
            size = len(phrase.split())
            if words[i : i + size] == phrase.split():
                found.append(value)
                i += size
                break
        else:
            i += 1
    return found


def parse_rating(raw: str | None) -> int | None:
    """A rating 1-5 read from a reply, or None when it has none or is ambiguous."""
    folded = fold(str(raw or "").replace("/", " tren "))
    folded = re.sub(r"\b(?:tren|out of) 5\b", " ", folded)  # "4/5", "4 tren 5": out of five
    words = folded.split()
    if not words or len(words) > 12:
        return None
    digits = [w for w in words if w.isdigit()]
    if digits:
        values = set(digits)
        if len(values) == 1 and values <= {"1", "2", "3", "4", "5"}:
            return int(digits[0])
        return None  # "0", "10", "3 4", a phone number: not a rating
    rest = [w for w in words if w not in _FILLER]
    if len(rest) == 1 and rest[0] in _NUMBER_WORDS:
        return _NUMBER_WORDS[rest[0]]
    found = set(_phrase_ratings(words))
    return found.pop() if len(found) == 1 else None


def parse_yes_no(raw: str | None) -> int | None:
    """1 for yes, 0 for no (co/khong, yes/no, with or without diacritics), None otherwise."""
    folded = fold(raw)
    if folded in _YES:
        return 1
    if folded in _NO:
        return 0
    words = folded.split()
    if not words or len(words) > 8:
        return None
    negative = {"khong", "ko", "k", "kg", "khg", "no", "chua", "hong", "none"}
    has_no = any(w in negative for w in words)
    # "co" right after a negation is part of it ("khong co" = there was none)
    has_yes = any(
        w in {"co", "yes", "bi", "roi"} and not (i and words[i - 1] in negative)
        for i, w in enumerate(words)
    )
    if has_no and not has_yes:
        return 0
    if has_yes and not has_no:
        return 1
    return None


def free_text(raw: str | None) -> str | None:
    """A reply worth keeping as the comment (it has words), trimmed and capped, or None."""
    value = unicodedata.normalize("NFC", str(raw or "")).replace("\x00", "").strip()
    if sum(ch.isalpha() for ch in value) < 2:
        return None  # "?", "..", a lone letter: nothing said
    return value[:MAX_COMMENT]


def parse_comment(raw: str | None) -> tuple[bool, str | None]:
    """(understood, comment): a skip ("khong", "no") is (True, None); blank is (False, None)."""
    if raw is None:
        return False, None
    value = unicodedata.normalize("NFC", str(raw)).replace("\x00", "").strip()
    if not value:
        return False, None
    if fold(value) in _NO | {"khong co gi", "khong gop y", "ko co gi", "no comment", "nothing"}:
        return True, None
    return True, value[:MAX_COMMENT]
