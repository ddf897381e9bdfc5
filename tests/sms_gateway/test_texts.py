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
    # typographic punctuation gets its GSM-7 stand-in; anything else outside GSM-7 a space
    assert to_gsm_ascii("UBND xã A – “Một cửa”…") == 'UBND xa A - "Mot cua"...'
    assert to_gsm_ascii("HS№1✓") == "HS 1 "


#: Long but real-looking public origins of a province's survey site.
LONG_BASE_URLS = [
    "https://khaosat-hailong.dichvucong.quangtri.gov.vn",
    "https://danhgia-sipas.trungtamphucvuhanhchinhcong.thanhphohochiminh.gov.vn",
]


@pytest.mark.parametrize("language", ["vi", "en"])
def test_every_text_is_gsm7_and_short(app, language):
    link = LONG_BASE_URLS[1] + "/r/" + "A" * 22
    for key, template in DEFAULT_TEXTS[language].items():
        body = template.format(
            office="X",
            dossier="Y",
            question=question_text("overall", language),
            free=DEFAULT_TEXTS[language]["replies_free"] + " ",
            link=link,
        )
        encoding, count = segments(body)
        assert encoding == "gsm7", (key, body)
        two = ("invitation", "invitation_link", "retry", "move_on")
        assert count <= (2 if key in two else 1), (key, len(body))


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


# --- link mode: the personal link within two GSM-7 segments -------------------------------------
@pytest.mark.parametrize("base_url", LONG_BASE_URLS)
@pytest.mark.parametrize("language", ["vi", "en"])
@pytest.mark.parametrize("office", ["Sở Tư pháp", LONG_OFFICE, "Đ" * 255])
@pytest.mark.parametrize("free", [False, True])
def test_link_invitation_fits_two_segments(app, base_url, language, office, free):
    from survey_app.services.rating_links import SMS, rating_url, read_token

    app.config.update(PUBLIC_BASE_URL=base_url, SMS_TEXTS={"replies_free": free})
    code = "000.00.31.H50-250101-000123"
    link = rating_url(2**40 - 1, SMS)  # the longest token a dossier id below 2**40 gets
    body = invitation_text(office, code, language, link)
    assert segments(body) in (("gsm7", 1), ("gsm7", 2)), (len(body), body)
    assert body.endswith(" " + link)  # whole, last, and nothing glued to it
    assert read_token(body.rsplit("/r/", 1)[1]) == (2**40 - 1, SMS)
    assert code in body and to_gsm_ascii(office)[:8] in body
    assert (DEFAULT_TEXTS[language]["replies_free"] in body) == free
    assert "1-5" not in body  # nothing to reply in link mode


def test_replies_are_said_to_be_free_only_where_the_texts_file_says_so(app, tmp_path):
    assert "mien phi" not in invitation_text("So Tu phap", "HS-1")
    path = tmp_path / "texts.json"
    path.write_text('{"replies_free": true}', "utf-8")
    app.config["SMS_TEXTS_FILE"] = str(path)
    assert "Tin nhan tra loi mien phi. Nhan HUY de tu choi." in invitation_text("So", "HS-1")
    assert "Replies are free. Reply STOP" in invitation_text("So", "HS-1", "en")
    path.write_text('{"replies_free": true, "vi": {"replies_free": "Tra loi 0 dong."}}', "utf-8")
    assert "Tra loi 0 dong. Nhan HUY" in invitation_text("So", "HS-1")


# --- the texts file is checked when the app starts ------------------------------------------------
def _start(app_config, tmp_path, content: str | None, **config):
    from survey_app import create_app

    if content is not None:
        path = tmp_path / "texts.json"
        path.write_text(content, "utf-8")
        config["SMS_TEXTS_FILE"] = str(path)
    return create_app({**app_config, **config})


