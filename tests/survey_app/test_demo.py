"""`flask mscore seed-demo`: a realistic, deterministic demo province."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from survey_app.demo.province import DEPARTMENTS, DISTRICTS
from survey_app.importers import CODE_RE
from survey_app.models import (
    Answer,
    Channel,
    Counter,
    Dossier,
    Integrity,
    Invitation,
    Office,
    Question,
    QuestionKind,
    RankingGroup,
    Response,
)
from survey_app.protection import decrypt_phone, normalize_phone, phone_hash

N = 2_000
END = "2026-06-01"  # the demo year ends at the start of this day, Asia/Ho_Chi_Minh


def seed(runner, *args: str):
    result = runner.invoke(
        args=["mscore", "seed-demo", "--responses", str(N), "--end-date", END, *args]
    )
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def demo(runner, db):
    """A seeded demo database; the command's output."""
    return seed(runner)


def test_province_shape(demo, db):
    assert f"{N:,} responses" in demo
    groups = dict(
        db.session.execute(select(Office.group, func.count()).group_by(Office.group)).all()
    )
    assert groups == {
        RankingGroup.DEPARTMENTS: len(DEPARTMENTS),
        RankingGroup.DISTRICTS: len(DISTRICTS),
        RankingGroup.COMMUNES: sum(len(d[3]) for d in DISTRICTS),
    }
    assert 18 <= groups[RankingGroup.DEPARTMENTS] <= 22 and groups[RankingGroup.COMMUNES] >= 20
    offices = db.session.scalars(select(Office)).all()
    assert all(CODE_RE.fullmatch(o.code) for o in offices)
    assert all(1 <= len(o.counters) <= 4 and o.services for o in offices)
    names = {o.code: o.name for o in offices}
    assert names["STP"] == "Sở Tư pháp" and names["HAILANG"] == "UBND huyện Hải Lăng"
    commune = db.session.scalar(select(Office).where(Office.code == "HAILANG-HAIDINH"))
    assert commune.name == "UBND xã Hải Định, huyện Hải Lăng" and commune.parent.code == "HAILANG"
    assert {s.field for o in offices for s in o.services} >= {"Hộ tịch", "Đất đai", "Y tế"}


def test_responses_are_consistent(demo, db):
    assert db.session.scalar(select(func.count()).select_from(Response)) == N
    # a response's dossier belongs to its office, and an SMS one carries the dossier's service
    mismatched = (
        select(func.count())
        .select_from(Response)
        .join(Dossier, Response.dossier_id == Dossier.id)
        .where(
            (Dossier.office_id != Response.office_id)
            | (
                (Response.channel == Channel.SMS)
                & (
                    (Dossier.service_id != Response.service_id)
                    | (Dossier.phone_hash != Response.client_hash)
                )
            )
        )
    )
    assert db.session.scalar(mismatched) == 0
    sms_unbound = select(func.count()).where(
        Response.channel == Channel.SMS, Response.dossier_id.is_(None)
    )
    assert db.session.scalar(sms_unbound) == 0
    wrong_counter = (
        select(func.count())
        .select_from(Response)
        .join(Counter, Response.counter_id == Counter.id)
        .where(Counter.office_id != Response.office_id)
    )
    assert db.session.scalar(wrong_counter) == 0
    channels = dict(
        db.session.execute(select(Response.channel, func.count()).group_by(Response.channel)).all()
    )
    assert channels[Channel.QR_WEB] > 0 and channels[Channel.SMS] > 0
    flagged = db.session.execute(
        select(Response.integrity_reason, func.count())
        .where(Response.integrity == Integrity.FLAGGED)
        .group_by(Response.integrity_reason)
    ).all()
    assert len(flagged) == 1 and flagged[0][0] == "burst" and flagged[0][1] >= 12
    partial = select(func.count()).where(Response.is_partial)
    assert 0 < db.session.scalar(partial) < channels[Channel.SMS]
    end = datetime(2026, 5, 31, 17, tzinfo=UTC)  # 1 June 00:00 in Hà Nội
    first, last = db.session.execute(
        select(func.min(Response.submitted_at), func.max(Response.submitted_at))
    ).one()
    assert end - timedelta(days=366) < first and last < end


