"""Writing the demo plan in bulk: ids reserved up front, then COPY on PostgreSQL and a plain
executemany on SQLite, in chunks, never an ORM object per row. Timestamps are written as the text
each database keeps (SQLAlchemy's SQLite DATETIME format; timestamptz input on PostgreSQL), which
skips a per-value bind processor that otherwise costs more than the insert itself."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sqlalchemy import Table, func, select

from ..extensions import db
from ..models import Answer, Dossier, Invitation, QuestionKind, Questionnaire, Response, Service
from ..protection import encrypt_phone, keyed_hash, phone_hash
from .province import DemoOffice
from .simulate import SEND_NOW_OTHERS, SEND_NOW_SATISFIED, Plan

CHUNK = 10_000
# Vietnamese mobile prefixes (after the leading 0), all valid for `phonenumbers`
PREFIXES = "90 91 93 94 96 97 98 86 88 32 33 34 35 36 37 38 39 70 76 77 78 79 81 82 83 84".split()
#: How each item sits against the respondent's overall mood (seats and feedback score lowest).
ITEM_OFFSETS = {
    "access_seats": -0.3,
    "access_equipment": -0.15,
    "procedure_time": -0.2,
    "procedure_fees": 0.1,
    "staff_polite": 0.15,
    "feedback_easy": -0.25,
    "feedback_handled": -0.3,
    "feedback_notified": -0.35,
    "result_accurate": 0.1,
}
PRAISE = [
    "Cán bộ nhiệt tình, hướng dẫn rất chu đáo.",
    "Thủ tục nhanh gọn, trả kết quả đúng hẹn.",
    "Rất hài lòng, cảm ơn cán bộ một cửa.",
    "Nơi làm việc sạch sẽ, có wifi và nước uống.",
]
COMPLAINTS = [
    "Phải đi lại nhiều lần mới xong hồ sơ.",
    "Chỗ ngồi chờ chật, thiếu ghế.",
    "Trả kết quả trễ hẹn mà không báo trước.",
    "Cán bộ hướng dẫn chưa rõ ràng.",
    "Nên có thêm quầy vào buổi sáng, chờ quá lâu.",
]
BRIBE_OFFICES = {"STNMT": 0.05, "HUONGHOA": 0.04}


def _stamps(epoch: np.ndarray, postgres: bool) -> list[str | None]:
    """UTC epoch seconds (nan = none) as stored timestamp text, computed for the whole array."""
    known = ~np.isnan(epoch)
    seconds = np.where(known, epoch, 0).astype(np.int64).astype("datetime64[s]")
    text = np.char.replace(np.datetime_as_string(seconds.astype("datetime64[us]")), "T", " ")
    if postgres:
        text = np.char.add(text, "+00")
    return [t if k else None for t, k in zip(text.tolist(), known.tolist(), strict=True)]


def _reserve_ids(table: Table, n: int) -> list[int]:
    """n new primary keys for a table, taken before the insert so that rows pointing at them can
    be built at once (RETURNING in parameter order falls back to a row at a time on SQLite)."""
    if db.session.get_bind().dialect.name == "postgresql":
        sequence = func.pg_get_serial_sequence(table.name, "id")
        query = select(func.nextval(sequence)).select_from(func.generate_series(1, n))
        return list(db.session.scalars(query))
    first = (db.session.scalar(select(func.max(table.c.id))) or 0) + 1  # we hold the write lock
    return list(range(first, first + n))


def _insert(table: Table, columns: list[str], rows: list, advance: Callable[[int], None]) -> None:
    """Insert rows (dicts or tuples in `columns` order) by the driver's fastest path, in chunks."""
    conn = db.session.connection()
    names = ", ".join(columns)
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        if chunk and isinstance(chunk[0], dict):
            chunk = [tuple(row[c] for c in columns) for row in chunk]
        if conn.dialect.name == "postgresql":
            cursor = conn.connection.driver_connection.cursor()
            with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                for row in chunk:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * len(columns))
            conn.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", chunk)
        advance(len(chunk))


