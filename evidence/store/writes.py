"""Every write of the build to the working database: records upserted by
id and content hash, what vanished deleted children first, the files table,
and the sweep of rows that any table still derives from a removed story.

Ids go to SQLite in chunks (`CHUNK` per IN (...)), through `select_in` and
`delete_in`, so no statement exceeds SQLite's variable limit.
"""
from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Protocol

from sqlite_utils.utils import chunks

from evidence.content.records import Approach, Area, Framework, Story, Study
from evidence.content.tree import ContentFile
from evidence.store import rows

CHUNK = 500  # ids per IN (...): well under SQLite's variable limit


class Counts(Protocol):
    """What a write reports back (the build's BuildSummary is one)."""

    added: int
    changed: int
    removed: int
    changed_ids: dict[str, list[str]]
    removed_ids: dict[str, list[str]]


def select_in(db, sql: str, ids: Iterable, params: Iterable = ()) -> Iterator[tuple]:
    """Rows of `sql` (with `{marks}` where the IN list goes) for every chunk of
    `ids`; `params` are bound before the ids."""
    params = list(params)
    for part in chunks(sorted(set(ids)), CHUNK):
        part = list(part)
        yield from db.execute(sql.format(marks=",".join("?" * len(part))), [*params, *part]).fetchall()


def delete_in(db, table: str, column: str, ids: Iterable, where: str = "", params: Iterable = ()) -> int:
    """Delete rows of `table` whose `column` is one of `ids` (and `where`, with
    `params`, when given); returns how many."""
    n = 0
    params = list(params)
    extra = f" AND {where}" if where else ""
    for part in chunks(sorted(set(ids)), CHUNK):
        part = list(part)
        cur = db.execute(f"DELETE FROM [{table}] WHERE [{column}] IN ({','.join('?' * len(part))}){extra}", [*part, *params])
        n += cur.rowcount
    return n


def upsert(db, table: str, rows_: list[dict], pk) -> None:
    """Insert or replace `rows_` in `table` by primary key `pk`."""
    if rows_:
        db[table].upsert_all(rows_, pk=pk, batch_size=CHUNK)


# ---------------------------------------------------------------------------
# Records


@dataclass
class Parsed:
    areas: list[Area] | None = None
    frameworks: list[Framework] = field(default_factory=list)
    approaches: list[Approach] = field(default_factory=list)
    studies: list[Study] = field(default_factory=list)
    stories: list[Story] = field(default_factory=list)


def upsert_records(db, table: str, rows: list[dict], summary: Counts, counted: bool = True, pk="id") -> None:
    if not rows:
        return
    if counted:
        ids = [r["id"] for r in rows]
        old = {r[0]: r[1] for r in select_in(db, f"SELECT id, content_hash FROM [{table}] WHERE id IN ({{marks}})", ids)}
        fresh = []
        for r in rows:
            if r["id"] not in old:
                summary.added += 1
            elif old[r["id"]] != r["content_hash"]:
                summary.changed += 1
            else:
                continue
            summary.changed_ids.setdefault(table, []).append(r["id"])
            fresh.append(r)
        rows = fresh
    if rows:
        db[table].upsert_all(rows, pk=pk, batch_size=500)


def delete_records(db, table: str, ids: set[str], summary: Counts | None) -> None:
    ids = {i for i in ids if i}
    if not ids:
        return
    n = delete_in(db, table, "id", ids)
    if summary is not None:
        summary.removed += n
        summary.removed_ids.setdefault(table, []).extend(sorted(ids))