@pytest.mark.parametrize(
    "content, problem",
    [
        ('{"vi": {"thanks": "Cam on"}', "line 1 column 28: Expecting ',' delimiter"),
        ("[]", "the file must hold one JSON object"),
        ('{"vi": {"invitaton": "x"}}', "vi.invitaton: no such text"),
        ('{"vi": {"thanks": "Cam on {office}"}}', "vi.thanks: {office} is not a placeholder here"),
        ('{"vi": {"retry": "{question!r}"}}', "vi.retry: {question} is not a placeholder here"),
        ('{"vi": {"invitation": "{office.__class__}"}}', "{office.__class__} is not a placeholder"),
        ('{"vi": {"retry": "Xin loi {"}}', "vi.retry: Single '{' encountered"),
        ('{"vi": {"invitation_link": "Danh gia tai web"}}', "vi.invitation_link: must contain"),
        ('{"vi": {"thanks": ""}}', "vi.thanks: must be a non-empty string"),
        ('{"replies_free": "yes"}', "replies_free: must be bool"),
        ('{"vietnamese": {}}', "vietnamese: neither a setting"),
        (
            '{"vi": {"invitation_link": "{office} {dossier} Ông/Bà vui lòng đánh giá: {link}"}}',
            "vi: the invitation takes 3 ucs2 segments",
        ),
    ],
)
def test_a_texts_file_that_cannot_be_used_stops_the_start(app_config, tmp_path, content, problem):
    from survey_app.config import ConfigError

    with pytest.raises(ConfigError, match="SMS texts") as raised:
        _start(app_config, tmp_path, content, SMS_MODE="link")
    assert problem in str(raised.value)


def test_a_base_url_too_long_for_two_segments_stops_the_start(app_config, tmp_path):
    from survey_app.config import ConfigError

    long_url = "https://" + "a" * 150 + ".gov.vn"
    _start(app_config, tmp_path, None, SMS_MODE="reply", PUBLIC_BASE_URL=long_url)  # no link
    with pytest.raises(ConfigError, match="the invitation takes 3 gsm7 segments"):
        _start(app_config, tmp_path, None, SMS_MODE="link", PUBLIC_BASE_URL=long_url)


def test_sms_mode_must_be_reply_or_link(app_config, tmp_path):
    from survey_app.config import ConfigError, load_config

    assert load_config(str(tmp_path), {})["SMS_MODE"] == "link"  # Vietnam's default
    assert load_config(str(tmp_path), {"SMS_MODE": "reply"})["SMS_MODE"] == "reply"
    with pytest.raises(ConfigError, match="SMS_MODE='both': use 'reply' or 'link'"):
        _start(app_config, tmp_path, None, SMS_MODE="both")


def test_a_good_texts_file_starts(app_config, tmp_path):
    content = '{"replies_free": true, "en": {"invitation_link": "{office}: rate us at {link}"}}'
    app = _start(app_config, tmp_path, content, SMS_MODE="link")
    assert app.config["SMS_TEXTS_FILE"]


def test_templates_command_prints_what_carriers_register(app):
    from survey_app.services.rating_links import SMS, rating_url

    app.config.update(SMS_MODE="link", PUBLIC_BASE_URL=LONG_BASE_URLS[0])
    result = app.test_cli_runner().invoke(args=["sms", "templates", "--language", "vi"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:3] == [
        "SMS_MODE=link, language vi:",
        "  invitation_link (at most 2 gsm7 segments)",
        "    template: " + DEFAULT_TEXTS["vi"]["invitation_link"],
    ]
    longest = lines[3].removeprefix("    longest:  ")
    assert longest.startswith("Office name Office name")  # the office name shortened to fit
    assert longest.endswith(
        "..: ho so " + "0" * 64 + " da co ket qua. Moi Ong/Ba danh gia muc do hai long (1 phut) "
        "tai " + rating_url(2**40 - 1, SMS)
    )
    assert 300 <= len(longest) <= 306 and segments(longest) == ("gsm7", 2)
    assert "1-5" not in result.output  # nothing of the reply conversation
    app.config["SMS_MODE"] = "reply"
    result = app.test_cli_runner().invoke(args=["sms", "templates", "--language", "en"])
    assert "  q_comment (at most 1 gsm7 segments)" in result.output.splitlines()