def test_invitations_and_phones(demo, db):
    statuses = set(db.session.scalars(select(Invitation.status).distinct()))
    assert statuses == {"answered", "delivered", "expired"}
    answered = select(func.count()).where(Invitation.status == "answered")
    sms = select(func.count()).where(Response.channel == Channel.SMS)
    assert db.session.scalar(answered) == db.session.scalar(sms)
    mismatch = (
        select(func.count())
        .select_from(Invitation)
        .join(Office, Invitation.office_id == Office.id)
        .where(Invitation.sampling_probability != Office.sms_sampling_rate)
    )
    assert db.session.scalar(mismatch) == 0
    unconsented = (
        select(func.count())
        .select_from(Invitation)
        .join(Dossier, Invitation.dossier_id == Dossier.id)
        .where(Dossier.contact_consent.is_(False))
    )
    assert db.session.scalar(unconsented) == 0  # only consenting citizens are invited
    consenting = select(func.count()).where(Dossier.contact_consent.is_(True))
    assert db.session.scalar(consenting) == db.session.scalar(
        select(func.count()).where(Dossier.phone_status == "mobile")
    )
    rates = db.session.scalars(select(Office.sms_sampling_rate)).all()
    assert 0.3 <= min(rates) and max(rates) <= 1.0
    dossier = db.session.scalars(select(Dossier).where(Dossier.phone_encrypted.isnot(None))).first()
    e164 = decrypt_phone(dossier.phone_encrypted)
    assert re.fullmatch(r"\+84[3789]\d{8}", e164)
    assert normalize_phone(e164) == (e164, "mobile") and phone_hash(e164) == dossier.phone_hash
    late = select(func.count()).where(Dossier.returned_at > Dossier.due_at)
    total = db.session.scalar(select(func.count()).select_from(Dossier))
    assert 0 < db.session.scalar(late) < total
    backwards = select(func.count()).where(Dossier.returned_at < Dossier.received_at)
    assert db.session.scalar(backwards) == 0


def test_answers_in_range_and_offices_differ(demo, db):
    out_of_range = (
        select(Question.kind, func.min(Answer.value), func.max(Answer.value))
        .join(Answer.question)
        .group_by(Question.kind)
    )
    ranges = {kind: (low, high) for kind, low, high in db.session.execute(out_of_range)}
    assert ranges[QuestionKind.LIKERT5] == (1, 5)
    assert ranges[QuestionKind.YES_NO] == (0, 1)
    assert ranges[QuestionKind.TEXT] == (None, None)
    per_response = db.session.scalar(select(func.count()).select_from(Answer)) / N
    assert 11 < per_response <= 19  # fewer since "Send now": a third of QR respondents answer one
    overall = (
        select(Response.office_id, func.avg(Answer.value), func.count())
        .join(Answer.response)
        .join(Answer.question)
        .where(Question.code == "overall", Response.integrity == Integrity.VALID)
        .group_by(Response.office_id)
        .having(func.count() >= 15)
    )
    means = [float(mean) for _, mean, _ in db.session.execute(overall)]
    assert len(means) >= 20 and max(means) - min(means) > 0.5
    by_channel = dict(
        db.session.execute(
            select(Response.channel, func.avg(Answer.value))
            .join(Answer.response)
            .join(Answer.question)
            .where(Question.code == "overall")
            .group_by(Response.channel)
        ).all()
    )
    assert float(by_channel[Channel.SMS]) < float(by_channel[Channel.QR_WEB]) - 0.1
    comments = db.session.scalars(select(Answer.text).where(Answer.text.isnot(None))).all()
    assert comments and any("cán bộ" in c.lower() for c in comments)


def _wipe(db) -> None:
    db.session.remove()
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())


def test_same_seed_same_data(runner, db):
    first = re.search(r"checksum (\w+)", seed(runner, "--seed", "7", "--checksum")).group(1)
    _wipe(db)
    again = re.search(r"checksum (\w+)", seed(runner, "--seed", "7", "--checksum")).group(1)
    assert again == first
    _wipe(db)
    other = re.search(r"checksum (\w+)", seed(runner, "--seed", "8", "--checksum")).group(1)
    assert other != first


def test_if_empty_and_refusal(runner, make_office):
    make_office("X1", "Văn phòng có sẵn")
    result = runner.invoke(args=["mscore", "seed-demo", "--if-empty"])
    assert result.exit_code == 0 and "already exist" in result.output
    result = runner.invoke(args=["mscore", "seed-demo", "--responses", "300"])
    assert result.exit_code == 1 and "already has offices" in result.output


def _make(*args: str) -> str:
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        ["make", "--no-print-directory", *args], cwd=root, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_make_demo_takes_host_and_port_and_derives_the_public_url():
    import subprocess

    show = ["--eval", "show-url: ; @echo $(PUBLIC_BASE_URL)", "show-url"]
    assert _make(*show).strip() == "http://127.0.0.1:5000"
    lan = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
    if lan:  # on every interface: the posters carry this machine's network address
        assert _make(*show, "HOST=0.0.0.0", "PORT=8123").strip() == f"http://{lan[0]}:8123"
    given = "PUBLIC_BASE_URL=https://demo.example.vn"
    assert _make(*show, "HOST=0.0.0.0", given).strip() == "https://demo.example.vn"
    assert "flask run --host 0.0.0.0 --port 8123" in _make(
        "-n", "demo", "HOST=0.0.0.0", "PORT=8123"
    )


def test_send_now_leaves_out_the_details_of_a_share_of_qr_respondents(demo, db):
    """The demo's citizens press "Send now" under the overall rating with probability 0.45 when
    satisfied and 0.25 otherwise: the share who answered any detail lies between 55 % and 75 %
    (and near 100 % without Send now, as before #19), and the seed-demo output says it."""
    from survey_app.demo import detail_share

    share = detail_share()
    assert 0.55 <= share <= 0.75
    assert "QR respondents who answered details" in demo
