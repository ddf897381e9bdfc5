"""Dossier events applied set-based on PostgreSQL (issue 21): the API's batches and the CSV import.

The rows are copied (psycopg 3's COPY, through SQLAlchemy's driver connection, in the session's
transaction) into a temporary staging table, then applied with a few statements: one UPDATE of
the dossiers that exist and changed, one INSERT of the new ones, one query that takes every
invitation check that can be taken in SQL. The rest of the decision is the same loop as
`decide_invitation`, in the batch's order: the sampling draw (one `draw()` per dossier that passed
the checks, as the per-row path draws) and the re-invite window within the batch. The rules are
those of services/dossiers.py, which stays the path on SQLite and for batches naming one dossier
twice; tests compare both paths.

Memory stays flat in the batch's size: what grows with it stays in the database. The stage
marks the dossiers changed; the candidates are streamed and decided `CHUNK` at a time, each
chunk's invitations copied at its end, and a number queued by an earlier chunk is looked up in
the invitations table (as the per-row path's re-invite check finds it), so Python holds one
chunk's numbers, never the batch's.

Core statements bypass the ORM flush listener of the rollup, so the local days of the returned
times that changed are passed to `mark_stale` here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import text

from ..extensions import db
from ..models import InvitationStatus, PhoneStatus
from ..protection import protect_phone
from ..reporting.staleness import mark_stale
from . import dossiers as rules

STAGE = "dossier_stage"
#: Candidates decided per chunk, their invitations copied at its end (a test lowers it). The
#: chunk is what the import holds in memory: in bench/ingest.py, 20,000 peaked at 248 MB and
#: 50,000 at 289 MB (300,000 rows); a chunk's extra statements take milliseconds.
CHUNK = 20_000
#: The staging table's columns, in COPY order; phone_status NULL = no phone sent (keep the stored
#: one), contact_consent NULL = not sent (keep; a new dossier has none)
COLUMNS = (
    "pos",
    "office_id",
    "code",
    "service_code",
    "phone_encrypted",
    "phone_hash",
    "phone_status",
    "received_at",
    "due_at",
    "returned_at",
    "language",
    "contact_consent",
)
_SETUP = f"""
CREATE TEMPORARY TABLE {STAGE} (
    pos bigint PRIMARY KEY, office_id integer NOT NULL, code varchar(64) NOT NULL,
    service_code varchar(64), phone_encrypted text, phone_hash varchar(64),
    phone_status varchar(10), received_at timestamptz, due_at timestamptz,
    returned_at timestamptz, language varchar(5), contact_consent boolean,
    dossier_id integer, existed boolean NOT NULL DEFAULT false, changed boolean NOT NULL
    DEFAULT false, old_returned_at timestamptz
) ON COMMIT DROP
"""


def stage_row(pos: int, office_id: int, data: dict, protect=None) -> tuple:
    """One validated dossier event as a staging row (the phone protected here; pass
    protection.phone_protector() for a large batch)."""
    phone = data.get("phone")
    protected = (protect or protect_phone)(phone) if phone is not None else None
    return (
        pos,
        office_id,
        data["code"],
        data.get("service_code"),
        protected and protected["phone_encrypted"],
        protected and protected["phone_hash"],
        protected and str(protected["phone_status"]),
        data.get("received_at"),
        data.get("due_at"),
        data.get("returned_at"),
        data.get("language"),
        data.get("contact_consent"),
    )


def open_stage() -> None:
    """Take the dossier writers' lock and create the (transaction-scoped) staging table."""
    rules._serialize_dossier_writes()
    db.session.execute(text(f"DROP TABLE IF EXISTS {STAGE}"))
    db.session.execute(text(_SETUP))