def apply_records(db, parsed: Parsed, changed: list[ContentFile], removed: dict, summary: Counts) -> None:
    # previous records of every touched file, so that what vanished is deleted
    previous: dict[str, set[str]] = defaultdict(set)
    for path, row in removed.items():
        for key in json.loads(row["records"] or "[]"):
            previous[key.split(":", 1)[0]].add(key.split(":", 1)[1])
    for row in select_in(db, "SELECT records FROM files WHERE path IN ({marks})", [f.path for f in changed]):
        for key in json.loads(row[0] or "[]"):
            previous[key.split(":", 1)[0]].add(key.split(":", 1)[1])
    produced: dict[str, list[str]] = defaultdict(list)  # path -> record keys

    if parsed.areas is not None:
        if parsed.areas:
            db["areas_of_work"].upsert_all([rows.area_row(a) for a in parsed.areas], pk="id")
        for a in parsed.areas:
            produced[_path_of(changed, "area")].append(f"area:{a.id}")
    for fw in parsed.frameworks:
        row, domains, cross = rows.framework_rows(fw)
        upsert_records(db, "frameworks", [row], summary)
        keys = [d["id"] for d in domains]
        db.execute("DELETE FROM crosswalk WHERE from_domain IN (SELECT id FROM domains WHERE framework_id = ?)", [fw.id])
        db.execute(f"DELETE FROM domains WHERE framework_id = ? AND id NOT IN ({','.join('?' * len(keys))})", [fw.id, *keys])
        db["domains"].upsert_all(domains, pk="id")
        if cross:
            db["crosswalk"].insert_all(cross, pk=("from_domain", "to_domain"), ignore=True)
        produced[fw.path].append(f"framework:{fw.id}")
    upsert_records(db, "approaches", [rows.approach_row(a) for a in parsed.approaches], summary)
    for a in parsed.approaches:
        produced[a.path].append(f"approach:{a.id}")
    upsert_records(db, "studies", [rows.study_row(s) for s in parsed.studies], summary)
    upsert_records(db, "findings", [rows.finding_row(f) for s in parsed.studies for f in s.findings], summary)
    for s in parsed.studies:
        produced[s.path].append(f"study:{s.id}")
        produced[s.path].extend(f"finding:{f.id}" for f in s.findings)
    upsert_records(db, "stories", [rows.story_row(s) for s in parsed.stories], summary)
    touched_stories = set(summary.changed_ids.get("stories", []))
    if touched_stories:
        delete_people(db, touched_stories)
        db["story_people"].insert_all(
            [r for s in parsed.stories if s.id in touched_stories for r in rows.people_rows(s)],
            pk=("story_id", "position"))
    for s in parsed.stories:
        produced[s.path].append(f"story:{s.id}")

    # delete what touched files no longer produce, children first
    now: dict[str, set[str]] = defaultdict(set)
    for keys in produced.values():
        for key in keys:
            now[key.split(":", 1)[0]].add(key.split(":", 1)[1])
    gone = {kind: previous[kind] - now[kind] for kind in previous}
    if gone.get("story"):
        delete_people(db, gone["story"])
        delete_records(db, "stories", gone["story"], summary)
    delete_records(db, "findings", gone.get("finding", set()), summary)
    if gone.get("study"):
        delete_records(db, "findings", {r[0] for r in db.execute(
            f"SELECT id FROM findings WHERE study_id IN ({','.join('?' * len(gone['study']))})", sorted(gone["study"]))}, summary)
    delete_records(db, "studies", gone.get("study", set()), summary)
    delete_records(db, "approaches", gone.get("approach", set()), summary)
    for fid in gone.get("framework", set()):
        db.execute("DELETE FROM crosswalk WHERE from_domain IN (SELECT id FROM domains WHERE framework_id = ?) "
                   "OR to_domain IN (SELECT id FROM domains WHERE framework_id = ?)", [fid, fid])
        db.execute("DELETE FROM domains WHERE framework_id = ?", [fid])
    delete_records(db, "frameworks", gone.get("framework", set()), summary)
    delete_records(db, "areas_of_work", gone.get("area", set()), None)

    # the files table: what each file produced, so the next build can skip it
    delete_in(db, "files", "path", removed)
    db["files"].upsert_all([{
        "path": f.path, "kind": f.kind, "sha256": f.sha256, "size": len(f.data),
        "records": json.dumps(produced.get(f.path, [])),
    } for f in changed], pk="path", batch_size=500)


def delete_people(db, story_ids: set[str]) -> None:
    delete_in(db, "story_people", "story_id", story_ids)


def _path_of(changed: list[ContentFile], kind: str) -> str:
    return next(f.path for f in changed if f.kind == kind)


# ---------------------------------------------------------------------------
# The sweep: rows any table still derives from removed stories


RECORD_TABLES = {
    "meta", "files", "areas_of_work", "frameworks", "domains", "crosswalk", "approaches", "studies",
    "findings", "tombstones", "_sqlite_migrations", "sqlite_sequence", "sqlite_stat1", "sqlite_stat4",
}