def phones(rng, plan: Plan, advance) -> dict[int, tuple[str, str]]:
    """Fake but valid Vietnamese mobile numbers for the people who gave one: encrypted, hashed."""
    people = np.unique(plan.d_phone[plan.d_phone >= 0])
    prefix = rng.integers(0, len(PREFIXES), len(people))
    digits = rng.integers(0, 10**7, len(people))
    protected = {}
    for person, p, d in zip(people.tolist(), prefix.tolist(), digits.tolist(), strict=True):
        e164 = f"+84{PREFIXES[p]}{d:07d}"
        protected[person] = (encrypt_phone(e164), phone_hash(e164))
    advance(len(people))
    return protected


def write(
    rng,
    plan: Plan,
    offices: list[DemoOffice],
    services: list[Service],
    questionnaire: Questionnaire,
    answers: list[dict],
    advance: Callable[[int], None],
) -> dict[str, int]:
    """Insert the plan's dossiers, invitations, responses and answers; flush only."""
    protected = phones(rng, plan, advance)
    postgres = db.session.get_bind().dialect.name == "postgresql"
    office_ids = [o.office.id for o in offices]
    received, due = _stamps(plan.d_received, postgres), _stamps(plan.d_due, postgres)
    returned = _stamps(plan.d_returned, postgres)
    statuses = {-1: "missing", -2: "invalid"}
    codes = [o.office.code for o in offices]
    dossier_ids = _reserve_ids(Dossier.__table__, len(plan.d_office))
    dossiers = [
        {
            "id": dossier_ids[i],
            "office_id": office_ids[o],
            "code": f"{codes[o]}-{plan.tl.labels[day]}-{q:05d}",
            "service_id": services[s].id,
            "service_code": services[s].code,
            "phone_encrypted": protected[p][0] if p >= 0 else None,
            "phone_hash": protected[p][1] if p >= 0 else None,
            "phone_status": "mobile" if p >= 0 else statuses[p],
            # the demo's citizens with a mobile number agreed to be asked (its SMS invitations)
            "contact_consent": p >= 0,
            "received_at": received[i],
            "due_at": due[i],
            "returned_at": returned[i],
            "created_at": received[i],
            "updated_at": returned[i] or received[i],
        }
        for i, (o, s, q, day, p) in enumerate(
            zip(
                plan.d_office.tolist(),
                plan.d_service.tolist(),
                plan.d_seq.tolist(),
                plan.d_day.tolist(),
                plan.d_phone.tolist(),
                strict=True,
            )
        )
    ]
    _insert(Dossier.__table__, list(dossiers[0]), dossiers, advance)

    sids = rng.integers(0, 2**63, (len(plan.i_dossier), 2)).tolist()
    invitations = []
    pairs = zip(plan.i_dossier.tolist(), plan.i_status.tolist(), strict=True)
    for (d, status), (a, b) in zip(pairs, sids, strict=True):
        at, office = returned[d], offices[plan.d_office[d]].office
        invitations.append(
            {
                "dossier_id": dossier_ids[d],
                "office_id": office.id,
                "phone_hash": dossiers[d]["phone_hash"],
                "sampling_probability": office.sms_sampling_rate,
                "status": status,
                "language": "vi",
                "attempts": 1,
                "next_attempt_at": at,
                "claimed_at": at,
                "provider_message_id": f"SM{a:016x}{b:016x}",
                "created_at": at,
                "sent_at": at,
                "delivered_at": at,
            }
        )
    if invitations:
        _insert(Invitation.__table__, list(invitations[0]), invitations, advance)

    responses = []
    submitted = _stamps(plan.r_time, postgres)
    response_ids = _reserve_ids(Response.__table__, len(plan.r_time))
    for i, (o, c, s, d, sms, en, burst, device, partial) in enumerate(
        zip(
            plan.r_office.tolist(),
            plan.r_counter.tolist(),
            plan.r_service.tolist(),
            plan.r_dossier.tolist(),
            plan.r_sms.tolist(),
            plan.r_english.tolist(),
            plan.r_burst.tolist(),
            plan.r_device.tolist(),
            plan.r_partial.tolist(),
            strict=True,
        )
    ):
        responses.append(
            {
                "id": response_ids[i],
                "office_id": office_ids[o],
                "counter_id": offices[o].counters[c].id if c >= 0 else None,
                "service_id": services[s].id if s >= 0 else None,
                "dossier_id": dossier_ids[d] if d >= 0 else None,
                "questionnaire_id": questionnaire.id,
                "channel": "sms" if sms else "qr_web",
                "submitted_at": submitted[i],
                "language": "en" if en else "vi",
                "integrity": "flagged" if burst >= 0 else "valid",
                "integrity_reason": "burst" if burst >= 0 else None,
                "client_hash": dossiers[d]["phone_hash"]
                if sms
                else keyed_hash(f"demo-device:{device}", "client"),
                "is_partial": partial,
            }
        )
    _insert(Response.__table__, list(responses[0]), responses, advance)
    # answers were drawn before the responses had ids: (response index, question id, value, text)
    # (and each carries its response's submitted_at, the month of its partition)
    answers = [(response_ids[r], submitted[r], q, v, t) for r, q, v, t in answers]
    columns = ["response_id", "submitted_at", "question_id", "value", "text"]
    _insert(Answer.__table__, columns, answers, advance)
    return {
        "dossiers": len(dossiers),
        "invitations": len(invitations),
        "responses": len(responses),
        "answers": len(answers),
    }


