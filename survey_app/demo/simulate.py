"""Twelve months of simulated activity, as numpy arrays: dossiers, SMS invitations and responses.

Nothing here touches the database; bulk.py turns the plan into rows. Ratings come from a latent
satisfaction per response: office effect + channel (SMS lower) + service field + a mild upward trend
with a dip around Tết + a penalty when the dossier came back late + personal noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np

from .province import FIELD_EFFECTS, LEGAL_DAYS, DemoOffice

DAY = 86_400
QR_SHARE = 0.6  # of responses; the rest come by SMS
PARTIAL_SMS = 0.12  # SMS conversations that stop before the last question
# QR respondents who press "Send now" under the overall rating and answer no detail: more of
# the satisfied (nothing to add) than of the others (docs/operations.md, "Send now")
SEND_NOW_SATISFIED, SEND_NOW_OTHERS = 0.45, 0.25
WEEKDAY_WEIGHTS = np.array([1.0, 1.0, 1.0, 1.0, 0.95, 0.25, 0.03])


@dataclass
class Timeline:
    """The 365 local days before `end`, with their UTC start and how busy and how happy they are."""

    start: np.ndarray  # epoch seconds of each local midnight
    end: float
    weights: np.ndarray  # share of the year's dossiers received that day
    mood: np.ndarray  # month-to-month difference in ratings
    labels: list[str]  # YYMMDD, for dossier codes


def timeline(end: datetime) -> Timeline:
    """Days of the year ending at `end` (a local midnight, timezone-aware)."""
    days = [end.date() - timedelta(days=365 - i) for i in range(365)]
    start = np.array([end.timestamp() - (365 - i) * DAY for i in range(365)])
    weights = np.array([WEEKDAY_WEIGHTS[d.weekday()] * _season(d) for d in days])
    mood = np.array([-0.2 if _is_tet(d) else 0.05 * np.sin(d.month / 2) for d in days])
    return Timeline(
        start, end.timestamp(), weights / weights.sum(), mood, [d.strftime("%y%m%d") for d in days]
    )


def _is_tet(d: date) -> bool:
    return (d.month == 1 and d.day >= 20) or (d.month == 2 and d.day <= 15)


def _season(d: date) -> float:
    return 0.5 if _is_tet(d) else 1.25 if d.month == 12 else 1.1 if d.month in (7, 8) else 1.0


def office_hours(rng: np.random.Generator, n: int) -> np.ndarray:
    """Seconds after local midnight within 7:30-11:30 and 13:30-17:00."""
    morning = rng.random(n) < 0.6
    return np.floor(
        np.where(morning, 27_000 + rng.random(n) * 14_400, 48_600 + rng.random(n) * 12_600)
    )


@dataclass
class Plan:
    """Everything the demo will write, index-aligned arrays per table."""

    tl: Timeline
    # dossiers (sorted by office, then received time)
    d_office: np.ndarray
    d_service: np.ndarray
    d_seq: np.ndarray
    d_day: np.ndarray
    d_received: np.ndarray
    d_due: np.ndarray
    d_returned: np.ndarray  # nan while not yet returned
    d_phone: np.ndarray  # person index; -1 missing, -2 invalid number
    # invitations: dossier index and status
    i_dossier: np.ndarray
    i_status: np.ndarray
    # responses (sorted by time)
    r_office: np.ndarray
    r_counter: np.ndarray  # counter index within the office, -1 none
    r_service: np.ndarray  # -1 none
    r_dossier: np.ndarray  # -1 none
    r_sms: np.ndarray
    r_time: np.ndarray
    r_english: np.ndarray
    r_burst: np.ndarray  # burst number, -1 when not part of one
    r_device: np.ndarray  # device number (QR) or -1 (SMS: the dossier's phone)
    r_partial: np.ndarray
    r_latent: np.ndarray  # latent satisfaction, before answering


def simulate(
    rng, offices: list[DemoOffice], service_fields: list[str], n_responses: int, end: datetime
) -> Plan:
    """Draw a year of activity for the offices; deterministic given the generator's state."""
    tl, n_off = timeline(end), len(offices)
    weight = np.array([o.size for o in offices])
    weight /= weight.sum()
    rate = np.array([o.office.sms_sampling_rate for o in offices])
    reply = rng.uniform(0.35, 0.65, n_off)
    qr_use = weight * rng.lognormal(0, 0.5, n_off)
    n_sms = round(n_responses * (1 - QR_SHARE))
    per_dossier = float((weight * 0.92 * 0.93 * rate * reply).sum())
    n_dossiers = int(np.ceil(1.3 * n_sms / per_dossier)) + 20

    # dossiers
    office = rng.choice(n_off, n_dossiers, p=weight)
    day = rng.choice(365, n_dossiers, p=tl.weights)
    received = tl.start[day] + office_hours(rng, n_dossiers)
    order = np.lexsort((received, office))
    office, day, received = office[order], day[order], received[order]
    first = np.searchsorted(office, np.arange(n_off))
    seq = np.arange(n_dossiers) - first[office] + 1
    service = np.empty(n_dossiers, dtype=np.int64)
    for o, demo in enumerate(offices):
        mine = np.flatnonzero(office == o)
        popular = 1.0 / np.arange(1, len(demo.services) + 1)  # a few procedures dominate
        service[mine] = rng.choice(demo.service_index, len(mine), p=popular / popular.sum())
    fields = service_fields
    legal = np.array([LEGAL_DAYS.get(f, 5) for f in fields])[service] * 1.4 * DAY
    lateness = np.array([o.lateness for o in offices])[office]
    took = legal * np.exp(rng.normal(-0.3 + lateness, 0.35))
    back = np.maximum(received + took, received + 1_800)
    back_day = np.clip(((back - tl.start[0]) // DAY).astype(int), 0, 364)
    back = np.maximum(tl.start[back_day] + office_hours(rng, n_dossiers), received + 1_800)
    back = np.where(back < tl.end, back, np.nan)
    kind = rng.choice(3, n_dossiers, p=[0.92, 0.06, 0.02])  # mobile, missing, invalid
    phone = np.where(kind == 0, rng.integers(0, int(n_dossiers * 0.85), n_dossiers), -kind)

    # SMS: invited with the office's probability, some reply
    returned = ~np.isnan(back)
    invited = returned & (phone >= 0) & (rng.random(n_dossiers) < rate[office])
    replies = np.flatnonzero(invited & (rng.random(n_dossiers) < reply[office]))
    sms = np.sort(rng.permutation(replies)[:n_sms])
    inv = np.flatnonzero(invited)
    status = np.where(
        np.isin(inv, sms),
        "answered",
        np.where(back[inv] > tl.end - 3 * DAY, "delivered", "expired"),
    )
    sms_time = np.minimum(
        back[sms] + 120 + np.floor(rng.exponential(3 * 3_600, len(sms))), tl.end - 60
    )

    # QR at the counter: a fifth type in their dossier code, which binds the response to it
    n_qr = n_responses - len(sms)
    q_office = rng.choice(n_off, n_qr, p=qr_use / qr_use.sum())
    q_dossier = np.full(n_qr, -1)
    free = returned.copy()
    free[sms] = False
    wants = rng.random(n_qr) < 0.2
    for o in range(n_off):
        takers = np.flatnonzero((q_office == o) & wants)
        pool = np.flatnonzero(free[first[o] : first[o + 1] if o + 1 < n_off else None]) + first[o]
        k = min(len(takers), len(pool))
        q_dossier[takers[:k]] = rng.choice(pool, k, replace=False)
    bound = q_dossier >= 0
    q_time = np.where(
        bound,
        np.minimum(back[q_dossier] + rng.integers(60, 900, n_qr), tl.end - 1),
        tl.start[rng.choice(365, n_qr, p=tl.weights)] + office_hours(rng, n_qr),
    )
    n_services = np.array([len(o.services) for o in offices])
    pick = (rng.random(n_qr) * n_services[q_office]).astype(int)
    q_service = np.array([offices[o].service_index[p] for o, p in zip(q_office, pick, strict=True)])
    q_service = np.where(
        bound, service[np.maximum(q_dossier, 0)], np.where(rng.random(n_qr) < 0.6, q_service, -1)
    )
    n_counters = np.array([len(o.counters) for o in offices])
    q_counter = (rng.random(n_qr) * n_counters[q_office]).astype(int)
    q_device = rng.integers(0, 2**40, n_qr)

    # bursts: one device submitting again and again within minutes (flagged for review)
    burst = np.full(n_qr, -1)
    sizes = rng.integers(6, 13, max(2, n_responses // 4_000))
    unbound = np.flatnonzero(~bound)[-int(sizes.sum()) :]
    start = 0
    for b, size in enumerate(sizes):
        members = unbound[start : start + size]
        start += size
        if len(members) == 0:
            break
        burst[members] = b
        q_office[members], q_counter[members] = q_office[members[0]], q_counter[members[0]]
        q_device[members] = q_device[members[0]]
        steps = np.cumsum(rng.integers(5, 40, len(members)))
        q_time[members] = np.minimum(q_time[members[0]] + steps, tl.end - 1)
        q_service[members] = -1

    # all responses, in time order
    r_dossier = np.concatenate([sms, q_dossier])
    r_office = np.concatenate([office[sms], q_office])
    r_time = np.concatenate([sms_time, q_time])
    by_time = np.lexsort((np.arange(len(r_time)), r_time))
    r_sms = np.concatenate([np.ones(len(sms), bool), np.zeros(n_qr, bool)])[by_time]
    r_dossier, r_office, r_time = r_dossier[by_time], r_office[by_time], r_time[by_time]
    r_service = np.concatenate([service[sms], q_service])[by_time]
    late = (r_dossier >= 0) & (
        back[np.maximum(r_dossier, 0)]
        > received[np.maximum(r_dossier, 0)] + legal[np.maximum(r_dossier, 0)]
    )
    effect = np.array([o.effect for o in offices])
    field_effect = np.array([FIELD_EFFECTS.get(f, 0.0) for f in fields] + [0.0])
    r_day = np.clip(((r_time - tl.start[0]) // DAY).astype(int), 0, 364)
    latent = (
        4.5
        + effect[r_office]
        - 0.3 * r_sms
        + field_effect[r_service]
        + 0.35 * (r_day / 364 - 0.5)
        + tl.mood[r_day]
        - 0.6 * late
        + rng.normal(0, 0.6, len(r_time))
    )
    n = len(r_time)
    return Plan(
        tl,
        office,
        service,
        seq,
        day,
        received,
        received + legal,
        back,
        phone,
        inv,
        status,
        r_office,
        np.concatenate([np.full(len(sms), -1), q_counter])[by_time],
        r_service,
        r_dossier,
        r_sms,
        r_time,
        rng.random(n) < 0.03,
        np.concatenate([np.full(len(sms), -1), burst])[by_time],
        np.concatenate([np.full(len(sms), -1), q_device])[by_time],
        r_sms & (rng.random(n) < PARTIAL_SMS),
        latent,
    )
