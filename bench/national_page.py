"""The office page's reads of bench/national.py: a commune's page at national scale, signed in
as an analyst of its province (every office) and as the commune's own manager (scoped), in the
same process and in new ones (nothing in memory, the documents in the database's store)."""

from __future__ import annotations

import re
import statistics
import time

PASSWORD = "bench-national-password-1"


def sign_in(app, email="bench@mscore.test"):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)[1]
    res = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert res.status_code == 302, res.status_code
    return client


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
    from survey_app.models import Office, User

    def office_page(cache_seconds, nth=0, manager=False, period="2026-11"):
        app = create_app({**config, "DASHBOARD_CACHE_SECONDS": cache_seconds})
        with app.app_context():
            code = db.session.scalar(
                db.select(Office.code)
                .where(Office.kind == "commune", Office.parent.has(code="P01"))
                .order_by(Office.id)
                .offset(nth)
            )
            email = f"manager-{code}@mscore.test".lower() if manager else "bench@mscore.test"
            if manager and db.session.scalar(db.select(User.id).where(User.email == email)) is None:
                from survey_app.dashboard.users import create_user

                create_user(email, "Manager", "office_manager", code, PASSWORD)
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
