"""The set-based dossier path of PostgreSQL (#21) against the per-row one: the same dossiers, the
same invitation decisions in the same order of draws, the rollup's stale days; the CSV quick path
and streaming reader against the schema and read_csv."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from marshmallow import ValidationError
from sqlalchemy import delete, select

from survey_app.models import (
    Channel,
    Dossier,
    Invitation,
    InvitationStatus,
    OptOut,
    Response,
)

NOW = datetime.now(UTC).replace(microsecond=0)


def _events(office_codes):
    """A mixed batch: shared numbers, landlines, no consent, old returns, updates."""
    rng = random.Random(7)
    events = []
    for i in range(240):
        event = {
            "office_code": office_codes[i % len(office_codes)],
            "code": f"HS-{i:04d}",
            "service_code": rng.choice(["SV1", "SV1", "NOPE", None]),
            "phone": rng.choice(
                ["0912000001", "0912000002", "0912000003", "02433334444", "123", None]
                + [f"0987{i:06d}"] * 4
            ),
            "received_at": NOW - timedelta(days=10),
            "returned_at": rng.choice(
                [None, NOW - timedelta(hours=rng.randint(1, 48)), NOW - timedelta(days=30)]
            ),
            "contact_consent": rng.choice([True, True, True, False, None]),
            "language": rng.choice([None, "en"]),
        }
        events.append({k: v for k, v in event.items() if v is not None or k == "code"})
    return events


def _state(db):
    dossiers = [
        (
            d.code,
            d.service_id,
            d.service_code,
            d.phone_hash,
            str(d.phone_status),
            d.contact_consent,
            d.received_at,
            d.returned_at,
        )
        for d in db.session.scalars(select(Dossier).order_by(Dossier.code))
    ]
    invitations = [
        (
            i.dossier.code,
            i.phone_hash,
            i.sampling_probability,
            str(i.status),
            i.language,
            i.error_code,
        )
        for i in db.session.scalars(select(Invitation)).all()
    ]
    return dossiers, sorted(invitations)


def _run(db, monkeypatch, offices, batches, bulk_path):
    from survey_app.services import dossier_bulk as bulk
    from survey_app.services import dossiers as service

    draws = random.Random(11)
    monkeypatch.setattr(service, "draw", draws.random)
    decisions = []
    for batch in batches:
        if bulk_path:
            ids = {code: office.id for code, office in offices.items()}
            bulk.open_stage()
            bulk.copy_rows(
                [bulk.stage_row(i, ids[e["office_code"]], e) for i, e in enumerate(batch)]
            )
            out = bulk.apply_stage(NOW, per_item=True)
            decisions += [
                (out.items[i]["status"], out.items[i]["invitation"], out.items[i]["warnings"])
                for i in range(len(batch))
            ]
        else:
            for event in batch:
                done = service.upsert_dossier(offices[event["office_code"]], event, now=NOW)
                decisions.append((done.status, done.invitation, done.warnings))
        db.session.commit()
    return decisions, _state(db)


def test_the_set_based_path_decides_as_the_per_row_path(
    db, monkeypatch, make_office, make_service, questionnaire
):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the set-based path is PostgreSQL's")
    offices = {"A": make_office(code="A"), "B": make_office(code="B")}
    offices["B"].sms_sampling_rate = 0.5
    make_service(code="SV1", office=offices["A"])
    db.session.commit()
    events = _events(["A", "B"])
    events[0].update(phone="0912000005", contact_consent=True, returned_at=NOW)  # rated already
    updates = (
        [  # a second batch: returns arriving, consents withdrawn, phones changed
            {**e, "returned_at": NOW - timedelta(hours=2), "contact_consent": (i % 3 > 0)}
            for i, e in enumerate(events[:120])
        ]
        + [{**e, "phone": "0912000009"} for e in events[200:]]
    )
    results = []
    for bulk_path in (False, True):
        from survey_app.protection import phone_hash

        db.session.execute(delete(Response))
        db.session.execute(delete(Invitation))
        db.session.execute(delete(Dossier))
        db.session.execute(delete(OptOut))
        db.session.add(OptOut(phone_hash=phone_hash("+84912000002"), source="keyword"))
        rated = Dossier(office=offices["A"], code="HS-0000", phone_status="missing")
        db.session.add(rated)
        db.session.flush()
        db.session.add(
            Response(
                office=offices["A"],
                dossier=rated,
                questionnaire=questionnaire,
                channel=Channel.QR_WEB,
            )
        )
        db.session.commit()
        results.append(_run(db, monkeypatch, offices, [events, updates], bulk_path))
    (row_decisions, row_state), (bulk_decisions, bulk_state) = results
    assert bulk_decisions == row_decisions
    assert bulk_state == row_state
    kinds = {d[1] for d in row_decisions}
    assert {
        "queued",
        "not_sampled",
        "opted_out",
        "recently_invited",
        "no_contact_consent",
        "no_mobile_phone",
        "returned_too_long_ago",
        "already_rated",
        None,
    } <= kinds
    assert any(i[3] == InvitationStatus.FAILED for i in row_state[1])  # a withdrawal


@pytest.mark.parametrize("chunk", [1, 4, 7])
def test_chunks_of_candidates_decide_as_one_pass(db, monkeypatch, make_office, chunk):
    """Decided in chunks of `chunk` candidates (the 20,000 of CHUNK lowered), a batch keeps the
    per-row decisions and counts: a number queued in an earlier chunk makes a later dossier of
    that number recently_invited (looked up among the invitations already copied)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the set-based path is PostgreSQL's")
    from collections import Counter

    from survey_app.services import dossier_bulk as bulk
    from survey_app.services import dossiers as service

    offices = {"A": make_office(code="A"), "B": make_office(code="B")}
    offices["B"].sms_sampling_rate = 0.5
    db.session.commit()
    one_number = {"phone": "0912000077", "returned_at": NOW, "contact_consent": True}
    events = [  # the first is queued (A samples all), the eleven after it are not
        {"office_code": "A", "code": f"ONE-{i:02d}", **one_number} for i in range(12)
    ] + _events(["A", "B"])
    row_decisions, row_state = _run(db, monkeypatch, offices, [events], bulk_path=False)
    assert [d[1] for d in row_decisions[:12]] == ["queued"] + ["recently_invited"] * 11
    db.session.execute(delete(Invitation))
    db.session.execute(delete(Dossier))
    db.session.commit()

    monkeypatch.setattr(bulk, "CHUNK", chunk)
    chunks, look_up = [], bulk._queued_earlier

    def spy(rows, since):
        chunks.append(len(rows))
        return look_up(rows, since)

    monkeypatch.setattr(bulk, "_queued_earlier", spy)
    monkeypatch.setattr(service, "draw", random.Random(11).random)  # as _run draws
    bulk.open_stage()
    ids = {code: office.id for code, office in offices.items()}
    bulk.copy_rows([bulk.stage_row(i, ids[e["office_code"]], e) for i, e in enumerate(events)])
    out = bulk.apply_stage(NOW, per_item=True)
    db.session.commit()
    decisions = [
        (out.items[i]["status"], out.items[i]["invitation"], out.items[i]["warnings"])
        for i in range(len(events))
    ]
    assert decisions == row_decisions
    assert _state(db) == row_state
    assert out.decisions == Counter(d[1] for d in row_decisions if d[1] is not None)
    assert out.counts == Counter(d[0] for d in row_decisions)
    assert chunks[:-1] == [chunk] * (len(chunks) - 1) and 0 < chunks[-1] <= chunk
    assert sum(chunks) == sum(out.decisions.values()) and len(chunks) > 3


