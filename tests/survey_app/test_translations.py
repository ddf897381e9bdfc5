"""Every string people see has a Vietnamese translation, and the compiled catalogue is current."""

import io
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "survey_app/translations/vi/LC_MESSAGES/messages.po"


def _extracted_ids() -> set[str]:
    method_map = [
        ("survey_app/**.py", "python"),
        ("sms_gateway/**.py", "python"),
        ("templates/**.html", "jinja2"),
    ]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}
    return {
        msgid if isinstance(msgid, str) else msgid[0]
        for _file, _line, msgid, _comments, _context in extract_from_dir(
            str(ROOT), method_map, keywords=keywords
        )
    }


def test_every_message_has_a_vietnamese_translation():
    catalog = read_po(PO.open("rb"))
    translated = {m.id for m in catalog if m.id and m.string}
    missing = sorted(_extracted_ids() - translated)
    assert not missing, f"run pybabel extract/update and translate: {missing}"


def test_compiled_catalogue_matches_the_po_file():
    po = {m.id: m.string for m in read_po(PO.open("rb")) if m.id}
    mo = {m.id: m.string for m in read_mo(io.BytesIO(PO.with_suffix(".mo").read_bytes())) if m.id}
    assert mo == po, "recompile: pybabel compile -d survey_app/translations"


def test_outside_a_request_texts_are_in_the_default_language(app):
    """A CLI command or a worker translates without a request (the default, Vietnamese), rather
    than failing on the request's language choice."""
    from flask_babel import gettext

    with app.app_context():
        assert app.config["BABEL_DEFAULT_LOCALE"] == "vi"
        assert (
            gettext("This office is outside what your account may see.")
            == "Đơn vị này nằm ngoài phạm vi tài khoản của bạn được xem."
        )
