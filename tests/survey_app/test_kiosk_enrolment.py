"""Enrolling a kiosk: the officials' page and the CLI make a pairing code (and its signed link),
the tablet pairs once with it and holds a credential, revocation refuses it; who may do what;
every enrolment, pairing and revocation in the audit trail."""

import re
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from survey_app.models import AuditEvent, Kiosk, KioskStatus, OfficeKind, RankingGroup, utcnow

from .kiosks import csrf_of, enrolled, tablet
from .scoping import sign_in


@pytest.fixture
def offices(make_office, make_counter, questionnaire):
    """Province office A with commune B under it, and office C elsewhere; a counter each."""
    a = make_office("A", "Sở A")
    b = make_office("B", "Xã B", parent=a, kind=OfficeKind.COMMUNE, group=RankingGroup.COMMUNES)
    c = make_office("C", "Sở C")
    for office in (a, b, c):
        make_counter(office, code="Q1", name=f"Quầy 1 {office.code}")
    return {"A": a, "B": b, "C": c}


def _enrol(client, target, name=""):
    page = client.get("/kiosks/")
    assert page.status_code == 200
    return client.post(
        "/kiosks/",
        data={"csrf_token": csrf_of(page.get_data(as_text=True)), "target": target, "name": name},
    )


def _shown_code(page) -> str | None:
    found = re.search(r'class="pairing-code">([A-Z0-9-]+)<', page.get_data(as_text=True))
    return found.group(1) if found else None


def _pair(client, code):
    page = client.get("/k/pair")
    return client.post(
        "/k/pair", data={"csrf_token": csrf_of(page.get_data(as_text=True)), "code": code}
    )


def _audit(db, action):
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def test_an_admin_enrols_a_tablet_that_pairs_once_with_the_code(app, db, client, offices):
    admin = sign_in(db, client, "admin")
    counter = offices["A"].counters[0]
    answer = _enrol(client, f"c{counter.id}", name="Máy quầy 1")
    assert answer.status_code == 303
    kiosk = db.session.scalar(select(Kiosk))
    assert (kiosk.office, kiosk.counter, kiosk.name) == (offices["A"], counter, "Máy quầy 1")
    assert kiosk.status == KioskStatus.PENDING and answer.location.endswith(f"/kiosks/{kiosk.code}")
    detail = client.get(answer.location)
    code = _shown_code(detail)
    assert re.fullmatch(r"[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}", code)
    assert '<svg class="qr"' in detail.get_data(as_text=True)  # the signed link, to scan
    assert _shown_code(client.get(answer.location)) is None  # shown once
    assert kiosk.pairing_hash and code.replace("-", "") not in kiosk.pairing_hash  # only a hash

    pad = app.test_client()
    assert pad.get("/k/").status_code == 303  # not enrolled yet: to the pairing page
    paired = _pair(pad, f" {code.lower().replace('-', ' ')} ")  # as typed on a tablet
    assert paired.status_code == 303 and paired.location.endswith("/k/?lang=vi")
    cookie = paired.headers["Set-Cookie"]
    assert "mscore_kiosk=" in cookie and "HttpOnly" in cookie and "Path=/k/" in cookie
    assert "SameSite=Lax" in cookie
    screen = pad.get("/k/?lang=vi")
    assert screen.status_code == 200
    assert "Sở A" in screen.get_data(as_text=True) and "Quầy 1 A" in screen.get_data(as_text=True)
    db.session.refresh(kiosk)
    assert kiosk.status == KioskStatus.ACTIVE and kiosk.pairing_hash is None
    assert _pair(app.test_client(), code).status_code == 400  # one use

    [enrolment] = _audit(db, "kiosk.enrol")
    assert enrolment.actor == f"user:{admin.id}" and enrolment.target_id == kiosk.code
    assert enrolment.after == {"office": "A", "counter": "Q1", "name": "Máy quầy 1"}
    [pairing] = _audit(db, "kiosk.pair")
    assert pairing.actor == f"kiosk:{kiosk.code}" and pairing.after == {"status": "active"}


