"""The reply parser: forgiving with what citizens type, never raising, never inventing a rating."""

from __future__ import annotations

import unicodedata

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from sms_gateway.conversation import SmsQuestion, advance
from sms_gateway.replies import Keyword, fold, keyword, parse_comment, parse_rating, parse_yes_no
from survey_app.models import ConversationStatus, QuestionKind


@pytest.mark.parametrize(
    "reply, rating",
    [
        ("5", 5),
        (" 5 ", 5),
        ("5.", 5),
        ("5 sao", 5),
        ("5sao", 5),
        ("5*", 5),
        ("５", 5),
        ("Tôi chấm 4 điểm", 4),
        ("4/5", 4),
        ("5/5", 5),
        ("4 tren 5", 4),
        ("3!!!", 3),
        ("1", 1),
        ("nam", 5),
        ("Năm", 5),
        ("năm sao", 5),
        ("bốn", 4),
        ("bon", 4),
        ("ba", 3),
        ("hai", 2),
        ("một", 1),
        ("mot sao", 1),
        ("five", 5),
        ("rat hai long", 5),
        ("Rất hài lòng!", 5),
        ("RAT HAI LONG", 5),
        ("hài lòng", 4),
        ("hai long", 4),
        ("binh thuong", 3),
        ("bình thường", 3),
        ("khong hai long", 2),
        ("không hài lòng", 2),
        ("rat khong hai long", 1),
        ("Rất không hài lòng", 1),
        ("very satisfied", 5),
        ("tuyệt vời", 5),
        ("", None),
        ("   ", None),
        ("0", None),
        ("6", None),
        ("10", None),
        ("45", None),
        ("3 4", None),
        ("0912345678", None),
        ("nam 2024", None),
        ("hello", None),
        ("?", None),
        ("co", None),
        ("khong", None),
        ("hai long nhung khong hai long", None),
    ],
)
def test_ratings(reply, rating):
    assert parse_rating(reply) == rating


@pytest.mark.parametrize(
    "reply, value",
    [
        ("co", 1),
        ("Có", 1),
        ("CÓ.", 1),
        ("co a", 1),
        ("yes", 1),
        ("y", 1),
        ("có bị", 1),
        ("khong", 0),
        ("Không", 0),
        ("ko", 0),
        ("k", 0),
        ("không có", 0),
        ("khong co", 0),
        ("no", 0),
        ("NO!", 0),
        ("chưa", 0),
        ("không bị", 0),
        ("co khong", None),
        ("5", None),
        ("", None),
        ("maybe", None),
    ],
)
def test_yes_no(reply, value):
    assert parse_yes_no(reply) == value


@pytest.mark.parametrize(
    "reply, word",
    [
        ("STOP", Keyword.STOP),
        ("stop", Keyword.STOP),
        ("Hủy", Keyword.STOP),
        ("HUY", Keyword.STOP),
        ("Huỷ.", Keyword.STOP),
        ("TU CHOI", Keyword.STOP),
        ("Từ chối", Keyword.STOP),
        ("START", Keyword.START),
        ("DK", Keyword.START),
        ("ĐK", Keyword.START),
        ("dk.", Keyword.START),
        ("Đăng ký", Keyword.START),
        ("BAT DAU", Keyword.START),
        ("bắt đầu", Keyword.START),
        ("HELP", Keyword.HELP),
        ("HD", Keyword.HELP),
        ("hướng dẫn", Keyword.HELP),
        ("huy ho so giup toi", None),
        ("5", None),
        ("dung", None),
    ],
)
def test_keywords(reply, word):
    assert keyword(reply) == word


def test_comments():
    assert parse_comment("Cán bộ nhiệt tình") == (True, "Cán bộ nhiệt tình")
    assert parse_comment("không") == (True, None)
    assert parse_comment("  ") == (False, None)
    assert parse_comment("x" * 5000)[1] == "x" * 1000


def test_fold():
    assert fold("  Rất   HÀI-lòng!! 5sao ") == "rat hai long 5 sao"


@settings(max_examples=500)
@given(st.text())
def test_parsers_never_raise(reply):
    parse_rating(reply)
    parse_yes_no(reply)
    parse_comment(reply)
    keyword(reply)
    questions = [
        SmsQuestion("overall", QuestionKind.LIKERT5),
        SmsQuestion("extra_payment", QuestionKind.YES_NO),
        SmsQuestion("comment", QuestionKind.TEXT),
    ]
    with Flask(__name__).app_context():  # texts read the (here empty) configuration
        for step in range(4):
            for retries in (0, 1):
                turn = advance(questions, step, retries, reply, "vi")
                assert turn.reply and isinstance(turn.status, ConversationStatus)


