"""Every text a citizen can receive: GSM-7, its segment count, long office names, overrides."""

from __future__ import annotations

import pytest

from sms_gateway.texts import (
    DEFAULT_TEXTS,
    invitation_text,
    question_text,
    segments,
    text,
    to_gsm_ascii,
)

LONG_OFFICE = (
    "Bộ phận Tiếp nhận và Trả kết quả thủ tục hành chính, Ủy ban nhân dân huyện "
    "Đakrông, tỉnh Quảng Trị, Trung tâm Phục vụ hành chính công cấp huyện"
)


@pytest.mark.parametrize(
    "text_, expected",
    [
        ("a" * 160, ("gsm7", 1)),
        ("a" * 161, ("gsm7", 2)),
        ("a" * 306, ("gsm7", 2)),
        ("a" * 307, ("gsm7", 3)),
        ("€" * 80, ("gsm7", 1)),
        ("€" * 81, ("gsm7", 2)),
        ("Rất hài lòng", ("ucs2", 1)),
        ("ư" * 70, ("ucs2", 1)),
        ("ư" * 71, ("ucs2", 2)),
        ("ư" * 134, ("ucs2", 2)),
        ("😀" * 35, ("ucs2", 1)),
        ("😀" * 36, ("ucs2", 2)),
        ("", ("gsm7", 1)),
    ],
)
def test_segments(text_, expected):
    assert segments(text_) == expected


def test_unaccented_vietnamese():
    assert to_gsm_ascii("Sở Tư pháp Đắk Lắk, Ủy ban") == "So Tu phap Dak Lak, Uy ban"


@pytest.mark.parametrize("language", ["vi", "en"])
def test_every_text_is_gsm7_and_short(app, language):
    for key, template in DEFAULT_TEXTS[language].items():
        body = template.format(office="X", dossier="Y", question=question_text("overall", language))
        encoding, count = segments(body)
        assert encoding == "gsm7", (key, body)
        assert count <= (2 if key in ("invitation", "retry") else 1), (key, len(body))


@pytest.mark.parametrize("language", ["vi", "en"])
@pytest.mark.parametrize("office", ["Sở Tư pháp", LONG_OFFICE, "Đ" * 255])
def test_invitation_fits_two_segments_with_long_office_names(app, language, office):
    code = "000.00.31.H50-250101-000123"
    body = invitation_text(office, code, language)
    assert segments(body) == ("gsm7", 2) or segments(body) == ("gsm7", 1)
    assert code in body and "1-5" in body
    assert ("HUY" if language == "vi" else "STOP") in body
    assert to_gsm_ascii(office)[:8] in body


def test_short_office_name_is_kept_whole(app):
    body = invitation_text("Sở Tư pháp", "HS-1")
    assert body.startswith("So Tu phap: ho so HS-1 da co ket qua.")


def test_templates_are_configurable(app):
    app.config["SMS_TEXTS"] = {"vi": {"thanks": "Cam on nhieu!"}}
    assert text("thanks") == "Cam on nhieu!"
    assert text("thanks", "en") == DEFAULT_TEXTS["en"]["thanks"]
    assert text("help", "fr") == DEFAULT_TEXTS["vi"]["help"]  # unknown language: Vietnamese


def test_templates_from_a_file(app, tmp_path):
    path = tmp_path / "texts.json"
    path.write_text('{"en": {"stop": "Bye."}}', "utf-8")
    app.config["SMS_TEXTS_FILE"] = str(path)
    assert text("stop", "en") == "Bye."


def test_question_without_template_uses_its_questionnaire_text(app):
    assert question_text("access_signs", "vi", "Có biển hiệu rõ ràng") == "Co bien hieu ro rang"
    with pytest.raises(KeyError):
        question_text("access_signs", "vi")