def test_the_signed_link_asks_before_it_pairs(app, db, offices):
    from survey_app.services.kiosks import enrol

    pairing = enrol(offices["B"], None, "", "test")
    db.session.commit()
    path = pairing.url.removeprefix(app.config["PUBLIC_BASE_URL"])
    pad = app.test_client()
    confirm = pad.get(path)  # a link previewer would stop here: nothing is used up
    assert confirm.status_code == 200 and "Xã B" in confirm.get_data(as_text=True)
    assert db.session.get(Kiosk, pairing.kiosk.id).status == KioskStatus.PENDING
    paired = pad.post(path, data={"csrf_token": csrf_of(confirm.get_data(as_text=True))})
    assert paired.status_code == 303 and pad.get("/k/").status_code == 200
    assert app.test_client().get(path).status_code == 404  # used
    assert app.test_client().get(path[:-3] + "abc").status_code == 404  # altered


def test_a_pairing_code_and_its_link_expire(app, db, offices):
    from survey_app.services.kiosks import enrol

    with time_machine.travel(utcnow(), tick=False) as traveller:
        pairing = enrol(offices["A"], None, "", "test")
        db.session.commit()
        traveller.shift(timedelta(minutes=app.config["KIOSK_PAIRING_MINUTES"], seconds=1))
        assert _pair(app.test_client(), pairing.code).status_code == 400
        path = pairing.url.removeprefix(app.config["PUBLIC_BASE_URL"])
        assert app.test_client().get(path).status_code == 404
    assert db.session.get(Kiosk, pairing.kiosk.id).status == KioskStatus.PENDING


def test_an_office_manager_enrols_only_in_their_offices(app, db, client, offices, make_office):
    sign_in(db, client, "office_manager", offices["A"])
    page = client.get("/kiosks/").get_data(as_text=True)
    own, theirs = offices["B"].counters[0], offices["C"].counters[0]
    assert f'value="c{own.id}"' in page and f'value="c{theirs.id}"' not in page
    assert _enrol(client, f"c{own.id}").status_code == 303  # an office under theirs
    refused = _enrol(client, f"c{theirs.id}")
    assert refused.status_code == 400 and "Lỗi:" in refused.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Kiosk)) == 1
    other, _ = enrolled(db, offices["C"])
    assert client.get(f"/kiosks/{other.code}").status_code == 403
    assert "Sở C" not in client.get("/kiosks/").get_data(as_text=True)  # not even listed
    csrf = csrf_of(client.get("/kiosks/").get_data(as_text=True))
    answer = client.post(f"/kiosks/{other.code}/revoke", data={"csrf_token": csrf})
    assert answer.status_code == 403
    assert db.session.get(Kiosk, other.id).status == KioskStatus.ACTIVE


@pytest.mark.parametrize("role", ["analyst", "anonymous", "manager_without_office", "disabled"])
def test_others_are_refused(app, db, client, offices, role):
    if role == "analyst":
        sign_in(db, client, "analyst")
    elif role == "manager_without_office":
        sign_in(db, client, "office_manager")
    elif role == "disabled":
        sign_in(db, client, "admin", enabled=False)
    kiosk, _ = enrolled(db, offices["A"])
    stranger = role in ("anonymous", "disabled")  # not signed in: 401, or to the sign-in page
    target = f"c{offices['A'].counters[0].id}"
    for answer in (
        client.get("/kiosks/"),
        client.get(f"/kiosks/{kiosk.code}"),
        client.post("/kiosks/", data={"target": target}),
        client.post(f"/kiosks/{kiosk.code}/revoke"),
    ):
        if stranger:
            assert answer.status_code == 401 or (
                answer.status_code == 302 and "/login" in answer.location
            ), answer.status_code
        else:
            assert answer.status_code == 403
    assert db.session.scalar(select(func.count()).select_from(Kiosk)) == 1


def test_the_enrolment_form_needs_its_csrf_token(db, client, offices):
    sign_in(db, client, "admin")
    answer = client.post("/kiosks/", data={"target": f"o{offices['A'].id}"})
    assert answer.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Kiosk)) == 0


