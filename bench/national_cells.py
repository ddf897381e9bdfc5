"""The rollup cells that a national year of responses produces, simulated without the responses.

Seeding 100 M raw responses (2 G answers) takes hours on this machine, so bench/national.py
writes what `flask mscore rebuild-rollup` would derive from them: respondents are simulated month
by month in numpy (office, service, channel, integrity, SMS sampling probability, ratings with
the default questionnaire's skipped questions) and reduced to the rollup's rows with the keys of
survey_app/reporting/counts.py (RESPONSE_KEYS, ANSWER_KEYS, PATTERN_KEYS, DOSSIER_KEYS), then
written with PostgreSQL's binary COPY. No respondent is stored.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from survey_app.models.rollups import YEAR, RollupMoment
from survey_app.reporting.counts import (
    ANSWER_KEYS,
    DOSSIER_KEYS,
    DOSSIER_VALUES,
    PATTERN_KEYS,
    RESPONSE_KEYS,
    VALUE_COUNTS,
)
from survey_app.reporting.year_moments import moment_rows

CHANNEL_SHARES = {"qr_web": 0.55, "sms": 0.2, "kiosk": 0.1, "sms_link": 0.15}
INTEGRITY_SHARES = (0.975, 0.02, 0.005)  # valid, flagged, excluded (INTEGRITIES' order)
SEND_NOW = 0.35  # QR respondents who rate only the overall question (the demo's share)
SKIP = 0.05  # each other item skipped by those who go on
SERVICES_PER_OFFICE = 40  # procedures an office handles; a Zipf law over them
EPOCH = date(2000, 1, 1)  # PostgreSQL's binary date: days since this
CHUNK = 4_000_000  # respondents simulated at a time (memory)

# The rollup tables' keys and sums, as survey_app/reporting/counts.py reads them
KEYS = {
    "responses": RESPONSE_KEYS,
    "answers": ANSWER_KEYS,
    "patterns": PATTERN_KEYS,
    "dossiers": DOSSIER_KEYS,
}
VALUES = {
    "responses": ("count",),
    "answers": VALUE_COUNTS,
    "patterns": ("count",),
    "dossiers": DOSSIER_VALUES,
}


def office_frame(ids, weight, rng, n_services: int) -> dict:
    """The offices respondents are drawn from (by ``weight``), with each one's SMS sampling
    rate and satisfaction effect: what :func:`simulate_month` reads."""
    return {
        "id": ids,
        "cum": np.cumsum(weight / weight.sum()),
        "n_services": n_services,
        "sampling": rng.choice([1.0, 0.5, 0.25], ids.size),
        "effect": rng.normal(0.0, 0.35, ids.size),
    }


def frame_of(frame: dict, mask, weight) -> dict:
    """The frame of some of its offices (``mask``), drawn among them by their weights."""
    return {
        "id": frame["id"][mask],
        "cum": np.cumsum(weight[mask] / weight[mask].sum()),
        "n_services": frame["n_services"],
        "sampling": frame["sampling"][mask],
        "effect": frame["effect"][mask],
    }


def simulate_month(rng, n: int, offices: dict, questions: list[dict], channels: tuple) -> dict:
    """Cells of ``n`` respondents of one month: {'responses', 'answers', 'patterns',
    'dossiers'} each a dict of numpy columns keyed as the rollup's tables."""
    n_off = offices["id"].size
    office = np.minimum(np.searchsorted(offices["cum"], rng.random(n)), n_off - 1)
    rank = np.minimum((SERVICES_PER_OFFICE * rng.random(n) ** 3).astype(np.int64), 39)
    n_services = offices["n_services"]
    service = (offices["id"][office] * 7 + rank * 13) % n_services + 1
    service = np.where(rng.random(n) < 0.1, 0, service)  # not stated
    shares = np.array([CHANNEL_SHARES.get(c, 0.0) for c in channels])
    channel = np.searchsorted(np.cumsum(shares / shares.sum()), rng.random(n))
    integrity = np.searchsorted(np.cumsum(INTEGRITY_SHARES), rng.random(n))
    is_sms = np.isin(channel, [channels.index("sms"), channels.index("sms_link")])
    probability = np.where(is_sms, offices["sampling"][office], 1.0)
    latent = (
        3.9 + offices["effect"][office] - 0.25 * is_sms + rng.normal(0.0, 0.8, n) + 0.1 * (rank < 3)
    )
    send_now = (channel == channels.index("qr_web")) & (rng.random(n) < SEND_NOW)
    resp_key = (((office * 1024 + service) * 8 + channel) * 4 + integrity) * 1024 + np.round(
        probability * 1000
    ).astype(np.int64)
    cell_key, cell = np.unique(resp_key, return_inverse=True)
    n_cells = cell_key.size
    first = np.zeros(n_cells, dtype=np.int64)
    first[cell[::-1]] = np.arange(n)[::-1]
    base = {
        "office_id": offices["id"][office[first]],
        "service_id": service[first],
        "channel": channel[first],
        "integrity": integrity[first],
        "probability": probability[first],
    }
    responses = {**base, "count": np.bincount(cell, minlength=n_cells)}
    answers: dict[str, list] = {k: [] for k in (*base, "question_id", *NS)}
    answered = np.zeros(n, dtype=np.int64)
    satisfied = np.zeros(n, dtype=np.int64)
    for q in questions:
        if q["overall"]:
            asked = np.ones(n, dtype=bool)
        else:
            asked = ~send_now & (rng.random(n) >= SKIP)
        if q["kind"] == "likert5":
            value = np.clip(np.rint(latent + rng.normal(0.0, 0.6, n)), 1, 5).astype(np.int64)
        else:  # yes/no: "yes" more often from the satisfied (e.g. "was the result on time")
            value = (rng.random(n) < 0.45 + 0.1 * (latent - 3.9)).astype(np.int64)
        counts = np.bincount(cell[asked] * 6 + value[asked], minlength=n_cells * 6)
        counts = counts.reshape(n_cells, 6)
        rows = np.flatnonzero(counts.sum(axis=1))
        for k, v in base.items():
            answers[k].append(v[rows])
        answers["question_id"].append(np.full(rows.size, q["id"]))
        for i, name in enumerate(NS):
            answers[name].append(counts[rows, i])
        if q["element"]:
            bit = np.int64(1) << q["position"]
            answered |= np.where(asked, bit, 0)
            satisfied |= np.where(asked & (value >= 4), bit, 0)
    answers = {k: np.concatenate(v) for k, v in answers.items()}
    has = answered > 0
    _, pattern = np.unique((answered[has] << 32) | satisfied[has], return_inverse=True)
    p_key = cell[has] * (int(pattern.max(initial=0)) + 1) + pattern
    p_uniq, p_row = np.unique(p_key, return_inverse=True)
    p_first = np.zeros(p_uniq.size, dtype=np.int64)
    idx = np.flatnonzero(has)
    p_first[p_row[::-1]] = idx[::-1]
    patterns = {k: v[cell[p_first]] for k, v in base.items()}
    patterns.update(
        questionnaire_id=np.full(p_uniq.size, questions[0]["questionnaire_id"]),
        answered=answered[p_first],
        satisfied=satisfied[p_first],
        count=np.bincount(p_row, minlength=p_uniq.size),
    )
    return {
        "responses": responses,
        "answers": answers,
        "patterns": patterns,
        "dossiers": _dossiers(rng, responses),
    }


