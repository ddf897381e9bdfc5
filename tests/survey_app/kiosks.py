"""Builders shared by the kiosk tests: an enrolled and paired tablet, and its client."""

from __future__ import annotations

import re

from survey_app.kiosk.credentials import COOKIE


def enrolled(db, office, counter=None, name="Máy tính bảng"):
    """A kiosk of ``office`` (and ``counter``) whose tablet has paired: (kiosk, credential)."""
    from survey_app.services.kiosks import enrol, pair

    pairing = enrol(office, counter, name, "test")
    credential = pair(pairing.kiosk)
    db.session.commit()
    return pairing.kiosk, credential


def tablet(app, credential):
    """A test client that holds a kiosk's credential cookie, as the paired tablet does."""
    client = app.test_client()
    client.set_cookie(COOKIE, credential, path="/k/")
    return client


def csrf_of(html: str) -> str:
    """The CSRF token of the first form of a page (Flask-WTF's or a hand-written field)."""
    return re.search(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"', html).group(1)


def tokens(client, count=5) -> list[str]:
    """Submission tokens the kiosk's tablet gets for its stock."""
    answer = client.get(f"/k/api/tokens?count={count}")
    assert answer.status_code == 200, answer.data
    return answer.json["tokens"]


def rating(token, overall="5", rated_at=None, **fields):
    """One rating of the outbox as kiosk.js sends it."""
    item = {"token": token, "language": "vi", "fields": [["q_overall", overall]]}
    item["fields"] += [[name, value] for name, value in fields.items()]
    if rated_at is not None:
        item["rated_at"] = rated_at.isoformat()
    return item