def test_revoking_refuses_the_tablet_from_then_on(app, db, client, offices):
    kiosk, credential = enrolled(db, offices["A"], offices["A"].counters[0])
    pad = tablet(app, credential)
    assert pad.get("/k/").status_code == 200
    admin = sign_in(db, client, "admin")
    csrf = csrf_of(client.get(f"/kiosks/{kiosk.code}").get_data(as_text=True))
    assert client.post(f"/kiosks/{kiosk.code}/revoke", data={"csrf_token": csrf}).status_code == 303
    page = pad.get("/k/")
    assert page.status_code == 403 and "thu hồi" in page.get_data(as_text=True)
    assert pad.get("/k/api/tokens").json["code"] == "kiosk_revoked"
    [event] = _audit(db, "kiosk.revoke")
    assert event.actor == f"user:{admin.id}" and event.before == {"status": "active"}
    assert "Thu hồi ki-ốt này" not in client.get(f"/kiosks/{kiosk.code}").get_data(as_text=True)
    csrf = csrf_of(client.get("/kiosks/").get_data(as_text=True))
    assert (
        client.post(f"/kiosks/{kiosk.code}/pairing", data={"csrf_token": csrf}).status_code == 409
    )


def test_a_new_code_moves_the_kiosk_to_a_new_tablet(app, db, client, offices):
    kiosk, credential = enrolled(db, offices["A"])
    old = tablet(app, credential)
    sign_in(db, client, "office_manager", offices["A"])
    csrf = csrf_of(client.get(f"/kiosks/{kiosk.code}").get_data(as_text=True))
    answer = client.post(f"/kiosks/{kiosk.code}/pairing", data={"csrf_token": csrf})
    code = _shown_code(client.get(answer.location))
    assert old.get("/k/").status_code == 200  # until the new tablet pairs
    new = app.test_client()
    assert _pair(new, code).status_code == 303
    assert new.get("/k/").status_code == 200
    assert old.get("/k/").status_code == 303  # to the pairing page: its credential is gone
    assert [e.after.keys() for e in _audit(db, "kiosk.pairing_code")] == [{"expires_at"}]


def test_wrong_codes_are_limited_per_address(app, db, offices):
    from survey_app.services.kiosks import enrol

    pad = app.test_client()
    for _ in range(10):
        assert _pair(pad, "AAAA-AAAA").status_code == 400
    assert _pair(pad, "AAAA-AAAA").status_code == 429
    pairing = enrol(offices["A"], None, "", "test")
    db.session.commit()
    assert _pair(app.test_client(), pairing.code).status_code == 429  # the same address


def test_the_cli_enrols_lists_and_revokes(app, db, runner, offices):
    result = runner.invoke(
        args=["mscore", "kiosk", "enrol", "--office", "A", "--counter", "Q1", "--by", "nam"]
    )
    assert result.exit_code == 0, result.output
    kiosk = db.session.scalar(select(Kiosk))
    code = re.search(r"pairing code: (\S+)", result.output).group(1)
    assert "/k/pair/" in result.output and kiosk.code in result.output
    assert _pair(app.test_client(), code).status_code == 303
    listed = runner.invoke(args=["mscore", "kiosk", "list"]).output
    assert kiosk.code in listed and "active" in listed and "Quầy 1 A" in listed
    revoked = runner.invoke(args=["mscore", "kiosk", "revoke", kiosk.code, "--by", "nam"])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert kiosk.code not in runner.invoke(args=["mscore", "kiosk", "list"]).output
    assert "revoked" in runner.invoke(args=["mscore", "kiosk", "list", "--all"]).output
    assert [e.actor for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))] == [
        "cli:nam",
        f"kiosk:{kiosk.code}",
        "cli:nam",
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        (["enrol", "--office", "NOPE"], "no office with code 'NOPE'"),
        (["enrol", "--office", "A", "--counter", "Q9"], "office A has no counter 'Q9'"),
        (["revoke", "zzzz"], "no kiosk with code 'zzzz'"),
        (["code", "zzzz"], "no kiosk with code 'zzzz'"),
    ],
)
def test_the_cli_names_what_is_wrong(db, runner, offices, args, message):
    result = runner.invoke(args=["mscore", "kiosk", *args])
    assert result.exit_code != 0 and message in result.output
    assert db.session.scalar(select(func.count()).select_from(Kiosk)) == 0


def test_a_closed_office_gets_no_kiosk(db, runner, offices):
    offices["C"].is_active = False
    db.session.commit()
    result = runner.invoke(args=["mscore", "kiosk", "enrol", "--office", "C"])
    assert result.exit_code != 0 and "office C is closed" in result.output
