"""Warming the officials' pages at night (`flask mscore warm-reports`): every group's office
pages of an ended period, the arrays scoped officials' comparisons read, and each office
manager's own page, stored (dashboard/data.py) so that the next day's first views compute
nothing; what is found stored by an earlier night is marked stored again."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import select

from ..api.auth import subtree
from ..extensions import db
from ..models import Office, Role, User
from ..reporting import NOT_GROUPED, Period
from ..reporting.comparisons import arrays_key, group_params, store_arrays
from ..reporting.kept import tag
from ..reporting.text_store import document_key, refresh_families, refreshing
from .data import _params, months_of, office_page_documents


def warm_office_pages(
    period: Period, managers: bool = True
) -> list[tuple[str, int, int, float, float]]:
    """Compute and store the office pages' documents of an ended period, a group at a time:
    first as an official who sees every office gets them (one office's page stores every
    office's part of the group's document and slice of each trend month, :func:`_past_document`,
    :func:`_past_trend`) and the arrays of the group's report that scoped officials'
    comparisons read (reporting/comparisons.py `store_arrays`); then, with ``managers``, each
    office manager's page of their own office, as they see it (their scope's own documents
    under disclosure control, :func:`managed_offices`). So any office's first view, in any
    process, reads them, and a scoped official's first view of the period computes only its
    own reports. What it finds stored by an earlier
    night counts as stored again (reporting/text_store.py `refreshing`; with every office's
    part and slice, :func:`stored_families`), so it is not pruned for its age while it is warmed.
    Commits after each page; returns per group (group, its offices, its managers' offices,
    seconds for the group's pages, seconds for the managers')."""
    groups: dict[str, list[str]] = {}
    for code, group in db.session.execute(select(Office.code, Office.group).order_by(Office.code)):
        groups.setdefault(str(group) if group else NOT_GROUPED, []).append(code)
    managed = managed_offices() if managers else {}
    done = []
    for group, codes in sorted(groups.items()):
        started = time.perf_counter()
        with refreshing():
            office_page_documents(None, period, group, codes[0])
            store_arrays(_params(None, period, group, compare=True, questions=True))
            refresh_families(stored_families(period, group, codes))
            db.session.commit()
            whole = time.perf_counter() - started
            for office_id, code in managed.get(group, []):
                office_page_documents(subtree(office_id), period, group, code)
                db.session.commit()
        db.session.commit()
        own = time.perf_counter() - started - whole
        done.append((group, len(codes), len(managed.get(group, [])), whole, own))
    return done


def stored_families(period: Period, group: str, codes: list[str]) -> list[tuple[str, Callable]]:
    """The families of texts that one office's page of a group and ended period stores at once
    for every office of ``codes`` (:func:`_past_document`, :func:`_past_trend`), each as the
    store's key of the first office's text (what a page of ``codes[0]`` reads) and a function
    naming the family's keys: every office's part of the group's document (with the arrays the
    scoped officials' comparisons read, reporting/comparisons.py), and of each trend month
    every office's slice (with the whole month, which a scoped official's trend reads)."""
    page = _params(None, period, group, compare=True, questions=True, breakdowns=True)
    key = tag(page, True)

    def parts(key=key) -> list[str]:
        return [document_key(f"{key} office {code}") for code in codes] + [arrays_key(page)]

    families = [(document_key(f"{key} office {codes[0]}"), parts)]
    for month in months_of(period):
        key = tag(group_params(_params(None, month, group)), False)

        def slices(key=key) -> list[str]:
            return [document_key(f"{key} trend {code}") for code in codes] + [
                document_key(f"{key} trend"),
                document_key(f"{key} trend columns"),
            ]

        families.append((document_key(f"{key} trend {codes[0]}"), slices))
    return families


def managed_offices() -> dict[str, list[tuple[int, str]]]:
    """Per ranking group, the offices (id, code) that an enabled office manager signs in to:
    the scope of their pages is the office's subtree (api.reports.authenticate)."""
    rows = db.session.execute(
        select(Office.id, Office.code, Office.group)
        .where(
            Office.id.in_(
                select(User.office_id).where(User.role == Role.OFFICE_MANAGER, User.is_enabled)
            )
        )
        .order_by(Office.code)
    )
    managed: dict[str, list[tuple[int, str]]] = {}
    for office_id, code, group in rows:
        managed.setdefault(str(group) if group else NOT_GROUPED, []).append((office_id, code))
    return managed
