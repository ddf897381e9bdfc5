"""The office page's reads of bench/national.py: a commune's page at national scale, signed in
as an analyst of its province (every office) and as the commune's own manager (scoped), in the
same process and in new ones (nothing in memory, the documents in the database's store); then
`warm-reports`' office pages (warm_office_pages) with office managers of P01 communes, and a
warmed manager's first view."""

from __future__ import annotations

import re
import statistics
import time
from datetime import date, timedelta

PASSWORD = "bench-national-password-1"


def sign_in(app, email="bench@mscore.test"):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)[1]
    res = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert res.status_code == 302, res.status_code
    return client


def p01_communes(offset: int, limit: int):
    """The codes of P01's communes, in the order of their ids."""
    from survey_app.extensions import db
    from survey_app.models import Office

    return (
        db.select(Office.code)
        .where(Office.kind == "commune", Office.parent.has(code="P01"))
        .order_by(Office.id)
        .offset(offset)
        .limit(limit)
    )


def manager_of(code: str) -> str:
    """The email of the office's manager, added (flushed) if missing."""
    from survey_app.dashboard.users import create_user
    from survey_app.extensions import db
    from survey_app.models import User

    email = f"manager-{code}@mscore.test".lower()
    if db.session.scalar(db.select(User.id).where(User.email == email)) is None:
        create_user(email, "Manager", "office_manager", code, PASSWORD)
    return email


def cold_warm(label: str, make_call, repeat: int) -> None:
    call = make_call()  # a new app: its caches are cold
    started = time.perf_counter()
    size = call()
    cold = time.perf_counter() - started
    warm = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        warm.append(time.perf_counter() - started)
    warm_text = f"warm {statistics.median(warm):7.3f} s" if warm else "(no warm run)"
    print(f"{label:<40} cold {cold:7.3f} s   {warm_text}   ({size / 1e6:.2f} MB)", flush=True)


def page_reads(create_app, config: dict, repeat: int) -> None:
    """Time a P01 commune's office page (November 2026, the trend's twelve months)."""
    from survey_app.extensions import db

    def office_page(cache_seconds, nth=0, manager=False, period="2026-11"):
        app = create_app({**config, "DASHBOARD_CACHE_SECONDS": cache_seconds})
        with app.app_context():
            code = db.session.scalar(p01_communes(nth, 1))
            email = manager_of(code) if manager else "bench@mscore.test"
            db.session.commit()
        client = sign_in(app, email)

        def get():
            res = client.get(f"/offices/{code}?period={period}")
            assert res.status_code == 200, res.status_code
            return len(res.data)

        return get

    def page(cache_seconds, fresh=False, nth=0, manager=False, period="2026-11"):
        def make():
            if fresh:  # a new process: nothing in memory, the documents in the store
                from survey_app.dashboard.data import clear_cache
                from survey_app.reporting import kept

                clear_cache()
                kept.clear()
            return office_page(cache_seconds, nth, manager, period)

        return make

    cold_warm("office page of a commune (P01 analyst)", page(600), repeat)
    cold_warm("the same, no document cache", page(0), repeat)
    # a commune's own manager: its documents are its own (disclosure control), compared with
    # the group's reports, here kept by the analyst's pages
    cold_warm("a commune's manager, the same process", page(600, False, 3, True), repeat)
    cold_warm("the same, a new process (stored documents)", page(600, True), repeat)
    cold_warm("another commune, a new process", page(600, True, 1), repeat)
    cold_warm("the next commune, the same process", page(600, False, 2), repeat)
    cold_warm("another commune's manager, a new process", page(600, True, 4, True), repeat)
    # a manager's monthly visit: the month before viewed (its trend months stored), then the
    # new month in a new process
    cold_warm("a manager's October, a new process", page(600, True, 5, True, "2026-10"), 0)
    cold_warm("the same manager's November, a new process", page(600, True, 5, True), repeat)
    warmed_managers(create_app, config, page, repeat)