def answer_rows(rng, plan: Plan, offices, questionnaire: Questionnaire) -> list[tuple]:
    """Answers to every question asked, from each response's latent satisfaction, as (response
    index in the plan, question id, value, text)."""
    asked = [q for q in questionnaire.questions if q.kind != QuestionKind.TEXT]
    likert = np.array([q.kind == QuestionKind.LIKERT5 for q in asked])
    n, k = len(plan.r_time), len(asked)
    offsets = np.array([ITEM_OFFSETS.get(q.code, 0.0) for q in asked])
    noise = np.array([0.35 if q.code == "overall" else 0.55 for q in asked])
    z = plan.r_latent
    scores = np.clip(np.rint(z[:, None] + offsets + rng.normal(0, 1, (n, k)) * noise), 1, 5)
    bribe = np.array([BRIBE_OFFICES.get(o.office.code, 0.0) for o in offices])[plan.r_office]
    paid = rng.random(n) < 0.012 + 0.07 * (z < 2.8) + bribe
    values = np.where(likert, scores, paid[:, None]).astype(int)
    required = np.array([q.is_required for q in asked])
    answered = required | (rng.random((n, k)) < np.where(likert, 0.93, 0.85))
    stop = rng.integers(1, k, n)  # a partial SMS conversation ends after `stop` questions
    answered[plan.r_sms] = True
    answered[plan.r_partial] = np.arange(k) < stop[plan.r_partial, None]
    # "Send now" under the overall rating: a QR respondent who takes it answers no detail
    qr = ~plan.r_sms & (plan.r_burst < 0)
    send_now = qr & (rng.random(n) < np.where(z >= 4.0, SEND_NOW_SATISFIED, SEND_NOW_OTHERS))
    answered[send_now] = required
    burst = plan.r_burst >= 0  # ballot stuffing: all 5s (or all 1s), nothing paid
    values[burst] = np.where(likert, np.where(plan.r_burst[burst, None] % 3 == 2, 1, 5), 0)
    answered[burst] = True
    rows, cols = np.nonzero(answered)
    ids, qids = rows.tolist(), np.array([q.id for q in asked])[cols].tolist()
    out = [(r, q, v, None) for r, q, v in zip(ids, qids, values[rows, cols].tolist(), strict=True)]
    comment = next((q for q in questionnaire.questions if q.kind == QuestionKind.TEXT), None)
    if comment is not None:
        says = (rng.random(n) < np.where(plan.r_sms, 0.03, 0.08)) & ~burst & ~plan.r_partial
        says &= ~send_now
        pick = rng.random(n)
        for i in np.flatnonzero(says).tolist():
            pool = PRAISE if z[i] >= 3.8 else COMPLAINTS
            out.append((i, comment.id, None, pool[int(pick[i] * len(pool))]))
    return out
