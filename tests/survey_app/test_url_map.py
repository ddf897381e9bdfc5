"""Issue 16, "done when": every route of the URL map, every method, tried by every kind of
caller; only the allowed ones succeed, the others are refused, and nothing answers 500.

Every endpoint and method must be declared in ACCESS below: a route added without a declared
access rule fails this test, with a message saying where to declare it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from .scoping import MARCH, add_responses, bearer, sign_in

# --- who calls ---------------------------------------------------------------------------
ANONYMOUS = "anonymous"
TOKENS = ("token:dossiers:write", "token:reports:read", "token:responses:read")
OFFICE_TOKEN = "token:office"  # every scope, limited to office A's subtree
ROLES = ("session:admin", "session:analyst", "session:office_manager")
DISABLED = "session:disabled"  # an analyst whose account was disabled after signing in
KIOSK = "kiosk"  # a tablet paired as a kiosk of office A (its credential cookie)
CALLERS = (ANONYMOUS, *TOKENS, OFFICE_TOKEN, *ROLES, DISABLED, KIOSK)
SESSIONS = frozenset(ROLES)


def tokens_with(scope: str) -> frozenset[str]:
    """The token callers that carry ``scope``."""
    return frozenset({f"token:{scope}", OFFICE_TOKEN})


EVERYONE = frozenset(CALLERS)
NOBODY = frozenset()


@dataclass(frozen=True)
class Rule:
    """Who may call an endpoint with a method, and how to call it.

    ``allowed`` get a 2xx or 3xx (``ok`` widens that where a valid call is not possible from
    here, e.g. a form post without its CSRF token); everyone else gets 401 or 403 (``refused``).
    """

    allowed: frozenset
    path: str
    body: dict | None = None
    ok: tuple = (200, 201, 204, 301, 302, 303, 304, 308)
    refused: tuple = (401, 403)


READ_REPORTS = tokens_with("reports:read") | SESSIONS
READ_RESPONSES = tokens_with("responses:read") | SESSIONS
READ_EITHER = tokens_with("reports:read") | tokens_with("responses:read") | SESSIONS
PAGE = "period=custom&from=2025-03-01&to=2025-03-31"  # the officials' pages' period filter
SIGN_IN = (302, 401, 403)  # a browser without a session is sent to /login
DOSSIER = {"office_code": "A", "code": "HS-URL-1", "returned_at": "2025-03-10T09:00:00+07:00"}
KIOSK_ADMINS = frozenset({"session:admin", "session:office_manager"})
KIOSKS = frozenset({KIOSK})

#: (endpoint, method) → who may call it. HEAD follows GET; OPTIONS is answered for everyone.
ACCESS: dict[tuple[str, str], Rule] = {
    ("static", "GET"): Rule(EVERYONE, "/static/mscore.css"),
    ("switch_language", "GET"): Rule(EVERYONE, "/lang/en?next=/s/A"),
    ("survey.survey_form", "GET"): Rule(EVERYONE, "/s/A"),
    # without the form's CSRF token a post is a friendly 400 for everyone: never 401/403/500
    ("survey.survey_form", "POST"): Rule(EVERYONE, "/s/A", body={}, ok=(400,)),
    ("survey.thanks", "GET"): Rule(EVERYONE, "/s/A/thanks"),
    ("qr.poster_view", "GET"): Rule(EVERYONE, "/qr/A.svg"),
    ("api.post_dossiers", "POST"): Rule(tokens_with("dossiers:write"), "/api/v1/dossiers", DOSSIER),
    ("api.satisfaction", "GET"): Rule(
        READ_REPORTS, f"/api/v1/reports/satisfaction?{MARCH}&compare=previous&include=breakdowns"
    ),
    ("api.list_offices", "GET"): Rule(READ_REPORTS, "/api/v1/offices"),
    ("api.current", "GET"): Rule(READ_EITHER, "/api/v1/questionnaires/current"),
    ("api.list_responses", "GET"): Rule(READ_RESPONSES, "/api/v1/responses?limit=5"),
    ("reports.satisfaction_download", "GET"): Rule(
        READ_REPORTS, f"/reports/satisfaction.csv?{MARCH}&view=groups"
    ),
    ("api_docs.openapi_json", "GET"): Rule(EVERYONE, "/api/openapi.json"),
    ("api_docs.docs_page", "GET"): Rule(EVERYONE, "/api/docs"),
    # Twilio's webhooks: nobody without a valid X-Twilio-Signature
    ("sms.inbound", "POST"): Rule(NOBODY, "/sms/inbound", body={"From": "+84912345678"}),
    ("sms.status", "POST"): Rule(NOBODY, "/sms/status", body={"MessageSid": "SM1"}),
    # a receipt's rating link (made in `world`): the form bound to that dossier, and its QR
    ("survey.rating_link", "GET"): Rule(EVERYONE, "/r/{rating}"),
    ("survey.rating_link", "POST"): Rule(EVERYONE, "/r/{rating}", body={}, ok=(400,)),
    ("survey.rating_link_qr", "GET"): Rule(EVERYONE, "/r/{rating}.png"),
    ("survey.stop_texts", "GET"): Rule(EVERYONE, "/r/{rating}/stop"),
    ("survey.stop_texts", "POST"): Rule(EVERYONE, "/r/{rating}/stop", body={}, ok=(400,)),
    ("health.healthz", "GET"): Rule(EVERYONE, "/healthz"),
    ("health.readyz", "GET"): Rule(EVERYONE, "/readyz"),
    # the officials' pages: sessions only; anyone else is sent to sign in (or refused)
    ("auth.login", "GET"): Rule(EVERYONE, "/login"),
    ("auth.login", "POST"): Rule(EVERYONE, "/login", body={}, ok=(400,)),  # no CSRF token
    ("auth.logout", "GET"): Rule(SESSIONS, "/logout", refused=SIGN_IN),
    ("auth.logout", "POST"): Rule(EVERYONE, "/logout", body={}, ok=(400,)),  # no CSRF token
    ("dashboard.overview", "GET"): Rule(SESSIONS, f"/dashboard?{PAGE}", refused=SIGN_IN),
    ("dashboard.page", "GET"): Rule(SESSIONS, f"/dashboard/funnel?{PAGE}", refused=SIGN_IN),
    ("dashboard.download", "GET"): Rule(
        SESSIONS, f"/dashboard/overview/offices.csv?{PAGE}", refused=SIGN_IN
    ),
    ("offices.office_page", "GET"): Rule(SESSIONS, f"/offices/A?{PAGE}", refused=SIGN_IN),
    ("offices.office_download", "GET"): Rule(
        SESSIONS, f"/offices/A/elements.csv?{PAGE}", refused=SIGN_IN
    ),
    ("offices.office_report", "GET"): Rule(
        SESSIONS, f"/offices/A/report.pdf?{PAGE}", refused=SIGN_IN
    ),
    # Prometheus only, with METRICS_TOKEN; unset (as here) the endpoint is not there at all
    ("metrics.scrape", "GET"): Rule(NOBODY, "/metrics", refused=(401, 403, 404)),
    # The kiosk's tablet: its screen for its credential only (anyone else: to the pairing page);
    # without a submission token its post is a friendly 400
    ("kiosk.screen", "GET"): Rule(KIOSKS, "/k/", ok=(200,), refused=(303,)),
    ("kiosk.screen", "POST"): Rule(KIOSKS, "/k/", body={}, ok=(400,), refused=(303,)),
    ("kiosk.thanks", "GET"): Rule(KIOSKS, "/k/thanks", ok=(200,), refused=(303,)),
    ("kiosk.tokens", "GET"): Rule(KIOSKS, "/k/api/tokens?count=1"),
    ("kiosk.ratings", "POST"): Rule(KIOSKS, "/k/api/ratings", body={"ratings": []}),
    ("kiosk.service_worker", "GET"): Rule(EVERYONE, "/k/sw.js"),
    ("kiosk.manifest", "GET"): Rule(EVERYONE, "/k/manifest.webmanifest"),
    # pairing: the code (or the signed link, made in `world`) is the secret; posts need CSRF
    ("kiosk.pair_with_code", "GET"): Rule(EVERYONE, "/k/pair"),
    ("kiosk.pair_with_code", "POST"): Rule(EVERYONE, "/k/pair", body={}, ok=(400,)),
    ("kiosk.pair_with_link", "GET"): Rule(EVERYONE, "/k/pair/{pairing}"),
    ("kiosk.pair_with_link", "POST"): Rule(EVERYONE, "/k/pair/{pairing}", body={}, ok=(400,)),
    # officials enrol kiosks: admins, and managers for their offices (kiosk {kiosk} is A's);
    # a form posted without its CSRF token is a 400 for them, after the role check
    ("kiosk_admin.index", "GET"): Rule(KIOSK_ADMINS, "/kiosks/", refused=SIGN_IN),
    ("kiosk_admin.index", "POST"): Rule(
        KIOSK_ADMINS, "/kiosks/", body={}, ok=(400,), refused=SIGN_IN
    ),
    ("kiosk_admin.detail", "GET"): Rule(KIOSK_ADMINS, "/kiosks/{kiosk}", refused=SIGN_IN),
    ("kiosk_admin.new_pairing", "POST"): Rule(
        KIOSK_ADMINS, "/kiosks/{kiosk}/pairing", body={}, ok=(400,), refused=SIGN_IN
    ),
    ("kiosk_admin.revoke_kiosk", "POST"): Rule(
        KIOSK_ADMINS, "/kiosks/{kiosk}/revoke", body={}, ok=(400,), refused=SIGN_IN
    ),
}


#: Known findings tolerated until they are fixed: (method, path) → status. None now.
KNOWN: dict[tuple[str, str], int] = {}
#: Values for the paths' placeholders, filled by the `world` fixture.
PATHS: dict[str, str] = {}


def _declared(app) -> list[tuple[str, str]]:
    """Every (endpoint, method) of the URL map, failing on any without an access rule."""
    missing, found = [], []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            key = (rule.endpoint, method)
            (found if key in ACCESS else missing).append(key)
    assert not missing, (
        f"routes without a declared access rule: {missing}. Declare who may call each in "
        "ACCESS in tests/survey_app/test_url_map.py (and make the route enforce it)."
    )
    return sorted(set(found))


@pytest.fixture
def world(app, db, make_office, make_dossier, questionnaire):
    """Offices A (with child B), C, D with responses; a client per caller."""
    from survey_app.models import OfficeKind, RankingGroup

    offices = {"A": make_office("A", "Sở A")}
    offices["B"] = make_office(
        "B", "Xã B", parent=offices["A"], kind=OfficeKind.COMMUNE, group=RankingGroup.COMMUNES
    )
    offices["C"] = make_office("C", "Sở C")
    offices["D"] = make_office("D", "Sở D")
    for i, office in enumerate(offices.values()):
        add_responses(db, office, questionnaire, 12, 0.7, seed=i, comments=1)
    from datetime import UTC, datetime

    from survey_app.services.rating_links import RECEIPT, make_token

    dossier = make_dossier(offices["A"], code="HS-URL-0", returned_at=datetime.now(UTC))
    PATHS["rating"] = make_token(dossier.id, RECEIPT)
    from survey_app.services.kiosks import enrol

    from .kiosks import enrolled, tablet

    kiosk, credential = enrolled(db, offices["A"])
    PATHS["kiosk"] = kiosk.code
    pending = enrol(offices["A"], None, "", "test")
    db.session.commit()
    PATHS["pairing"] = pending.url.rsplit("/", 1)[1]
    clients = {}
    for caller in CALLERS:
        client = tablet(app, credential) if caller == KIOSK else app.test_client()
        headers = {}
        if caller in TOKENS:
            headers = bearer(db, caller.split(":", 1)[1])
        elif caller == OFFICE_TOKEN:
            headers = bearer(
                db, "dossiers:write", "reports:read", "responses:read", office=offices["A"]
            )
        elif caller == DISABLED:
            sign_in(db, client, "analyst", enabled=False)
        elif caller.startswith("session:"):
            role = caller.split(":", 1)[1]
            sign_in(db, client, role, offices["A"] if role == "office_manager" else None)
        clients[caller] = (client, headers)
    return clients


def _call(client, headers, method, rule: Rule):
    path = rule.path.format(**PATHS) if "{" in rule.path else rule.path
    if rule.body is None:
        return client.open(path, method=method, headers=headers)
    if path.startswith(("/api/", "/k/api/")):
        return client.open(path, method=method, headers=headers, json=rule.body)
    return client.open(path, method=method, headers=headers, data=rule.body)


def test_every_route_answers_every_caller_as_declared(app, world):
    failures = []
    for endpoint, method in _declared(app):
        rule = ACCESS[(endpoint, method)]
        methods = [method, "OPTIONS"] + (["HEAD"] if method == "GET" else [])
        for caller, (client, headers) in world.items():
            for verb in methods:
                res = _call(client, headers, verb, rule)
                status = res.status_code
                if status >= 500:
                    failures.append(f"{verb} {rule.path} as {caller}: {status}")
                elif verb == "OPTIONS" or KNOWN.get((verb, rule.path)) == status:
                    continue  # Flask answers OPTIONS itself: the allowed methods, no data
                elif caller in rule.allowed and status not in rule.ok:
                    failures.append(f"{verb} {rule.path} as {caller}: {status}, allowed")
                elif caller not in rule.allowed and status not in rule.refused:
                    failures.append(f"{verb} {rule.path} as {caller}: {status}, not refused")
    assert not failures, "\n".join(failures)


def test_no_route_answers_500_to_bad_bodies_or_methods(app, world):
    """Every route with every method it does not declare, and every route that takes a body
    with 100,000 nested `[` as JSON: 4xx, never a 500."""
    nested = "[" * 100_000
    failures = []
    for rule in app.url_map.iter_rules():
        path = ACCESS.get((rule.endpoint, "GET"), ACCESS.get((rule.endpoint, "POST"))).path
        for caller, (client, headers) in world.items():
            for verb in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                json_headers = {**headers, "Content-Type": "application/json"}
                res = client.open(path, method=verb, headers=json_headers, data=nested)
                if res.status_code >= 500:
                    failures.append(f"{verb} {path} as {caller}: {res.status_code}")
    assert not failures, "\n".join(failures)


def test_scoped_callers_reach_no_other_office(app, db, world):
    """The office token and the office manager: another office's data is refused or absent
    on every reading route."""
    for caller in (OFFICE_TOKEN, "session:office_manager"):
        client, headers = world[caller]
        for path in (
            f"/api/v1/reports/satisfaction?{MARCH}&office=C",
            "/api/v1/responses?office=C",
            f"/reports/satisfaction.csv?{MARCH}&office=C",
        ):
            assert client.get(path, headers=headers).status_code == 403, (caller, path)
        doc = client.get(f"/api/v1/reports/satisfaction?{MARCH}", headers=headers).json
        assert {o["code"] for o in doc["offices"]} == {"A", "B"}
        page = client.get("/api/v1/responses?limit=500", headers=headers).json
        assert {r["office_code"] for r in page["responses"]} == {"A", "B"}
        offices = client.get("/api/v1/offices", headers=headers).json["offices"]
        assert {o["code"] for o in offices} == {"A", "B"}
        csv = client.get(f"/reports/satisfaction.csv?{MARCH}&view=comments", headers=headers)
        assert "C góp ý" not in csv.data.decode("utf-8-sig")
    client, headers = world[OFFICE_TOKEN]
    other = {**DOSSIER, "office_code": "C", "code": "HS-C-1"}
    assert client.post("/api/v1/dossiers", json=other, headers=headers).status_code == 403