def warmed_managers(create_app, config: dict, page, repeat: int, first=10, count=20) -> None:
    """`warm-reports`' office pages (every group's, then its managers' own) of October 2026, the
    managers' first warming (each computes its twelve months), then of November (the months
    before stored), with managers of ``count`` P01 communes; then a warmed manager's first view
    of November in a new process. And the next night's warming, with nothing changed (every
    page read from the store), the quarter's and the year's, and a warmed year's first view."""
    from survey_app.dashboard.data import clear_cache
    from survey_app.dashboard.warming import warm_office_pages
    from survey_app.extensions import db
    from survey_app.reporting import Period, kept

    app = create_app({**config, "DASHBOARD_CACHE_SECONDS": 600})
    with app.app_context():
        codes = db.session.scalars(p01_communes(first, count)).all()
        for code in codes:
            manager_of(code)
        db.session.commit()
        # the managers' first warming; the next month's; the next night's (nothing changed);
        # the quarter's and the year's (warm-reports stores the last ended ones too)
        for name, first_day, last_day in (
            ("October", date(2026, 10, 1), date(2026, 10, 31)),
            ("November", date(2026, 11, 1), date(2026, 11, 30)),
            ("November again", date(2026, 11, 1), date(2026, 11, 30)),
            ("2026-Q3", date(2026, 7, 1), date(2026, 9, 30)),
            ("2025", date(2025, 1, 1), date(2025, 12, 31)),
        ):
            clear_cache()  # a new process
            kept.clear()
            started = time.perf_counter()
            done = warm_office_pages(Period(first_day, last_day))
            total = time.perf_counter() - started
            managed = [(n, s) for _g, _o, n, _w, s in done if n]
            n, seconds = sum(n for n, _ in managed), sum(s for _, s in managed)
            print(
                f"warm office pages, {name}: {len(done)} groups in {total:7.3f} s, of which "
                f"{n} managers' own pages {seconds:7.3f} s ({seconds / max(n, 1):.3f} s each)",
                flush=True,
            )
    if codes:
        label = "a warmed manager's November, a new process"
        cold_warm(label, page(600, True, first, True), repeat)
        cold_warm("a warmed manager's 2025, a new process", page(600, True, first, True, "2025"), 0)
        cold_warm("an analyst's 2025 (warmed), a new process", page(600, True, 1, False, "2025"), 0)


def warm_reads(create_app, config: dict) -> None:
    """`warm-reports`' office pages of every ended period of the dashboard's selector (the
    groups' pages, as an official who sees every office gets them) on 7 December 2026: the
    first night (as a new process, with what the store holds: delete report_texts first for a
    first night), the next (all stored), and one 18 days later (more than half
    REPORT_STORE_DAYS: every text found stored is marked stored again, text_store.py)."""
    from sqlalchemy import func, select, text

    from survey_app.dashboard.charts import start_engine
    from survey_app.dashboard.data import clear_cache
    from survey_app.dashboard.filters import ended_choice_keys, period_of
    from survey_app.dashboard.warming import warm_office_pages
    from survey_app.extensions import db
    from survey_app.models import ReportText, utcnow
    from survey_app.reporting import kept

    keys = ended_choice_keys(date(2026, 12, 7))
    app = create_app({**config, "DASHBOARD_CACHE_SECONDS": 600})
    with app.app_context():
        for night in ("first night", "next night", "18 days later"):
            if night == "18 days later":
                aged = "update report_texts set stored_at = stored_at - interval '18 days'"
                db.session.execute(text(aged))
                db.session.commit()
            clear_cache()  # a new process
            kept.clear()
            seconds = {}
            for key in keys:
                started = time.perf_counter()
                warm_office_pages(period_of(key), managers=False)
                seconds[key] = time.perf_counter() - started
            kinds = {
                kind: sum(s for k, s in seconds.items() if test(k))
                for kind, test in (
                    ("months", lambda k: len(k) == 7 and "Q" not in k),
                    ("quarters", lambda k: "Q" in k),
                    ("years", lambda k: len(k) == 4),
                )
            }
            print(
                f"warm every ended period's office pages, {night}: {len(keys)} periods in "
                f"{sum(seconds.values()):7.3f} s ("
                + ", ".join(f"{kind} {s:.1f} s" for kind, s in kinds.items())
                + f"; slowest {max(seconds, key=seconds.get)} {max(seconds.values()):.1f} s)",
                flush=True,
            )
        old = ReportText.stored_at < utcnow() - timedelta(days=17.5)
        left = db.session.scalar(select(func.count()).where(old))
        total = db.session.scalar(select(func.count()).select_from(ReportText))
        print(f"stored texts not marked stored again 18 days later: {left} of {total}", flush=True)
        start_engine()  # as a web worker does at its start (gunicorn_conf.py)
    # managers whose own pages were never warmed (managers=False above): each one's first view
    # of a period, in a new process, reads the group's stored arrays and months; two managers a
    # period, after the process's first page (an analyst's, stored: what a worker's first
    # request pays once, about 0.15 s more, is not counted in a manager's view)
    with app.app_context():
        last = db.session.scalars(p01_communes(0, None)).all()[-6:]  # no manager of the bench's
        emails = [manager_of(code) for code in last]
        db.session.commit()
    clear_cache()
    kept.clear()
    client = sign_in(app)
    started = time.perf_counter()
    assert client.get(f"/offices/{last[0]}?period=2026-08").status_code == 200
    print(f"the process's first page (an analyst's, stored): {time.perf_counter() - started:.3f} s")
    periods = ("2026-08", "2026-Q2", "2025") * 2
    for code, email, period in zip(last, emails, periods, strict=True):
        clear_cache()
        kept.clear()
        client = sign_in(app, email)
        started = time.perf_counter()
        res = client.get(f"/offices/{code}?period={period}")
        assert res.status_code == 200, res.status_code
        print(
            f"a manager not warmed, first view of {period}, a new process: "
            f"{time.perf_counter() - started:.3f} s",
            flush=True,
        )