NS = tuple(f"n{v}" for v in range(6))


def _dossiers(rng, responses: dict) -> dict:
    """Dossiers returned per office × service: about 3 per respondent, a third with an SMS."""
    key = responses["office_id"] * 1024 + responses["service_id"]
    uniq, row = np.unique(key, return_inverse=True)
    resp = np.bincount(row, responses["count"], uniq.size)
    returned = rng.poisson(3.0 * resp) + 1
    sms = rng.binomial(returned, 0.35)
    link = rng.binomial(sms, 0.4)
    return {
        "office_id": uniq // 1024,
        "service_id": uniq % 1024,
        "returned": returned,
        "sms_sent": sms,
        "link_sent": link,
        "reply_answered": rng.binomial(sms - link, 0.2),
        "link_answered": rng.binomial(link, 0.25),
    }


def add_up(parts: list[dict], keys: tuple, values: tuple) -> dict:
    """Rows of several months added up by key (a year's row from its months' rows)."""
    data = {k: np.concatenate([p[k] for p in parts]) for k in (*keys, *values)}
    code = np.zeros(data[keys[0]].size, dtype=np.int64)
    for k in keys:
        col = data[k]
        if col.dtype.kind == "f":
            col = np.round(col * 1000).astype(np.int64)
        _, c = np.unique(col, return_inverse=True)
        code = np.unique(code * (int(c.max(initial=0)) + 1) + c, return_inverse=True)[1]
    uniq, first = np.unique(code, return_index=True)
    out = {k: data[k][first] for k in keys}
    out.update({v: np.bincount(code, data[v], uniq.size).astype(np.int64) for v in values})
    return out