def copy_rows(rows: Iterable[tuple]) -> int:
    """COPY staging rows in (psycopg 3's public COPY API, in the session's transaction). The rows
    may be a generator, but it must not use the database: the connection is busy with the COPY."""
    raw = db.session.connection().connection.driver_connection
    count = 0
    with raw.cursor() as cursor:
        with cursor.copy(f"COPY {STAGE} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
    return count


# New values: a field sent (not NULL) replaces the stored one; a phone sent replaces the stored
# number only when its hash or status differ (its ciphertext differs at every encryption).
_NEW_PHONE = "s.phone_status IS NOT NULL AND (s.phone_hash, s.phone_status) IS DISTINCT FROM "
# The dossiers changed are marked in the stage (not returned: a set of ids grows with the batch)
_UPDATE = f"""
WITH updated AS (UPDATE dossiers AS d SET
    service_code = COALESCE(s.service_code, d.service_code),
    service_id = CASE WHEN s.service_code IS NOT NULL AND s.service_code IS DISTINCT FROM
        d.service_code THEN (SELECT id FROM services WHERE code = s.service_code)
        ELSE d.service_id END,
    phone_encrypted = CASE WHEN {_NEW_PHONE} (d.phone_hash, d.phone_status)
        THEN s.phone_encrypted ELSE d.phone_encrypted END,
    phone_hash = CASE WHEN {_NEW_PHONE} (d.phone_hash, d.phone_status)
        THEN s.phone_hash ELSE d.phone_hash END,
    phone_status = CASE WHEN {_NEW_PHONE} (d.phone_hash, d.phone_status)
        THEN s.phone_status ELSE d.phone_status END,
    contact_consent = COALESCE(s.contact_consent, d.contact_consent),
    received_at = COALESCE(s.received_at, d.received_at),
    due_at = COALESCE(s.due_at, d.due_at),
    returned_at = COALESCE(s.returned_at, d.returned_at),
    updated_at = :now
FROM {STAGE} AS s
WHERE s.existed AND d.id = s.dossier_id AND (
    (s.service_code IS NOT NULL AND s.service_code IS DISTINCT FROM d.service_code)
    OR ({_NEW_PHONE} (d.phone_hash, d.phone_status))
    OR (s.contact_consent IS NOT NULL AND s.contact_consent IS DISTINCT FROM d.contact_consent)
    OR (s.received_at IS NOT NULL AND s.received_at IS DISTINCT FROM d.received_at)
    OR (s.due_at IS NOT NULL AND s.due_at IS DISTINCT FROM d.due_at)
    OR (s.returned_at IS NOT NULL AND s.returned_at IS DISTINCT FROM d.returned_at))
RETURNING d.id)
UPDATE {STAGE} AS t SET changed = true FROM updated AS u WHERE t.dossier_id = u.id
"""
_INSERT = f"""
INSERT INTO dossiers (office_id, code, service_id, service_code, phone_encrypted, phone_hash,
    phone_status, contact_consent, received_at, due_at, returned_at, created_at, updated_at)
SELECT s.office_id, s.code, sv.id, s.service_code, s.phone_encrypted, s.phone_hash,
    COALESCE(s.phone_status, 'missing'), COALESCE(s.contact_consent, false), s.received_at,
    s.due_at, s.returned_at, :now, :now
FROM {STAGE} AS s LEFT JOIN services AS sv ON sv.code = s.service_code
WHERE NOT s.existed ORDER BY s.pos
"""
# Every check of decide_invitation that SQL can take, in its order; NULL: passed them all
_CANDIDATES = f"""
SELECT s.pos, d.id, d.office_id, d.phone_hash, o.sms_sampling_rate, s.language,
  CASE
    WHEN EXISTS (SELECT 1 FROM invitations i WHERE i.dossier_id = d.id) THEN 'already_invited'
    WHEN d.phone_status <> 'mobile' OR d.phone_hash IS NULL THEN 'no_mobile_phone'
    WHEN NOT d.contact_consent THEN 'no_contact_consent'
    WHEN d.returned_at < :oldest THEN 'returned_too_long_ago'
    WHEN EXISTS (SELECT 1 FROM responses r WHERE r.dossier_id = d.id) THEN 'already_rated'
    WHEN EXISTS (SELECT 1 FROM opt_outs x WHERE x.phone_hash = d.phone_hash
                 AND x.revoked_at IS NULL) THEN 'opted_out'
    WHEN EXISTS (SELECT 1 FROM invitations i WHERE i.phone_hash = d.phone_hash
                 AND i.created_at >= :since) THEN 'recently_invited'
  END
FROM {STAGE} AS s JOIN dossiers AS d ON d.id = s.dossier_id JOIN offices AS o ON o.id = d.office_id
WHERE d.returned_at IS NOT NULL AND s.old_returned_at IS NULL
ORDER BY s.pos
"""


@dataclass
class BulkOutcome:
    """What a staged batch did: per position (when asked) and in total."""

    counts: Counter = field(default_factory=Counter)  # created, updated, unchanged
    decisions: Counter = field(default_factory=Counter)  # the detailed invitation decisions
    items: dict[int, dict] = field(default_factory=dict)  # pos -> id, status, invitation, warnings


def apply_stage(now: datetime, per_item: bool) -> BulkOutcome:
    """Apply the staged rows to the dossiers, decide the invitations; flush-free, no commit."""
    execute = db.session.execute
    execute(text(f"ANALYZE {STAGE}"))
    execute(
        text(f"""UPDATE {STAGE} AS s SET dossier_id = d.id, existed = true,
                 old_returned_at = d.returned_at
                 FROM dossiers AS d WHERE d.office_id = s.office_id AND d.code = s.code""")
    )
    execute(text(_UPDATE), {"now": now})
    execute(text(_INSERT), {"now": now})
    execute(
        text(f"""UPDATE {STAGE} AS s SET dossier_id = d.id FROM dossiers AS d
                 WHERE NOT s.existed AND d.office_id = s.office_id AND d.code = s.code""")
    )
    outcome = BulkOutcome()
    _stale_days(execute)
    _withdraw(execute)
    _decide(now, outcome, per_item)
    _tally(outcome, per_item, execute)
    db.session.expire_all()  # the ORM's copies of these rows are out of date
    return outcome


def _stale_days(execute) -> None:
    """Mark the past days whose returned counts the batch changed (old and new returned day)."""
    zone = current_app.config["TIMEZONE"]
    days = execute(
        text(f"""SELECT DISTINCT (t AT TIME ZONE :zone)::date FROM (
                   SELECT s.old_returned_at AS t FROM {STAGE} s WHERE s.changed
                   UNION ALL SELECT d.returned_at FROM {STAGE} s JOIN dossiers d
                     ON d.id = s.dossier_id WHERE NOT s.existed OR s.changed
                 ) AS x WHERE t IS NOT NULL"""),
        {"zone": zone},
    ).scalars()
    mark_stale(list(days))


def _withdraw(execute) -> None:
    """A consent withdrawn (false sent) stops the dossier's invitation still queued."""
    execute(
        text(f"""UPDATE invitations AS i SET status = :failed, error_code = 'no_contact_consent'
                 FROM {STAGE} AS s WHERE i.dossier_id = s.dossier_id
                 AND s.contact_consent = false AND s.old_returned_at IS NOT NULL
                 AND i.status = :queued"""),
        {"failed": InvitationStatus.FAILED.value, "queued": InvitationStatus.QUEUED.value},
    )


def _decide(now: datetime, outcome: BulkOutcome, per_item: bool) -> None:
    """The invitation decision of every newly returned dossier, in the batch's order, CHUNK
    candidates at a time, their invitations copied at the end of each."""
    config = current_app.config
    params = {
        "oldest": now - timedelta(days=config["SMS_INVITE_MAX_AGE_DAYS"]),
        "since": now - timedelta(days=config["SMS_REINVITE_DAYS"]),
    }
    result = db.session.execute(text(_CANDIDATES), params, execution_options={"yield_per": CHUNK})
    next_attempt = rules.quiet_hours_end(now)
    for rows in result.partitions(CHUNK):
        earlier = _queued_earlier(rows, params["since"])
        queued_hashes: set[str] = set()  # this chunk's
        invitations = []
        for pos, dossier_id, office_id, phone, rate, language, reason in rows:
            if reason is None and (phone in queued_hashes or phone in earlier):
                reason = "recently_invited"  # invited a moment ago, earlier in this batch
            probability = rate or 1.0
            if reason is None and rules.draw() >= probability:
                reason = "not_sampled"
            if reason is None:
                reason = "queued"
                queued_hashes.add(phone)
                invitations.append(
                    (dossier_id, office_id, phone, probability, language or config["SMS_LANGUAGE"])
                )
            outcome.decisions[reason] += 1
            if per_item:
                outcome.items[pos] = {"invitation": reason}
        _insert_invitations(invitations, now, next_attempt)
    result.close()


def _queued_earlier(rows, since: datetime) -> set[str]:
    """The numbers of these candidates that an earlier chunk of the batch queued. The candidates'
    query cannot see those invitations (its snapshot is that of its start), so they are looked
    up here, as the per-row path's re-invite check would find them."""
    phones = list({row[3] for row in rows if row[6] is None})
    if not phones:
        return set()
    found = db.session.scalars(
        text("""SELECT DISTINCT phone_hash FROM invitations
                WHERE phone_hash = ANY(:phones) AND created_at >= :since"""),
        {"phones": phones, "since": since},
    )
    return set(found)


def _insert_invitations(invitations: list[tuple], now: datetime, next_attempt: datetime) -> None:
    if not invitations:
        return
    raw = db.session.connection().connection.driver_connection
    columns = (
        "dossier_id, office_id, phone_hash, sampling_probability, language, status, attempts, "
        "next_attempt_at, created_at"
    )
    queued = InvitationStatus.QUEUED.value
    with raw.cursor() as cursor, cursor.copy(f"COPY invitations ({columns}) FROM STDIN") as copy:
        for row in invitations:
            copy.write_row((*row, queued, 0, next_attempt, now))


def _tally(outcome: BulkOutcome, per_item: bool, execute) -> None:
    """Created, updated or unchanged, and the warnings of each item (when asked)."""
    if not per_item:
        created, updated, total = execute(
            text(f"""SELECT count(*) FILTER (WHERE NOT existed), count(*) FILTER (WHERE changed),
                     count(*) FROM {STAGE}""")
        ).one()
        outcome.counts.update(created=created, updated=updated, unchanged=total - created - updated)
        return
    rows = execute(
        text(f"""SELECT s.pos, d.id, d.code, s.existed, s.changed, d.service_code, d.service_id,
                 d.phone_status FROM {STAGE} s JOIN dossiers d ON d.id = s.dossier_id""")
    )
    for pos, dossier_id, code, existed, changed, service_code, service_id, phone_status in rows:
        status = "updated" if changed else "unchanged" if existed else "created"
        outcome.counts[status] += 1
        warnings = []
        if service_code and service_id is None:
            warnings.append(f"unknown service_code {service_code!r}: kept, not linked")
        if phone_status != PhoneStatus.MOBILE:
            warnings.append(f"phone is {phone_status}: never invited")
        outcome.items.setdefault(pos, {"invitation": None})
        outcome.items[pos].update(id=dossier_id, code=code, status=status, warnings=warnings)
