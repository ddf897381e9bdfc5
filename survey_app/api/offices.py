"""GET /api/v1/offices: the office hierarchy a token may see."""

from __future__ import annotations

from sqlalchemy import select

from ..extensions import db
from ..models import Office
from . import bp
from .report_schemas import OfficeOut
from .reports import REPORTS_READ, authenticate


def hierarchy(scope: set[int] | None) -> list[dict]:
    """Offices in depth-first order with their depth; a parent outside the scope is hidden."""
    rows = db.session.execute(
        select(
            Office.id,
            Office.code,
            Office.name,
            Office.name_en,
            Office.kind,
            Office.group,
            Office.parent_id,
            Office.is_active,
        ).order_by(Office.code)
    ).all()
    by_id = {r.id: r for r in rows if scope is None or r.id in scope}
    children: dict[int | None, list] = {}
    for row in by_id.values():
        parent = row.parent_id if row.parent_id in by_id else None
        children.setdefault(parent, []).append(row)
    out, stack = [], [(row, 0) for row in reversed(children.get(None, []))]
    while stack:
        row, depth = stack.pop()
        parent = by_id.get(row.parent_id)
        out.append(
            {
                "code": row.code,
                "name": row.name,
                "name_en": row.name_en,
                "kind": str(row.kind),
                "group": str(row.group) if row.group else None,
                "parent_code": parent.code if parent else None,
                "is_active": row.is_active,
                "depth": depth,
            }
        )
        stack.extend((child, depth + 1) for child in reversed(children.get(row.id, [])))
    return out


@bp.get("/offices")
def list_offices():
    """The offices in scope, parents before children, each with its parent's code and depth."""
    offices = OfficeOut(many=True).dump(hierarchy(authenticate(REPORTS_READ)))
    db.session.commit()
    return {"offices": offices}
