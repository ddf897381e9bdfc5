"""Fill in a form as a browser would, from the HTML the app rendered: hidden fields as they are
(tokens included, whatever the form carries), each radio group's last choice, texts empty."""

from __future__ import annotations

from html.parser import HTMLParser


class _Inputs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.fields: list[tuple[str, str]] = []
        self.radios: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        name = attributes.get("name")
        if tag != "input" or not name:
            return
        kind = attributes.get("type", "text")
        if kind == "hidden":
            self.fields.append((name, attributes.get("value") or ""))
        elif kind == "radio":
            self.radios[name] = attributes.get("value") or ""


def form_fields(html: str, *, honeypot: str = "website") -> list[tuple[str, str]]:
    """The fields a browser would post for the first form of a page, every rating answered."""
    parser = _Inputs()
    parser.feed(html)
    fields = [(name, value) for name, value in parser.fields if name != honeypot]
    return fields + list(parser.radios.items())


def hidden_fields(html: str) -> list[tuple[str, str]]:
    """Only the hidden fields of a page (e.g. a "send again" form)."""
    parser = _Inputs()
    parser.feed(html)
    return parser.fields