# PostgreSQL types by column (binary COPY): everything else is int4
_TYPES = {
    "grain": ">i2",
    "day": ">i4",
    "channel": ">i2",
    "integrity": ">i2",
    "probability": ">f8",
    "answered": ">i8",
    "satisfied": ">i8",
}


def copy_rows(conn, table: str, grain: int, day: date, rows: dict) -> int:
    """Write rows with PostgreSQL's binary COPY (one numpy record per row)."""
    columns = ["grain", "day", *rows]
    n = next(iter(rows.values())).size
    order = np.lexsort([rows[k] for k in reversed(list(rows))])  # the primary key's order
    rows = {k: v[order] for k, v in rows.items()}
    fields = [("_fields", ">i2")]
    for c in columns:
        fields += [(f"len_{c}", ">i4"), (c, _TYPES.get(c, ">i4"))]
    rec = np.zeros(n, dtype=np.dtype(fields))
    rec["_fields"] = len(columns)
    for c in columns:
        rec[f"len_{c}"] = np.dtype(_TYPES.get(c, ">i4")).itemsize
    rec["grain"] = grain
    rec["day"] = (day - EPOCH).days
    for c, v in rows.items():
        rec[c] = v
    header = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(header)
        step = 1_000_000
        for i in range(0, n, step):
            copy.write(rec[i : i + step].tobytes())
        copy.write((-1).to_bytes(2, "big", signed=True))
    return n


def copy_moments(conn, rows: list[dict]) -> int:
    """Write a year's moment rows (survey_app.reporting.year_moments.moment_rows) with COPY."""
    names = [column.name for column in RollupMoment.__table__.columns]
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(f"COPY rollup_moments ({', '.join(names)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[c] for c in names])
    return len(rows)


def simulate_cells(rng, n: int, frame, questions, channels) -> dict:
    """The cells of ``n`` respondents, simulated in chunks and added up."""
    total = None
    for start in range(0, n, CHUNK):
        part = simulate_month(rng, min(CHUNK, n - start), frame, questions, channels)
        total = (
            part
            if total is None
            else {k: add_up([total[k], part[k]], KEYS[k], VALUES[k]) for k in part}
        )
    return total


def write_cells(conn, grain, day, cells, written) -> None:
    """COPY the cells; a year's patterns become its moments, as the rollup writes them."""
    if grain == YEAR:
        cells = dict(cells)
        rows, summed = moment_rows(cells["patterns"], day)
        written["moments"] = written.get("moments", 0) + copy_moments(conn, rows)
        cells["patterns"] = {k: v[~summed] for k, v in cells["patterns"].items()}
    for name, rows in cells.items():
        ordered = {k: rows[k] for k in (*KEYS[name], *VALUES[name])}
        written[name] = written.get(name, 0) + copy_rows(
            conn, f"rollup_{name}", grain, day, ordered
        )


def office_rows(n_offices: int, provinces: int) -> list[dict]:
    """Provinces 1..P (no ranking group), then communes and departments under them."""
    rows = [
        dict(id=p, code=f"P{p:02d}", name=f"Tỉnh {p}", kind="province", group=None, parent=None)
        for p in range(1, provinces + 1)
    ]
    for i in range(provinces + 1, n_offices + 1):
        commune = i % 3 == 0
        rows.append(
            dict(
                id=i,
                code=f"{'X' if commune else 'S'}{i:05d}",
                name=f"{'Xã' if commune else 'Sở'} {i}",
                kind="commune" if commune else "department",
                group="communes" if commune else "departments",
                parent=1 + i % provinces,
            )
        )
    return rows