#: Words that carry no rating: filler, other numbers' words, unrelated Vietnamese and English.
NOISE = [
    "xin",
    "chao",
    "cam",
    "on",
    "ban",
    "ho",
    "so",
    "cua",
    "toi",
    "da",
    "nhan",
    "duoc",
    "ket",
    "qua",
    "hom",
    "nay",
    "thanks",
    "the",
    "office",
    "ok",
    "sau",
    "bay",
    "chin",
    "muoi",
    "khong",
    "co",
    "phong",
    "can",
    "bo",
    "nhanh",
    "cham",
    "long",
]
#: Texts with no digit 1-5, even after compatibility folding (① and ⁵ count as digits: forgiving).
DIGIT_FREE = st.text(alphabet=st.characters(blacklist_categories=("Nd",))).filter(
    lambda t: not set(unicodedata.normalize("NFKC", t)) & set("12345")
)


@settings(max_examples=500)
@given(
    st.lists(st.sampled_from(NOISE), max_size=8),
    st.lists(st.sampled_from(list(" .,!?-/:;*()\n")), max_size=8),
    st.lists(st.sampled_from(["0", "6", "7", "8", "9", "10", "2024", "0912345678"]), max_size=3),
)
def test_no_rating_is_read_from_a_reply_without_one(words, marks, numbers):
    parts = words + marks + numbers
    reply = " ".join(parts)
    assert parse_rating(reply) is None


@settings(max_examples=300)
@given(st.integers(1, 5), st.lists(st.sampled_from(NOISE), max_size=5))
def test_a_lone_digit_is_read_among_words(rating, words):
    reply = " ".join([*words[:2], str(rating), *words[2:]])
    assert parse_rating(reply) == rating


@given(DIGIT_FREE)
def test_text_without_digits_or_rating_words_has_no_rating(reply):
    folded = fold(reply).split()
    vocabulary = {
        "mot",
        "hai",
        "ba",
        "bon",
        "tu",
        "nam",
        "one",
        "two",
        "three",
        "four",
        "five",
        "long",
        "te",
        "tot",
        "binh",
        "thuong",
        "duoc",
        "satisfied",
        "dissatisfied",
        "unsatisfied",
        "neutral",
        "average",
        "good",
        "excellent",
        "tuyet",
        "voi",
        "on",
        "trung",
        "tam",
    }
    if not vocabulary & set(folded):
        assert parse_rating(reply) is None


def test_opt_in_words_cannot_be_read_as_an_answer():
    from sms_gateway.replies import _KEYWORDS

    for word in _KEYWORDS[Keyword.START] | _KEYWORDS[Keyword.STOP] | _KEYWORDS[Keyword.HELP]:
        assert parse_rating(word) is None, word
        assert parse_yes_no(word) is None, word
        assert parse_rating(word.upper()) is None and parse_yes_no(word.upper()) is None


def test_the_stop_text_names_an_opt_in_word(app):
    from sms_gateway.texts import text

    for language in ("vi", "en"):
        said = text("stop", language)
        assert any(keyword(w) == Keyword.START for w in said.replace(".", " ").split()), said
    assert "DK" in text("stop", "vi")


def test_a_misunderstood_reply_moves_on_and_keeps_its_words():
    questions = [
        SmsQuestion("overall", QuestionKind.LIKERT5),
        SmsQuestion("extra_payment", QuestionKind.YES_NO),
    ]
    with Flask(__name__).app_context():
        first = advance(questions, 0, 0, "Cán bộ nhiệt tình", "vi")
        assert (first.status, first.step, first.retries) == (ConversationStatus.ACTIVE, 0, 1)
        assert first.comment == "Cán bộ nhiệt tình" and first.answer is None
        second = advance(questions, 0, 1, "  rất   nhanh ", "vi")
        assert (second.status, second.step, second.retries) == (ConversationStatus.ACTIVE, 1, 0)
        assert second.comment == "rất   nhanh" and "CO hoac KHONG" in second.reply
        last = advance(questions, 1, 1, "???", "vi")
        assert (last.status, last.step, last.comment) == (ConversationStatus.COMPLETED, 2, None)