def test_the_set_based_path_marks_changed_past_days_stale(db, make_office):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the set-based path is PostgreSQL's")
    from survey_app.models.rollups import DAY, RollupDay
    from survey_app.reporting.periods import zone
    from survey_app.services import dossier_bulk as bulk

    office = make_office(code="A")
    day = [date.today() - timedelta(days=n) for n in (20, 15, 10, 5)]
    at = [datetime(d.year, d.month, d.day, 10, tzinfo=zone()) for d in day]
    db.session.add(Dossier(office=office, code="MOVED", returned_at=at[0], phone_status="missing"))
    db.session.add(Dossier(office=office, code="SAME", returned_at=at[3], phone_status="missing"))
    db.session.commit()
    db.session.add_all(RollupDay(grain=DAY, day=d) for d in day)  # rolled after those dossiers
    db.session.commit()
    bulk.open_stage()
    bulk.copy_rows(
        [
            bulk.stage_row(0, office.id, {"code": "MOVED", "returned_at": at[1]}),
            bulk.stage_row(1, office.id, {"code": "NEW", "returned_at": at[2]}),
            bulk.stage_row(2, office.id, {"code": "SAME", "returned_at": at[3]}),
        ]
    )
    bulk.apply_stage(NOW, per_item=False)
    db.session.commit()
    kept = set(db.session.scalars(select(RollupDay.day).where(RollupDay.grain == DAY)))
    assert kept == {day[3]}  # 20 (moved from), 15 (moved to), 10 (new) are stale; 5 unchanged


