"""Generate the reference province and, where R with the survey package is installed, what R
computes of its satisfaction report.

    .venv/bin/python tests/reference/province.py          # writes province.json, and
                                                           # province_expected.json via Rscript

A small province over two periods (June 2025 and the 30 days before), made to exercise what
the report must get right: skipped answers (some respondents answer only the overall question;
in June nobody at office D4 answers `access_seats`, so its access element is blank), variance
strata with a single respondent (one kiosk respondent), SMS invitations sampled at 0.5 and 0.25
in the same stratum, an office where everyone is satisfied (D2) and one where nobody is (D3), QR
respondents who named no service (they join their office's largest cell), and a service group
too small to stand alone (it is merged into its office's largest). Flagged responses are stored
but left out.

The merge of small post-strata is the report's documented rule (docs/methodology.md) written out
here plainly; everything else (weights, strata, finite-population corrections, estimates,
intervals, changes) is computed from the unit records by `province.R`, independently of mscore.
tests/survey_app/test_report_reference.py builds this province in the database and compares the
report API's numbers with province_expected.json; it never runs R.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

HERE = Path(__file__).resolve().parent
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
# June 2025 and the period of equal length before it (what the report's compare=previous takes)
PERIODS = {
    "previous": (date(2025, 5, 2), date(2025, 5, 31)),
    "current": (date(2025, 6, 1), date(2025, 6, 30)),
}
MIN_CELL = 10
ELEMENTS = {
    "access": ["access_signs", "access_seats", "access_equipment"],
    "procedure": ["procedure_posted", "procedure_documents", "procedure_fees", "procedure_time"],
    "civil_servant": ["staff_polite", "staff_guidance", "staff_rules"],
    "result": ["result_on_time", "result_accurate", "result_fair"],
    "feedback": ["feedback_easy", "feedback_handled", "feedback_notified"],
}
ITEMS = [code for codes in ELEMENTS.values() for code in codes]
QUESTIONS = ["overall", *ITEMS]
SERVICES = {"TP1": "Tư pháp", "TP2": "Tư pháp", "DD1": "Đất đai", "XD1": "Xây dựng"}
OFFICES = {  # code: (name, group, satisfied share, skip rate)
    "D1": ("Sở Tư pháp", "departments", 0.82, 0.08),
    "D2": ("Sở Xây dựng", "departments", 1.0, 0.05),
    "D3": ("Sở Y tế", "departments", 0.0, 0.05),
    "D4": ("Sở Tài nguyên và Môi trường", "departments", 0.7, 0.25),
    "C1": ("UBND xã An Phú", "communes", 0.78, 0.1),
    "C2": ("UBND xã Bình Minh", "communes", 0.9, 0.1),
    "C3": ("UBND phường Hòa Bình", "communes", 0.65, 0.1),
    "C4": ("UBND xã Tân Lập", "communes", 0.86, 0.1),
}
# Per office and service: dossiers returned, QR, kiosk and SMS respondents in a month.
PLAN = {
    "D1": {"TP1": (220, 18, 3, 14), "TP2": (90, 8, 0, 4), "DD1": (120, 14, 1, 0)},
    "D2": {"XD1": (150, 30, 2, 0), None: (0, 4, 0, 0)},
    "D3": {"DD1": (110, 28, 0, 0)},
    "D4": {"DD1": (160, 30, 3, 0), "TP1": (40, 4, 0, 0)},
    "C1": {"TP1": (80, 12, 0, 10), "DD1": (60, 11, 2, 0)},
    "C2": {"DD1": (70, 22, 0, 0), None: (0, 3, 0, 0)},
    "C3": {"TP2": (55, 15, 1, 0), "XD1": (30, 12, 0, 0)},
    "C4": {"DD1": (90, 25, 0, 6)},
}


def _moment(rng, day0: date, days: int, hour_from=8) -> datetime:
    day = day0 + timedelta(days=int(rng.integers(0, days)))
    local = datetime(day.year, day.month, day.day, hour_from, tzinfo=TZ)
    return (local + timedelta(minutes=int(rng.integers(0, 540)))).astimezone(UTC)


def _answers(rng, office: str, period: str) -> dict[str, int]:
    """Likert answers of one respondent; skipped items are left out."""
    _name, _group, share, skip = OFFICES[office]
    mood = rng.random() < share if 0 < share < 1 else share == 1.0
    out = {}
    if rng.random() < 0.06:  # answers only the overall question
        return {"overall": int(rng.integers(4, 6) if mood else rng.integers(1, 4))}
    for code in ["overall", *ITEMS]:
        if code != "overall" and rng.random() < skip:
            continue
        if office == "D4" and period == "current" and code == "access_seats":
            continue
        happy = mood if rng.random() < 0.8 or share in (0.0, 1.0) else not mood
        out[code] = int(rng.integers(4, 6) if happy else rng.integers(1, 4))
    return out


def generate(seed: int = 2025) -> dict:
    """Offices, services, dossier counts and responses (SMS ones with their dossier and
    invitation) of both months."""
    rng = np.random.default_rng(seed)
    dossiers, responses = [], []
    for period, (first, last) in PERIODS.items():
        days = (last - first).days + 1
        for office, plan in PLAN.items():
            for service, (n_dossiers, n_qr, n_kiosk, n_sms) in plan.items():
                dossiers.append(
                    {"period": period, "office": office, "service": service, "returned": n_dossiers}
                )
                channels = ["qr_web"] * n_qr + ["kiosk"] * n_kiosk + ["sms"] * n_sms
                for i, channel in enumerate(channels):
                    dossier = None
                    at = _moment(rng, first, days)
                    if channel == "sms":  # invited at 0.5 in the first half month, 0.25 after
                        returned = at
                        dossier = {
                            "code": f"{office}-{service}-{period[0]}{i}",
                            "returned_at": returned.isoformat(),
                            "probability": 0.5 if returned.astimezone(TZ).day <= 15 else 0.25,
                        }
                        at = returned + timedelta(hours=2)  # the same local day
                    responses.append(
                        {
                            "period": period,
                            "office": office,
                            "service": service,
                            "channel": channel,
                            "probability": dossier["probability"] if dossier else 1.0,
                            "submitted_at": at.isoformat(),
                            "integrity": "flagged" if rng.random() < 0.04 else "valid",
                            "dossier": dossier,
                            "answers": _answers(rng, office, period),  # made a list below
                        }
                    )
    _poststrata(responses, dossiers)
    for r in responses:  # answers in QUESTIONS order, null where skipped: a smaller file
        r["answers"] = [r["answers"].get(code) for code in QUESTIONS]
    return {
        "about": "The reference province of tests/reference/province.py (see its docstring).",
        "questions": QUESTIONS,
        "periods": {k: [a.isoformat(), b.isoformat()] for k, (a, b) in PERIODS.items()},
        "min_cell": MIN_CELL,
        "elements": ELEMENTS,
        "services": SERVICES,
        "offices": {k: {"name": v[0], "group": v[1]} for k, v in OFFICES.items()},
        "dossiers": dossiers,
        "responses": responses,
    }


def _poststrata(responses: list[dict], dossiers: list[dict]) -> None:
    """Each included response's post-stratum (its office's merged service-group cell).

    The report's rule: respondents of a cell without dossiers (no service named) join the
    office's cell with dossiers that has the most respondents (then the most dossiers); a cell
    with fewer than MIN_CELL respondents then joins the office's largest cell (most
    respondents; ties: the first service group in alphabetical order).
    """
    fields = sorted(set(SERVICES.values()))
    for period in PERIODS:
        for office in PLAN:
            mine = [
                r
                for r in responses
                if (r["period"], r["office"], r["integrity"]) == (period, office, "valid")
            ]
            pop = {f: 0 for f in ["", *fields]}
            for d in dossiers:
                if (d["period"], d["office"]) == (period, office):
                    pop[SERVICES.get(d["service"], "")] += d["returned"]
            field = {id(r): SERVICES.get(r["service"], "") for r in mine}
            m = {f: sum(1 for r in mine if field[id(r)] == f) for f in pop}
            framed = [f for f in pop if pop[f] > 0]
            best = max(framed, key=lambda f: (m[f], pop[f], -fields.index(f)))
            for r in mine:
                if pop[field[id(r)]] == 0:
                    field[id(r)] = best
            m = {f: sum(1 for r in mine if field[id(r)] == f) for f in pop}
            home = max(framed, key=lambda f: (m[f], -fields.index(f)))
            target = {f: (home if m[f] < MIN_CELL else f) for f in pop}
            for r in mine:
                r["poststratum"] = f"{office}|{target[field[id(r)]]}"
            for d in dossiers:
                if (d["period"], d["office"]) == (period, office):
                    d["poststratum"] = f"{office}|{target[SERVICES.get(d['service'], '')]}"


def _dump(data: dict) -> str:
    """JSON with one dossier cell or response per line (small, and readable in a diff)."""
    head = {k: v for k, v in data.items() if k not in ("dossiers", "responses")}
    text = json.dumps(head, ensure_ascii=False, indent=1)[:-2]
    for key in ("dossiers", "responses"):
        rows = ",\n".join(json.dumps(r, ensure_ascii=False) for r in data[key])
        text += f',\n "{key}": [\n{rows}\n ]'
    return text + "\n}\n"


def main() -> None:
    """Write province.json and, with Rscript, province_expected.json."""
    data = generate()
    (HERE / "province.json").write_text(_dump(data))
    print(f"province.json: {len(data['responses'])} responses")
    rscript = shutil.which("Rscript")
    if rscript is None:
        sys.exit("Rscript not found: province_expected.json not regenerated")
    subprocess.run(
        [
            rscript,
            str(HERE / "province.R"),
            str(HERE / "province.json"),
            str(HERE / "province_expected.json"),
        ],
        check=True,
    )


if __name__ == "__main__":
    main()
