"""The bridge: report numbers equal `analysis` on the same responses, computed independently."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

import analysis
from survey_app.models.surveys import SIPAS_ELEMENTS

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
MARCH = (date(2025, 3, 1), date(2025, 3, 31))
FIELDS = {"SV1": "Tư pháp", "SV2": "Đất đai", "SV3": "Tư pháp"}


def seed(
    db, make_office, make_service, questionnaire, *, start=MARCH[0], days=31, rng_seed=7, scale=1.0
):
    """Offices in two groups (B under A), three services in two fields, returned dossiers, SMS
    invitations with sampling probabilities, and QR, SMS and kiosk responses with answers.

    Returns the unit records the independent computation needs."""
    from survey_app.models import Answer, Dossier, Invitation, RankingGroup, Response

    rng = np.random.default_rng(rng_seed)
    offices = {
        "A": make_office("A", "Sở Tư pháp"),
        "C": make_office("C", "Sở Xây dựng"),
        "D": make_office("D", "Sở Y tế"),
        "E": make_office("E", "UBND huyện E", group=RankingGroup.DISTRICTS),
    }
    offices["B"] = make_office("B", "Phòng Hộ tịch", parent=offices["A"])
    services = {code: make_service(code, f"Dịch vụ {code}", field=f) for code, f in FIELDS.items()}
    likert = [q for q in questionnaire.questions if q.kind == "likert5"]
    yes_no = next(q for q in questionnaire.questions if q.kind == "yes_no")
    comment = next(q for q in questionnaire.questions if q.kind == "text")
    records, dossier_rows, sent = [], [], []
    level = {"A": 0.85, "B": 0.7, "C": 0.55, "D": 0.9, "E": 0.75}
    probability = {"A": 0.5, "B": 1.0, "C": 0.25, "D": 0.5, "E": 0.5}

    def moment(i):
        day = start + timedelta(days=int(rng.integers(0, days)))
        local = datetime(day.year, day.month, day.day, 8, tzinfo=TZ)
        return (local + timedelta(minutes=int(rng.integers(0, 600)))).astimezone(UTC)

    for code, office in offices.items():
        plan = [
            ("SV1", int(60 * scale)),
            ("SV2", int(45 * scale)),
            ("SV3", int(25 * scale)),
            (None, int(12 * scale)),
        ]
        for service_code, n_dossiers in plan:
            for k in range(n_dossiers):
                returned = moment(k)
                d = Dossier(
                    office=office,
                    code=f"{code}-{service_code}-{k}",
                    service=services.get(service_code),
                    returned_at=returned,
                )
                db.session.add(d)
                dossier_rows.append((code, FIELDS.get(service_code, ""), returned))
                if k % 2 == 0 and service_code:  # half the dossiers are invited by SMS
                    p = probability[code]
                    db.session.add(
                        Invitation(
                            dossier=d,
                            office_id=office.id,
                            phone_hash=f"h{code}{k}{service_code}",
                            sampling_probability=p,
                            status="sent",
                            next_attempt_at=returned,
                            sent_at=returned,
                        )
                    )
                    sent.append((code, returned))
                    if rng.random() < 0.55:
                        records.append(
                            _response(
                                rng,
                                code,
                                office,
                                "sms",
                                services[service_code],
                                d,
                                p,
                                returned + timedelta(hours=1),
                            )
                        )
        db.session.flush()
        for i in range(int(rng.integers(30, 45) * scale)):
            service_code = ["SV1", "SV2", "SV3", None][i % 4]
            channel = "kiosk" if i % 9 == 0 else "qr_web"
            records.append(
                _response(
                    rng, code, office, channel, services.get(service_code), None, 1.0, moment(i)
                )
            )
    db.session.flush()
    for record in records:
        record["integrity"] = rng.choice(["valid"] * 18 + ["flagged", "excluded"])
        values = np.where(
            rng.random(len(likert)) < level[record["code"]],
            rng.integers(4, 6, len(likert)),
            rng.integers(1, 4, len(likert)),
        )
        record["values"] = {q.code: int(v) for q, v in zip(likert, values, strict=True)}
        record["yes"] = int(rng.random() < 0.1)
        r = Response(
            office=offices[record["code"]],
            service=record["service"],
            dossier=record["dossier"],
            questionnaire_id=questionnaire.id,
            channel=record["channel"],
            submitted_at=record["at"],
            integrity=record["integrity"],
        )
        r.answers = [Answer(question_id=q.id, value=record["values"][q.code]) for q in likert]
        r.answers.append(Answer(question_id=yes_no.id, value=record["yes"]))
        if rng.random() < 0.3:
            r.answers.append(Answer(question_id=comment.id, text=f"Góp ý số {len(records)}"))
        db.session.add(r)
    db.session.commit()
    return {
        "records": records,
        "dossiers": dossier_rows,
        "sent": sent,
        "offices": offices,
        "likert": [q.code for q in likert if q.dimension != "overall"] + ["overall"],
        "dims": {q.code: str(q.dimension) for q in likert},
        "questionnaire": questionnaire,
    }


def _response(rng, code, office, channel, service, dossier, p, at):
    return {
        "code": code,
        "channel": channel,
        "service": service,
        "dossier": dossier,
        "field": service.field if service else "",
        "p": p if channel == "sms" else 1.0,
        "at": at,
    }


def _in(at, period):
    day = at.astimezone(TZ).date()
    return period[0] <= day <= period[1]


def independent(data, period, method="wilson", level=0.95, include_flagged=False, min_count=10):
    """Per office code: item Estimates by question, element and overall tables, by `analysis`'
    unit-record functions on the seeded responses."""
    keep = [
        r
        for r in data["records"]
        if _in(r["at"], period) and (include_flagged or r["integrity"] == "valid")
    ]
    totals: dict[str, float] = {}
    for code, field_, returned in data["dossiers"]:
        if _in(returned, period):
            totals[f"{code}|{field_}"] = totals.get(f"{code}|{field_}", 0) + 1
    out = {}
    for code in sorted({r["code"] for r in keep}):
        rows = [r for r in keep if r["code"] == code]
        labels = [f"{code}|{r['field']}" for r in rows]
        cell_totals = {k: v for k, v in totals.items() if k.startswith(code + "|")}
        for label in labels:
            cell_totals.setdefault(label, 0)
        ps = analysis.poststratify(
            labels, cell_totals, np.array([1 / r["p"] for r in rows]), min_count=min_count
        )
        strata = np.array([f"{s}/{r['channel']}" for s, r in zip(ps.stratum, rows, strict=True)])
        fpc = np.empty(len(rows))
        for s in np.unique(strata):
            m = strata == s
            total = ps.weights[m].sum()
            fpc[m] = total if total >= m.sum() * (1 - 1e-9) else np.inf
        design = (ps.weights, strata, fpc, ps.stratum)
        sat = {
            q: np.array([r["values"][q] >= 4 for r in rows], dtype=float) for q in data["likert"]
        }
        items = {q: _estimate(y, *design, method, level) for q, y in sat.items()}
        # Everyone answered every item, so an element's index is the mean of the respondents'
        # shares of its items satisfied, and the overall index the mean of those.
        per_element = [
            np.mean([sat[q] for q in data["likert"] if data["dims"][q] == e], axis=0)
            for e in map(str, SIPAS_ELEMENTS)
        ]
        elements = [_estimate(y, *design, "wilson", level) for y in per_element]
        overall = _estimate(np.mean(per_element, axis=0), *design, "wilson", level)
        out[code] = {"items": items, "n": len(rows), "elements": elements, "index": overall}
    return out


def _estimate(y, weights, strata, fpc, post, method, level):
    """Share or index of per-respondent values y: linearised as R does, then the interval."""
    value = np.dot(weights, y) / weights.sum()
    z = weights * (y - value) / weights.sum()
    var = svy_variance(z, strata, fpc, post, weights)
    if np.all(y == y[0]):  # a share of exactly 0 or 1
        value, var = float(y[0]), 0.0
    n_eff = weights.sum() ** 2 / np.dot(weights, weights)
    df = len(y) - np.unique(strata).size
    low, high = analysis.proportion_interval(value, var, df, n_eff, len(y), method, level)
    return analysis.Estimate(
        float(value), np.sqrt(var), float(low), float(high), len(y), n_eff, df, method, level
    )


def svy_variance(z, strata, fpc, post, psw) -> float:
    """R survey's svyrecvar for one-stage stratified designs, unit by unit: residuals of the
    post-strata (postStratify), then per stratum (1 − n/N)·n/(n−1)·Σ(z − z̄)², or (1 − 1/N)·z²
    for a stratum of one (lonely.psu = "adjust")."""
    z = np.array(z, dtype=float)
    for g in np.unique(post):
        m = post == g
        z[m] -= psw[m] * z[m].sum() / psw[m].sum()
    var = 0.0
    for h in np.unique(strata):
        m = strata == h
        n = int(m.sum())
        f = 1.0 - n / fpc[m][0] if np.isfinite(fpc[m][0]) else 1.0
        if n > 1:
            var += f * n / (n - 1) * np.sum((z[m] - z[m].mean()) ** 2)
        else:
            var += f * z[m][0] ** 2
    return var


@pytest.fixture
def seeded(app, db, make_office, make_service, questionnaire):
    return seed(db, make_office, make_service, questionnaire)


def _report(**kw):
    from survey_app.reporting import Params, Period, build_report
    from survey_app.reporting.tables import report_json

    kw.setdefault("period", Period(*MARCH))
    return report_json(build_report(Params(**kw)))


@pytest.mark.parametrize("method", ["wilson", "korn-graubard", "logit", "wald"])
def test_items_equal_analysis_on_unit_records(seeded, method):
    doc = _report(method=method, level=0.9)
    mine = independent(seeded, MARCH, method=method, level=0.9)
    offices = {o["code"]: o for o in doc["offices"]}
    assert set(offices) == {"A", "B", "C", "D", "E"}
    for code, ref in mine.items():
        for q, est in ref["items"].items():
            got = offices[code]["questions"][q]
            assert got["n"] == est.n == ref["n"]
            for key in ("value", "low", "high", "se", "n_eff"):
                assert got[key] == pytest.approx(getattr(est, key), rel=1e-9, abs=1e-12), (code, q)
            assert got["df"] == est.df
            assert got["reliable"] == est.reliable


def test_elements_overall_par_and_ranks_equal_analysis(seeded, app):
    doc = _report()
    mine = independent(seeded, MARCH)
    offices = {o["code"]: o for o in doc["offices"]}
    for code, ref in mine.items():
        for element, est in zip(map(str, SIPAS_ELEMENTS), ref["elements"], strict=True):
            got = offices[code]["elements"][element]
            for key in ("value", "se", "low", "high", "n_eff"):
                assert got[key] == pytest.approx(getattr(est, key), rel=1e-9), (code, element)
            assert (got["n"], got["df"]) == (est.n, est.df)
        got = offices[code]["index"]
        for key in ("value", "se", "low", "high"):
            assert got[key] == pytest.approx(getattr(ref["index"], key), rel=1e-9), code
        par = offices[code]["index"]["par_points"]
        assert par["value"] == pytest.approx(10.0 * got["value"])
        assert offices[code]["overall_question"] == offices[code]["questions"]["overall"]
    codes = ["A", "B", "C", "D"]  # the departments group
    keys = ("value", "se", "low", "high", "n", "n_eff", "df")
    joined = analysis.EstimateTable(
        **{k: np.array([getattr(mine[c]["index"], k) for c in codes]) for k in keys},
        method="wilson",
        level=0.95,
    )
    ranks = analysis.rank_intervals(joined)
    shrunk = analysis.empirical_bayes(joined)
    for i, code in enumerate(codes):
        got = offices[code]["index"]
        expect = (
            ranks.rank[i],
            ranks.rank_low[i],
            ranks.rank_high[i],
            ranks.individual_low[i],
            ranks.individual_high[i],
        )
        if np.isnan(expect[0]):
            assert got["rank"] is None and got["individual_rank_low"] is None
        else:
            assert (
                got["rank"],
                got["rank_low"],
                got["rank_high"],
                got["individual_rank_low"],
                got["individual_rank_high"],
            ) == tuple(map(int, expect))
        assert got["eb"]["value"] == pytest.approx(shrunk.table.value[i], rel=1e-9)
        assert got["eb"]["low"] == pytest.approx(shrunk.table.low[i], rel=1e-9)
    prior = doc["eb_priors"]["index"]["departments"]
    assert prior["sd"] == pytest.approx(shrunk.prior_sd[0], rel=1e-9)
    assert prior["mean"] == pytest.approx(shrunk.prior_mean[0], rel=1e-9)
    assert prior["bounded"] == bool(shrunk.bounded[0])
    assert doc["eb_priors"]["index"]["districts"] is None  # one office: nothing to borrow


def test_counts_766_and_sms_rate(seeded):
    doc = _report()
    offices = {o["code"]: o for o in doc["offices"]}
    for code in offices:
        in_period = [r for r in seeded["records"] if r["code"] == code and _in(r["at"], MARCH)]
        valid = [r for r in in_period if r["integrity"] == "valid"]
        dossiers = sum(1 for c, _f, t in seeded["dossiers"] if c == code and _in(t, MARCH))
        bad = sum(r["values"]["overall"] <= 2 for r in valid)
        sms = sum(r["channel"] == "sms" for r in in_period)
        sent = sum(1 for c, t in seeded["sent"] if c == code and _in(t, MARCH))
        got = offices[code]
        assert got["responses"] == len(valid)
        assert got["dossiers"] == dossiers
        assert got["dissatisfied"] == bad
        assert got["complaint_free_ratio"] == pytest.approx(
            (dossiers - min(bad, dossiers)) / dossiers
        )
        assert got["sms"] == {
            "sent": sent,
            "answered": sms,
            "response_rate": pytest.approx(min(sms / sent, 1.0)),
        }
    assert {g["group"] for g in doc["groups"]} == {"departments", "districts"}
    departments = next(g for g in doc["groups"] if g["group"] == "departments")
    assert departments["responses"] == sum(offices[c]["responses"] for c in "ABCD")
    assert departments["offices"] == 4


def test_include_flagged_and_group_filter(seeded):
    all_in = _report(include_flagged=True)
    mine = independent(seeded, MARCH, include_flagged=True)
    a = next(o for o in all_in["offices"] if o["code"] == "A")
    assert a["questions"]["staff_polite"]["value"] == pytest.approx(
        mine["A"]["items"]["staff_polite"].value, rel=1e-12
    )
    districts = _report(group="districts")
    assert [o["code"] for o in districts["offices"]] == ["E"]
    assert [g["group"] for g in districts["groups"]] == ["districts"]


def test_compare_previous_period(app, db, make_office, make_service, questionnaire):
    data = seed(db, make_office, make_service, questionnaire, start=date(2025, 2, 1), days=59)
    from survey_app.reporting import Period

    doc = _report(period=Period(date(2025, 3, 1), date(2025, 3, 28)), compare=True)
    assert doc["previous_period"] == {"from": "2025-02-01", "to": "2025-02-28", "days": 28}
    before = independent(data, (date(2025, 2, 1), date(2025, 2, 28)))
    after = independent(data, (date(2025, 3, 1), date(2025, 3, 28)))
    got = next(o for o in doc["offices"] if o["code"] == "C")["questions"]["result_fair"]
    expect = analysis.change(
        before["C"]["items"]["result_fair"], after["C"]["items"]["result_fair"]
    )
    assert got["change"]["previous"] == pytest.approx(before["C"]["items"]["result_fair"].value)
    assert got["change"]["diff"] == pytest.approx(float(expect.diff))
    assert got["change"]["low"] == pytest.approx(float(expect.low))
    assert got["change"]["significant"] == bool(expect.significant)


def test_empty_period_gives_empty_estimates(app, make_office, questionnaire):
    make_office("Z")
    doc = _report()
    z = doc["offices"][0]
    assert z["responses"] == 0 and z["index"]["value"] is None and not z["index"]["reliable"]
    assert z["complaint_free_ratio"] is None and z["sms"]["response_rate"] is None


def _text_equals_document(**kw):
    """The API's JSON text (written column by column) parses to exactly report_json's dict."""
    import json

    from survey_app.reporting import Params, Period, build_report
    from survey_app.reporting.tables import breakdown_rows, report_json
    from survey_app.reporting.text import report_text

    kw.setdefault("period", Period(*MARCH))
    report = build_report(Params(**kw))
    extra = {"breakdowns": {n: breakdown_rows(report, n) for n in ("services", "channels")}}
    text = report_text(report, extra)
    assert json.loads(text) == {**report_json(report), **extra}
    return json.loads(text)


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"compare": True, "method": "korn-graubard", "level": 0.9},
        {"include_flagged": True, "group": "departments"},
    ],
)
def test_report_text_equals_report_json(seeded, kw):
    doc = _text_equals_document(**kw)
    assert doc["offices"] and doc["groups"]


def test_report_text_of_an_empty_period_and_a_subset(seeded, db):
    from survey_app.reporting import Period
    from survey_app.reporting.catalogue import universe as _universe

    _text_equals_document(period=Period(date(2024, 1, 1), date(2024, 1, 31)), compare=True)
    ids = {o["id"] for o in _universe(db.session, None)[:2]}
    doc = _text_equals_document(visible=frozenset(ids))
    assert len(doc["offices"]) == 2


def test_answer_cells_find_their_respondent_group_and_strays_are_refused():
    from survey_app.reporting.weighting import _group_keys

    rng = np.random.default_rng(3)
    n = 500
    mine = (
        rng.integers(0, 40, n),
        rng.integers(0, 13, n),
        rng.integers(0, 3, n),
        rng.choice([1.0, 0.5, 0.1 + 0.2], n),
    )  # a float that is not exactly 0.3
    pick = rng.integers(0, n, 2000)
    theirs = tuple(np.asarray(col)[pick] for col in mine)
    key_a, key_b = _group_keys(mine, theirs)
    # equal keys exactly when all four columns are equal (independent check by tuples)
    rows_a = list(zip(*[np.asarray(c).tolist() for c in mine], strict=True))
    rows_b = list(zip(*[np.asarray(c).tolist() for c in theirs], strict=True))
    for i, j in zip(rng.integers(0, n, 300), rng.integers(0, 2000, 300), strict=True):
        assert (key_a[i] == key_b[j]) == (rows_a[i] == rows_b[j])
    assert (key_b == key_a[pick]).all()
    stray = (np.array([7]), np.array([99]), np.array([1]), np.array([1.0]))  # unknown service
    _, stray_key = _group_keys(mine, stray)
    assert stray_key[0] not in set(key_a.tolist())


def test_answer_cells_keep_the_answers_columns_and_drop_other_questions():
    """A national year at 100 M responses holds 80 M answer rows per column: `_cells` uses the
    answers' columns as they are when every row is a report question's (no copy), and keeps
    only the report questions' rows otherwise, each with its respondent group's weight."""
    from types import SimpleNamespace

    from survey_app.reporting.report import _cells

    rng = np.random.default_rng(5)
    n = 400
    answers = {
        "office": rng.integers(0, 6, n),
        "service_id": rng.integers(1, 4, n).astype(float),
        "channel": rng.integers(0, 3, n).astype(float),
        "probability": rng.choice([1.0, 0.5], n),
        "question_id": rng.choice([11, 12, 13], n).astype(float),
        "value": rng.integers(1, 6, n).astype(float),
        "count": rng.integers(1, 9, n).astype(float),
    }

    def attach(office, service, channel, probability):  # a weight each row can be told by
        weight = office * 1000 + service * 100 + channel * 10 + probability
        return weight, office * 3 + channel, weight * 2

    weighted = SimpleNamespace(attach=attach)
    every = [{"ids": [11, 12]}, {"ids": [13]}]  # question 11 and 12 share a column
    cells = _cells(answers, weighted, every)
    assert np.shares_memory(cells["value"], answers["value"])
    assert np.shares_memory(cells["office"], answers["office"])
    assert cells["column"].tolist() == [0 if q in (11, 12) else 1 for q in answers["question_id"]]

    some = [{"ids": [13]}, {"ids": [11]}]  # question 12 is not the report's: its rows dropped
    cells = _cells(answers, weighted, some)
    kept = answers["question_id"] != 12
    assert cells["count"].size == kept.sum() < n
    assert not np.shares_memory(cells["value"], answers["value"])
    for name in ("value", "count"):
        assert cells[name].tolist() == answers[name][kept].tolist()
    assert cells["column"].tolist() == [0 if q == 13 else 1 for q in answers["question_id"][kept]]
    expected = attach(
        *(answers[k][kept] for k in ("office", "service_id", "channel", "probability"))
    )
    assert cells["weight"].tolist() == expected[0].tolist()
    assert cells["stratum"].tolist() == expected[1].astype(np.int64).tolist()
    assert cells["service_id"].dtype == np.int64 and cells["channel"].dtype == np.int64
