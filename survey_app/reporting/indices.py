"""The indices' side of the report: respondents' answer patterns → element and overall indices.

The rollup counts respondents per pattern (bit masks over the questions' positions of the SIPAS
element items answered and rated 4 or 5, counts.py); here the masks become per-item booleans,
the rows get their respondent group's weight and stratum, and `analysis.index_estimates`
linearises each index over respondents in the whole sample's design. A blank index gets its
reason.
"""

from __future__ import annotations

import numpy as np

import analysis
from analysis.moments import Moments

from ..models.surveys import SIPAS_ELEMENTS
from .weighting import lookup
from .year_moments import report_layout


def answer_patterns(part: dict, weighted, questions, moments: dict | None = None) -> dict:
    """Pattern rows with their respondent group's weight and stratum, and per row which of the
    report's element items (columns ``items``) the respondents answered and were satisfied with;
    with ``moments`` (year_moments.fetch_moments' rows), those rows over the same items too."""
    items = [c for c, q in enumerate(questions) if is_element_item(q)]
    summed = _moments(moments, weighted, questions, items) if moments is not None else None
    qn_ids = sorted({qn for c in items for qn, _pos in questions[c]["slots"]})
    bit = np.full((len(qn_ids), len(items)), -1, dtype=np.int64)
    for j, c in enumerate(items):
        for qn, position in questions[c]["slots"]:
            bit[qn_ids.index(qn), j] = position
    for row in bit:
        used = row[row >= 0]
        if (used > 62).any() or np.unique(used).size != used.size:
            raise RuntimeError("a questionnaire's element items need distinct positions 0 … 62")
    qn = lookup(part["questionnaire_id"], qn_ids, np.arange(len(qn_ids)))
    office = part["office"].astype(np.int64)
    keep = (qn >= 0) & (office >= 0)
    qn, office = qn[keep], office[keep]
    weight, stratum, _population = weighted.attach(
        office,
        part["service_id"][keep],
        part["channel"][keep],
        part["probability"][keep],
    )
    answered = np.zeros((qn.size, len(items)), dtype=bool)
    satisfied = np.zeros((qn.size, len(items)), dtype=bool)
    masks = part["answered"][keep].astype(np.int64), part["satisfied"][keep].astype(np.int64)
    for j in range(len(items)):
        shift = bit[qn, j]
        has = shift >= 0
        shift = np.maximum(shift, 0)
        answered[:, j] = has & ((masks[0] >> shift) & 1).astype(bool)
        satisfied[:, j] = has & ((masks[1] >> shift) & 1).astype(bool)
    return {
        "items": items,
        "office": office,
        "stratum": stratum.astype(np.int64),
        "weight": weight,
        "count": part["count"][keep],
        "answered": answered,
        "satisfied": satisfied,
        "moments": summed,
    }


def _moments(part: dict, weighted, questions, items) -> dict:
    """Year moment rows over the report's items, with their respondent group's weight and
    stratum (rows of questionnaires without the report's items, or of no office, left out)."""
    members, sums = report_layout(part, questions, items)
    keep = part["office"] >= 0
    office = part["office"][keep].astype(np.int64)
    weight, stratum, _population = weighted.attach(
        office, part["service_id"][keep], part["channel"][keep], part["probability"][keep]
    )
    return {
        "office": office,
        "stratum": stratum.astype(np.int64),
        "weight": weight,
        "count": part["count"][keep],
        "members": members[keep],
        "sums": sums[keep],
    }


def is_element_item(question: dict) -> bool:
    """A likert question of one of the five SIPAS elements (what the indices are made of)."""
    return question["kind"] == "likert5" and question["dimension"] in SIPAS_ELEMENTS


def index_tables(patterns, design, domain_of_office, n_domains, questions, params):
    """Element indices by name and the overall index, from the respondents' patterns; all None
    when the questionnaire lacks an element."""
    dims = [questions[c]["dimension"] for c in patterns["items"]]
    if any(element not in dims for element in SIPAS_ELEMENTS):
        return dict.fromkeys(map(str, SIPAS_ELEMENTS)), None
    office = patterns["office"]
    summed = patterns.get("moments")
    moments = None
    if summed is not None and summed["office"].size:
        moments = Moments(
            domain=domain_of_office[summed["office"]],
            stratum=summed["stratum"],
            weight=summed["weight"],
            count=summed["count"],
            members=summed["members"],
            sums=summed["sums"],
            n_domains=n_domains,
        )
    elements, overall = analysis.index_estimates(
        analysis.Patterns(
            domain=domain_of_office[office] if office.size else office,
            stratum=patterns["stratum"],
            count=patterns["count"],
            weight=patterns["weight"],
            answered=patterns["answered"],
            satisfied=patterns["satisfied"],
            n_domains=n_domains,
            design=design,
        ),
        [SIPAS_ELEMENTS.index(d) for d in dims],
        level=params.level,
        moments=moments,
    )
    split = {str(e): elements.select((slice(None), i)) for i, e in enumerate(SIPAS_ELEMENTS)}
    return split, overall


def blank_reasons(tables: dict, questions, n_domains: int) -> dict:
    """Why each blank index is blank, so that a report never shows a bare empty value.

    An element: ``no_respondents`` (nobody answered any of its items), ``item_without_answers``
    (with the items nobody answered), or ``not_in_questionnaire``. The overall index:
    ``no_respondents`` or ``element_blank`` (with the blank elements). (A blank question is one
    nobody answered: its n is 0.)
    """

    def column(values):
        out = np.empty(n_domains, dtype=object)
        if isinstance(values, list):  # of lists: one by one, or numpy would nest them
            for i, value in enumerate(values):
                out[i] = value
        else:
            out[:] = values
        return out

    notes = {}
    for element in map(str, SIPAS_ELEMENTS):
        table = tables.get(element)
        if table is None:
            notes[element] = (column("not_in_questionnaire"), column([[]] * n_domains))
            continue
        codes = [q["code"] for q in questions if is_element_item(q) and q["dimension"] == element]
        empty = np.stack([tables[f"q:{c}"].n == 0 for c in codes], axis=1)
        blank = np.isnan(table.value)
        reason = np.where(
            table.n == 0, "no_respondents", np.where(blank, "item_without_answers", None)
        )
        missing = [
            [c for c, e in zip(codes, row, strict=True) if e] if b and n else []
            for row, b, n in zip(empty.tolist(), blank.tolist(), table.n.tolist(), strict=True)
        ]
        notes[element] = (column(reason), column(missing))
    index = tables.get("index")
    if index is None:
        notes["index"] = (column("not_in_questionnaire"), column([[]] * n_domains))
    else:
        names = list(map(str, SIPAS_ELEMENTS))
        blank_elements = np.stack([np.isnan(tables[e].value) for e in names], axis=1)
        reason = np.where(
            index.n == 0, "no_respondents", np.where(np.isnan(index.value), "element_blank", None)
        )
        missing = [
            [e for e, b in zip(names, row, strict=True) if b] if n else []
            for row, n in zip(blank_elements.tolist(), index.n.tolist(), strict=True)
        ]
        notes["index"] = (column(reason), column(missing))
    return notes
