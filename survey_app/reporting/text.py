"""The report as the API sends it: UTF-8 JSON text written column by column, equal to
:func:`tables.report_json`'s document. A year over 1,000 offices is ~15,000 estimates; building
their dicts for json.dumps took a third of a request."""

from __future__ import annotations

import json

import numpy as np
import orjson

from ..models.surveys import SIPAS_ELEMENTS
from .report import Report
from .tables import (
    ESTIMATE_KEYS,
    FLAT,
    INTEGERS,
    NESTED,
    OFFICE_META,
    _counts,
    _head,
    _plain,
    _prepare,
)

_DUMP = {"ensure_ascii": False, "allow_nan": False, "separators": (",", ":")}


def _dumps(value) -> bytes:
    """Compact UTF-8 JSON text of plain values (orjson: like json.dumps, ensure_ascii=False)."""
    return orjson.dumps(value)


def _json_bytes(value) -> bytes:
    """UTF-8 JSON text of a label or note, as json.dumps(ensure_ascii=False) writes it."""
    return json.dumps(value, **_DUMP).encode()


def _json_column(values, key: str) -> list[bytes]:
    """UTF-8 JSON texts of an array's values, as :func:`_plain` and json.dumps would write
    them (bytes throughout: the document is sent as UTF-8, never decoded and encoded again)."""
    arr = np.asarray(values)
    if arr.dtype.kind == "b":
        texts = (b"false", b"true")
        return [texts[v] for v in arr.tolist()]
    if arr.dtype.kind in "US":  # few distinct labels (tiers)
        labels, inverse = np.unique(arr, return_inverse=True)
        texts = [_json_bytes(v) for v in labels.tolist()]
        return [texts[i] for i in inverse.ravel().tolist()]
    if arr.dtype.kind not in "iuf":  # notes: None, a reason or a list of codes, few distinct
        texts: dict = {}
        out = []
        for value in _plain(arr, key):
            seen = tuple(value) if isinstance(value, list) else value
            text = texts.get(seen)
            if text is None:
                text = texts[seen] = _json_bytes(value)
            out.append(text)
        return out
    out = arr.astype(float)
    if not out.size:
        return []
    if np.isinf(out).any():
        raise ValueError(f"an infinite {key} cannot be written as JSON")
    nan = np.isnan(out)
    if key in INTEGERS:
        out = np.where(nan, 0, out).astype(np.int64)
    # orjson writes a numpy array in C (NaN as null), 8x faster than json over a list; numbers
    # hold no commas, so the array's text splits into the values' texts.
    texts = orjson.dumps(out, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1].split(b",")
    if key in INTEGERS and nan.any():
        for i in np.flatnonzero(nan).tolist():
            texts[i] = b"null"
    return texts


def _estimate_texts(block: dict, rows: np.ndarray) -> list[bytes]:
    """:func:`_estimates` as JSON texts, one object per selected row."""
    cols = {k: _json_column(v[rows], k) for k, v in block.items()}
    order = [k for k in (*ESTIMATE_KEYS, *FLAT) if k in cols]
    fields = [f'"{k}":%b' for k in order]
    for name, pairs in NESTED.items():
        present = [(o, k) for o, k in pairs if k in cols]
        if present:
            fields.append(f'"{name}":{{' + ",".join(f'"{o}":%b' for o, _k in present) + "}")
            order += [k for _o, k in present]
    template = ("{" + ",".join(fields) + "}").encode()
    return [template % vals for vals in zip(*[cols[k] for k in order], strict=True)]


def _entry_texts(
    blocks: dict,
    stats: dict,
    rows: np.ndarray,
    overall_question,
    tails: list[dict],
    questions: bool = True,
) -> list[bytes]:
    """:func:`_entries` as UTF-8 JSON texts, each ending with its ``tails`` item (meta data);
    without the per-question estimates unless ``questions``."""
    per = {
        name: _estimate_texts(block, rows)
        for name, block in blocks.items()
        if questions or not name.startswith("q:") or name == overall_question
    }
    st = {k: _plain(v[rows], k) for k, v in stats.items()}

    def member(name: str) -> bytes:  # a key of the template below: a % in it stays a %
        return _json_bytes(name).replace(b"%", b"%%") + b":%b"

    # The estimates of an entry are one template filled with each measure's text for the row.
    nulls = [b"null"] * rows.size
    columns = [per["index"], *[per[str(e)] for e in SIPAS_ELEMENTS], per.get(overall_question)]
    columns[-1] = nulls if columns[-1] is None else columns[-1]
    template = (
        b',"index":%b,"elements":{'
        + b",".join(member(str(e)) for e in SIPAS_ELEMENTS)
        + b'},"overall_question":%b,'
    )
    if questions:
        items = [(name[2:], texts) for name, texts in per.items() if name.startswith("q:")]
        template += b'"questions":{' + b",".join(member(code) for code, _ in items) + b"},"
        columns += [texts for _, texts in items]
    out = []
    for i, middle in enumerate(template % vals for vals in zip(*columns, strict=True)):
        before, after = _counts(st, i)
        out.append(b"".join((_dumps(before)[:-1], middle, _dumps({**after, **tails[i]})[1:])))
    return out


def report_text(report: Report, extra: dict | None = None, questions: bool = True) -> bytes:
    """:func:`report_json` as UTF-8 JSON text (``extra``: more top-level members, e.g. breakdowns);
    without the offices' and groups' per-question estimates unless ``questions``."""
    offices = report.offices
    rows, asked = _prepare(report)
    oq = report.current.overall_question
    office_entries = _entry_texts(
        report.office_blocks,
        report.current.stats,
        rows,
        oq,
        [{k: offices[i][k] for k in OFFICE_META} for i in rows.tolist()],
        questions,
    )
    group_entries = _entry_texts(
        report.group_blocks,
        report.group_current.stats,
        np.arange(len(report.groups)),
        oq,
        [
            {"group": name, "offices": sum(o["group"] == name for o in offices)}
            for name in report.groups
        ],
        questions,
    )
    head = _head(report, asked, "\0offices", "\0groups")
    text = _json_bytes({**head, **(extra or {})})
    before, _, rest = text.partition(b'"\\u0000offices"')
    between, _, after = rest.partition(b'"\\u0000groups"')
    return b"".join(
        (
            before,
            b"[",
            b",".join(office_entries),
            b"]",
            between,
            b"[",
            b",".join(group_entries),
            b"]",
            after,
        )
    )