REF_COLUMNS = (
    "story_id", "story", "item_id", "item", "source_id", "target_id", "from_id", "to_id", "from_item",
    "to_item", "doc_id", "document_id", "record_id", "parent_id", "ref_id", "left_id", "right_id", "a_id",
    "b_id", "id",
)


KIND_SUFFIXES = ("type", "kind", "table")  # item_type, from_kind, ...: which kind of record a reference names


STORY_KINDS = ("story", "stories")


NOT_STORY_PREFIXES = ("finding:", "finding/", "findings/", "study:", "studies/", "approach:", "approaches/")


def story_ref(value) -> str | None:
    """The story id a stored reference points at: 'x', 'story:x', 'stories/x',
    'x#3', 'x:p2', 'story:x:3' all point at x; None for anything else."""
    if not isinstance(value, str) or not value:
        return None
    v = value
    if v.startswith(NOT_STORY_PREFIXES):
        return None
    for prefix in ("story:", "stories/", "story/"):
        if v.startswith(prefix):
            v = v[len(prefix):]
            break
    return re.split(r"[:#/]", v, maxsplit=1)[0] or None


def virtual_tables(conn) -> dict[str, str]:
    return {r[0]: r[1] or "" for r in conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%'")}


def derived_tables(conn) -> list[str]:
    """Tables that may hold rows derived from stories: every table except the
    record tables, FTS shadow tables and external-content FTS tables."""
    virtual = virtual_tables(conn)
    shadows = {f"{v}_{s}" for v in virtual for s in ("data", "idx", "content", "docsize", "config")}
    out = []
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
        if name in RECORD_TABLES or name in shadows or name.startswith("sqlite_"):
            continue
        if name in virtual and "content=" in virtual[name].replace(" ", "").lower():
            continue  # external-content FTS: kept in step by triggers, rebuilt after a withdrawal
        out.append(name)
    return out


def _kind_column(cols: list[str], ref: str) -> str | None:
    """The column saying what kind of record `ref` names (item_id -> item_type).
    A bare 'kind' or 'type' is not used: it often means something else
    (an entity's label, a tag's method)."""
    if ref == "id":
        return None
    stem = ref[:-3] if ref.endswith("_id") else ref
    candidates = [f"{stem}_{s}" for s in KIND_SUFFIXES]
    return next((c for c in cols if c.lower() in candidates), None)


def sweep(db, story_ids: set[str] | list[str]) -> dict[str, int]:
    """Delete, from every derived table, the rows whose reference columns
    (REF_COLUMNS) point at one of `story_ids`; returns rows deleted per table.
    Call inside the caller's transaction."""
    ids = sorted({i for i in story_ids if i})
    if not ids:
        return {}
    conn = db.conn if hasattr(db, "conn") else db
    conn.create_function("evidence_story_ref", 1, story_ref, deterministic=True)
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS evidence_gone (id TEXT PRIMARY KEY)")
    conn.execute("DELETE FROM temp.evidence_gone")
    conn.executemany("INSERT OR IGNORE INTO temp.evidence_gone (id) VALUES (?)", [(i,) for i in ids])
    counts: dict[str, int] = {}
    for table in derived_tables(conn):
        if table == "stories":
            continue  # removed by build; its children are what we sweep
        cols = [r[1] for r in conn.execute(f"PRAGMA table_info([{table}])")]
        conds = []
        for ref in (c for c in cols if c.lower() in REF_COLUMNS):
            cond = f"evidence_story_ref([{ref}]) IN (SELECT id FROM temp.evidence_gone)"
            kind = _kind_column(cols, ref.lower())
            if kind:
                cond += f" AND ([{kind}] IS NULL OR lower([{kind}]) IN ({','.join(repr(k) for k in STORY_KINDS)}))"
            conds.append(f"({cond})")
        if not conds:
            continue
        cur = conn.execute(f"DELETE FROM [{table}] WHERE {' OR '.join(conds)}")
        if cur.rowcount:
            counts[table] = cur.rowcount
    conn.execute("DELETE FROM temp.evidence_gone")
    return counts


def sweep_removed(db, summary, options=None) -> None:
    """Build step (runs last): sweep derived rows of the stories this build removed."""
    counts = sweep(db, summary.removed_ids.get("stories", []))
    summary.enriched["sweep"] = sum(counts.values())
