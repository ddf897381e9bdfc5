"""Reference data from CSV: offices, services and counters, upserted by code."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete, insert, select

from ..extensions import db
from ..models import Counter, Office, OfficeKind, RankingGroup, Service, office_services
from .csvcore import CsvErrors, CsvRow, ImportSummary, find_duplicates, read_csv


def _assign(obj, values: dict) -> bool:
    """Set the values that differ on obj; whether any did."""
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


def _parent_cycles(rows: list[CsvRow], parents: dict[str, str | None]) -> None:
    for row in rows:
        start, chain, code = row.get("code"), [row.get("code")], parents.get(row.get("code"))
        while code is not None and code not in chain:
            chain.append(code)
            code = parents.get(code)
        if code == start:
            row.error("parent_code", "parents form a cycle: " + " → ".join(chain + [start]))


def import_offices(path: Path) -> ImportSummary:
    """Upsert offices by code from a CSV file (parents may come later in the file); flush only."""
    errors = CsvErrors(path)
    rows = read_csv(
        path,
        ("code", "name", "kind", "group", "parent_code"),
        ("name_en", "sms_sampling_rate", "is_active", "hotline", "complaint_route"),
        errors,
    )
    find_duplicates(rows, lambda r: r.get("code"), "code", errors)
    existing = {office.code: office for office in db.session.scalars(select(Office))}
    parents = {o.code: o.parent.code if o.parent else None for o in existing.values()}
    file_codes, items = {r.get("code") for r in rows}, []
    for row in rows:
        values = {
            "code": row.code("code"),
            "name": row.text("name"),
            "kind": row.choice("kind", OfficeKind),
            "group": row.choice("group", RankingGroup, required=False),
        }
        if row.has("name_en"):
            values["name_en"] = row.text("name_en", required=False)
        if row.has("sms_sampling_rate"):
            values["sms_sampling_rate"] = row.number("sms_sampling_rate", 0, 1, default=1.0)
        if row.has("is_active"):
            values["is_active"] = row.boolean("is_active", default=True)
        if row.has("hotline"):  # the thank-you page's next step (empty: the parent's)
            values["hotline"] = row.text("hotline", 32, required=False)
        if row.has("complaint_route"):
            values["complaint_route"] = row.text("complaint_route", 500, required=False)
        parent = row.code("parent_code", required=False)
        if parent and parent not in existing and parent not in file_codes:
            row.error("parent_code", f"no office {parent!r} in the database or this file")
        parents[row.get("code")] = parent
        items.append((values, parent))
    _parent_cycles(rows, parents)
    errors.raise_if_any()

    summary = ImportSummary()
    created = {}
    for values, _ in items:
        if values["code"] not in existing:
            created[values["code"]] = existing[values["code"]] = Office(**values)
            db.session.add(created[values["code"]])
    db.session.flush()
    for values, parent in items:
        office = existing[values["code"]]
        values["parent_id"] = existing[parent].id if parent else None
        changed = _assign(office, values)
        summary.tally(values["code"] in created, changed)
    db.session.flush()
    return summary


def _office_codes(row: CsvRow, offices: dict[str, int]) -> list[int]:
    ids = []
    for code in dict.fromkeys(c.strip() for c in row.get("office_codes").split(";")):
        if not code:
            continue
        if code not in offices:
            row.error("office_codes", f"no office {code!r} (import offices first)")
        else:
            ids.append(offices[code])
    return ids


def import_services(path: Path) -> ImportSummary:
    """Upsert services by code; an office_codes column sets exactly which offices offer each."""
    errors = CsvErrors(path)
    rows = read_csv(path, ("code", "name", "field"), ("name_en", "office_codes"), errors)
    find_duplicates(rows, lambda r: r.get("code"), "code", errors)
    offices = dict(db.session.execute(select(Office.code, Office.id)).all())
    items = []
    for row in rows:
        values = {
            "code": row.code("code", max_length=64),
            "name": row.text("name", 500),
            "field": row.text("field"),
        }
        if row.has("name_en"):
            values["name_en"] = row.text("name_en", 500, required=False)
        links = _office_codes(row, offices) if row.has("office_codes") else None
        items.append((values, links))
    errors.raise_if_any()

    existing = {s.code: s for s in db.session.scalars(select(Service))}
    summary = ImportSummary()
    for values, links in items:
        service, is_new = existing.get(values["code"]), values["code"] not in existing
        if is_new:
            service = Service(**values)
            db.session.add(service)
            db.session.flush()
        changed = _assign(service, values)
        if links is not None:
            changed = _set_links(service.id, set(links)) or changed
        summary.tally(is_new, changed)
    db.session.flush()
    return summary


def _set_links(service_id: int, wanted: set[int]) -> bool:
    """Make office_services say exactly which offices offer a service; whether it changed."""
    table = office_services
    query = select(table.c.office_id).where(table.c.service_id == service_id)
    have = set(db.session.scalars(query))
    if have - wanted:
        db.session.execute(
            delete(table).where(
                table.c.service_id == service_id, table.c.office_id.in_(have - wanted)
            )
        )
    if wanted - have:
        db.session.execute(
            insert(table),
            [
                {"office_id": office_id, "service_id": service_id}
                for office_id in sorted(wanted - have)
            ],
        )
    return have != wanted


def import_counters(path: Path) -> ImportSummary:
    """Upsert counters by (office_code, code); flush only."""
    errors = CsvErrors(path)
    rows = read_csv(path, ("office_code", "code", "name"), ("name_en", "is_active"), errors)
    find_duplicates(rows, lambda r: (r.get("office_code"), r.get("code")), "code", errors)
    offices = dict(db.session.execute(select(Office.code, Office.id)).all())
    items = []
    for row in rows:
        office_code = row.code("office_code")
        if office_code and office_code not in offices:
            row.error("office_code", f"no office {office_code!r} (import offices first)")
        values = {"code": row.code("code"), "name": row.text("name")}
        if row.has("name_en"):
            values["name_en"] = row.text("name_en", required=False)
        if row.has("is_active"):
            values["is_active"] = row.boolean("is_active", default=True)
        items.append((offices.get(office_code), values))
    errors.raise_if_any()

    existing = {(c.office_id, c.code): c for c in db.session.scalars(select(Counter))}
    summary = ImportSummary()
    for office_id, values in items:
        counter = existing.get((office_id, values["code"]))
        if counter is None:
            db.session.add(Counter(office_id=office_id, **values))
            summary.tally(True, True)
        else:
            summary.tally(False, _assign(counter, values))
    db.session.flush()
    return summary