@pytest.mark.parametrize(
    "values",
    [
        {
            "office_code": "OFF1",
            "code": "HS-1",
            "phone": "0912345678",
            "contact_consent": "Có",
            "returned_at": "2025-01-03T08:00:00+07:00",
            "received_at": "",
            "language": "en",
        },
        {"office_code": "OFF1", "code": "HS-1", "service_code": "SV1", "due_at": "2025-01-03Z"},
        {"office_code": "OFF1", "code": "", "phone": ""},
        {"office_code": "OFF1", "code": "HS-1", "returned_at": "2025-01-03 08:00"},
        {"office_code": "OFF1", "code": "HS-1", "returned_at": "9999-12-31T23:59:59-07:00"},
        {"office_code": "OFF1", "code": "HS\t1"},
        {"office_code": "OFF1", "code": "x" * 65},
        {"office_code": "OFF1", "code": "HS-1", "contact_consent": "perhaps"},
        {"office_code": "OFF1", "code": "HS-1", "language": "fr"},
        {"office_code": "OFF1", "code": "HS-1", "phone": "0" * 33},
        {"office_code": " OFF1 ", "code": "HS-1 ", "phone": None, "contact_consent": True},
        {"office_code": "OFF1", "code": "HS-1", "contact_consent": False, "language": None},
        {"office_code": "OFF1", "code": 5},
        {"office_code": "OFF1", "code": None},
        {"office_code": "OFF1", "code": "HS-1", "extra": 1},
        {"office_code": "OFF1", "code": "HS-1", "contact_consent": 1},
        {"office_code": "OFF1", "code": "HS-1", "returned_at": 20250103},
        {"office_code": "OFF1", "code": "HS-\ud800"},
        {"code": "HS-1"},
    ],
)
def test_the_quick_csv_path_agrees_with_the_schema(values):
    from survey_app.api.schemas import DossierIn, quick_dossier

    try:
        expected = DossierIn().load(values)
    except ValidationError:
        expected = None
    quick = quick_dossier(values)
    if quick is not None:  # None: the schema judges
        assert quick == {**{k: None for k in DossierIn().fields}, **expected}
    if expected is None:
        assert quick is None


def test_the_streaming_reader_reads_as_read_csv(tmp_path):
    from survey_app.importers.csvcore import CsvErrors, iter_csv, read_csv

    path = tmp_path / "x.csv"
    path.write_bytes(
        '\ufeffoffice_code;code;phone\nOFF1;"HS;1";0912\n\n;"multi\nline";\nA;B;C;D\n'
        "OFF1;Cu\u0301;x\n".encode()
    )
    old, new = CsvErrors(path), CsvErrors(path)
    expected = [(r.line, r.values) for r in read_csv(path, ["office_code", "code"], ["phone"], old)]
    got = [(r.line, r.values) for r in iter_csv(path, ["office_code", "code"], ["phone"], new)]
    assert got == expected and new.lines() == old.lines() and len(got) == 3
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"office_code,code\nOFF1,HS-1\nOFF1,\xff\n")
    errors = CsvErrors(bad)
    assert len(list(iter_csv(bad, ["office_code", "code"], [], errors))) == 1
    assert errors.lines() == ["line 3: is not valid UTF-8 (byte 6); save the file as UTF-8"]


def test_two_set_based_batches_of_one_phone_invite_once(app, db, make_office):
    """The second batch waits for the first's advisory lock and sees its invitation."""
    import threading

    from sqlalchemy import func

    if db.engine.dialect.name != "postgresql":
        pytest.skip("the set-based path and the advisory lock are PostgreSQL's")
    from survey_app.services import dossier_bulk as bulk

    office_id = make_office(code="A").id
    event = {"phone": "0912000001", "returned_at": NOW, "contact_consent": True}

    def run(code: str, hold: threading.Event | None, out: dict) -> None:
        with app.app_context():
            bulk.open_stage()
            bulk.copy_rows([bulk.stage_row(0, office_id, {**event, "code": code})])
            out["decision"] = bulk.apply_stage(NOW, per_item=True).items[0]["invitation"]
            if hold is not None:
                hold.wait(10)  # keep the transaction (and its lock) open
            db.session.commit()
            db.session.remove()

    first, second, release = {}, {}, threading.Event()
    a = threading.Thread(target=run, args=("HS-A", release, first))
    a.start()
    while "decision" not in first:
        a.join(0.01)
    b = threading.Thread(target=run, args=("HS-B", None, second))
    b.start()
    b.join(0.5)
    assert b.is_alive() and "decision" not in second  # waiting for the first batch
    release.set()
    a.join(10)
    b.join(10)
    assert (first["decision"], second["decision"]) == ("queued", "recently_invited")
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Invitation)) == 1


@pytest.mark.parametrize("raw", ["0912345678", "+84 91 234 5678", "02433334444", "12", None])
def test_the_batch_protector_stores_what_protect_phone_stores(app, raw):
    from survey_app.protection import decrypt_phone, phone_protector, protect_phone

    with app.app_context():
        one, batch = protect_phone(raw), phone_protector()(raw)
        assert {k: v for k, v in batch.items() if k != "phone_encrypted"} == {
            k: v for k, v in one.items() if k != "phone_encrypted"
        }
        if one["phone_encrypted"] is None:
            assert batch["phone_encrypted"] is None
        else:
            assert decrypt_phone(batch["phone_encrypted"]) == decrypt_phone(one["phone_encrypted"])
