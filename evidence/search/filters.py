"""Search filters: type, approach, outcome domain, area of work and place
become one boolean mask over the vector index's items, applied before
anything is ranked. Unknown values are refused with the valid ones listed.
"""
from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from difflib import get_close_matches

import numpy as np

from evidence.errors import EvidenceError
from evidence.search.index import TYPES, VectorIndex

NO_TAGS = "no outcome tags in this database; run evidence build with tagging"


@dataclass
class Filters:
    """What to keep before ranking; None or '' means no filter."""

    type: str | None = None
    approach: str | None = None
    domain: str | None = None
    area: str | None = None
    place: str | None = None

    def active(self) -> bool:
        return any(v for v in asdict(self).values())


def columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA table_info([{table}])")]


def _resolve(value: str, known: dict[str, str], what: str, plural: str) -> str:
    """Map a user's value (id or label, any case) to a known id, or fail
    with the list of valid values."""
    hit = known.get(value.strip().lower())
    if hit is not None:
        return hit
    ids = sorted(set(known.values()))
    close = get_close_matches(value.lower(), list(known), n=1)
    hint = f" (did you mean '{known[close[0]]}'?)" if close else ""
    shown = ", ".join(ids[:30]) + (", ..." if len(ids) > 30 else "")
    raise EvidenceError(f"unknown {what} '{value}'{hint}; {plural}: {shown or '(none)'}")


def _known(conn: sqlite3.Connection, sql: str) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        for row in conn.execute(sql):
            for name in row:
                if name:
                    out.setdefault(str(name).lower(), row[0])
    except sqlite3.OperationalError:
        pass
    return out


def filter_mask(idx: VectorIndex, conn: sqlite3.Connection, filters: Filters) -> np.ndarray | None:
    """A mask over the index's items for these filters (None: keep all).
    Unknown values raise EvidenceError naming the valid ones."""
    if not filters.active():
        return None
    mask = np.ones(idx.size, dtype=bool)
    if filters.type:
        if filters.type not in TYPES:
            raise EvidenceError(f"unknown type '{filters.type}'; use story or finding")
        mask &= idx.item_type == TYPES.index(filters.type)
    for name, value, sql, plural in (
        ("approach", filters.approach, "SELECT id, name FROM approaches", "known approaches"),
        ("area_of_work", filters.area, "SELECT id, label FROM areas_of_work", "areas of work"),
    ):
        if value:
            wanted = _resolve(value, _known(conn, sql), name.replace("_", " "), plural)
            codes, values = idx.facets[name]
            mask &= codes == (values.index(wanted) if wanted in values else -2)
    if filters.place:
        codes, values = idx.facets["place"]
        known = {v.lower(): v for v in sorted(values) if v}
        wanted = _resolve(filters.place, known, "place", "places in this database")
        mask &= codes == values.index(wanted)
    if filters.domain:
        mask &= _domain_mask(idx, conn, filters.domain)
    return mask


def _domain_mask(idx: VectorIndex, conn: sqlite3.Connection, domain: str) -> np.ndarray:
    """Items tagged with an outcome domain ('framework/domain-id', a bare
    domain id, or a label), from the `tags` table; rejected tags are ignored."""
    cols = columns(conn, "tags")
    if not cols:
        raise EvidenceError(NO_TAGS)
    type_col = next((c for c in ("item_type", "kind", "type") if c in cols), None)
    id_col = next((c for c in ("item_id", "id") if c in cols), None)
    dom_col = next((c for c in ("domain", "domain_key", "domain_id") if c in cols), None)
    fw_col = next((c for c in ("framework", "framework_id") if c in cols), None)
    status_col = next((c for c in ("review_status", "review", "status") if c in cols), None)
    if not (type_col and id_col and dom_col):
        raise EvidenceError(f"{NO_TAGS} (the tags table has no item_type, item_id and domain columns)")
    key = f"[{dom_col}]"
    if fw_col:
        key = f"CASE WHEN instr([{dom_col}], '/') > 0 THEN [{dom_col}] ELSE [{fw_col}] || '/' || [{dom_col}] END"
    known = _known(conn, "SELECT id, domain_id, label FROM domains")
    for (tag_key,) in conn.execute(f"SELECT DISTINCT {key} FROM tags"):
        if tag_key:
            known.setdefault(str(tag_key).lower(), tag_key)
            known.setdefault(str(tag_key).rsplit("/", 1)[-1].lower(), tag_key)
    wanted = _resolve(domain, known, "domain", "known domains")
    bare = wanted.rsplit("/", 1)[-1]
    keys = [wanted] if "/" in domain or "/" not in wanted else sorted(
        {v for v in known.values() if v.rsplit("/", 1)[-1] == bare})  # a bare id: that domain in any framework
    where = f"{key} IN ({','.join('?' * len(keys))})"
    if status_col:
        where += f" AND COALESCE([{status_col}], '') != 'rejected'"
    mask = np.zeros(idx.size, dtype=bool)
    for t, i in conn.execute(f"SELECT DISTINCT [{type_col}], [{id_col}] FROM tags WHERE {where}", keys):
        item = idx.item(t, i)
        if item is not None:
            mask[item] = True
    return mask
