"""Publish: derive the public database from the working database.

The public database is built from an allow-list: only the tables and
columns named in PUBLIC_TABLES reach it, and only stories whose consent
permits public use. It is written to a temporary file in the same folder,
checked with `PRAGMA integrity_check`, fsync'd and renamed over the old one,
so a reader sees the old database or the new one, never half of either.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

import sqlite_utils

from evidence.content.tree import replace_atomically
from evidence.errors import EvidenceError

class PublishError(EvidenceError):
    """The working database was updated but the public one could not be
    written (a full disk, say); the old public database is still in place."""


# Which stories may be published at all. Consent scope 'public' and status
# 'published' are both required, and a personal-data check that passed
# (pii_checks, evidence/enrich/checks.py: a story not yet checked, or held for review,
# is not published), and no hold for a name of an anonymised story's people
# in a finding shown with it (privacy_holds); everything else stays in the working db.
PUBLISHABLE_STORY = ("s.status = 'published' AND s.consent_scope = 'public' "
                     "AND s.id IN (SELECT story_id FROM pii_checks WHERE publishable = 1) "
                     "AND s.id NOT IN (SELECT story_id FROM privacy_holds)")

# table -> (row filter on alias s, [(column, SQL expression over s)], primary key)
PUBLIC_TABLES: dict[str, tuple[str, list[tuple[str, str]], tuple[str, ...]]] = {
    "areas_of_work": ("1", [(c, f"s.{c}") for c in ("id", "label", "description", "position")], ("id",)),
    "approaches": ("1", [(c, f"s.{c}") for c in (
        "id", "name", "description", "area_of_work", "also_areas", "scale", "scale_note",
        "organisation", "website", "sources")], ("id",)),
    "frameworks": ("1", [(c, f"s.{c}") for c in (
        "id", "title", "version", "description", "domain_count", "source_title", "source_author",
        "source_organisation", "source_url")], ("id",)),
    "domains": ("1", [(c, f"s.{c}") for c in (
        "id", "framework_id", "domain_id", "label", "description", "examples", "position")], ("id",)),
    "crosswalk": ("1", [("from_domain", "s.from_domain"), ("to_domain", "s.to_domain")], ("from_domain", "to_domain")),
    # the glossary of abbreviations search expands (pipelines/abbreviations.yml)
    "abbreviations": ("1", [("abbreviation", "s.abbreviation"), ("expansion", "s.expansion")], ("abbreviation",)),
    "studies": ("1", [(c, f"s.{c}") for c in (
        "id", "title", "authors", "organisation", "year", "url", "kind", "source_title", "source_author",
        "source_organisation", "source_publisher", "source_url", "source_date")], ("id",)),
    "findings": ("1", [(c, f"s.{c}") for c in (
        "id", "study_id", "statement", "measure", "value", "unit", "direction", "comparator",
        "sample_size", "population", "design", "year", "place", "approach")] + [
        ("area_of_work", "(SELECT a.area_of_work FROM work.approaches a WHERE a.id = s.approach)"),
        ("source_sentence", "s.source_sentence"), ("note", "s.note"),
        # strength of evidence (evidence/enrich/certainty.py)
        ("interval_low", "s.interval_low"), ("interval_high", "s.interval_high"),
        ("design_group", "s.design_group"), ("certainty", "s.certainty"),
        ("certainty_reasons", "s.certainty_reasons"), ("certainty_assessed", "s.certainty_assessed"),
    ], ("id",)),
    # confidence in what the (publishable) stories say per approach and
    # outcome domain (evidence/enrich/certainty.py)
    "confidence": ("1", [(c, f"s.{c}") for c in (
        "approach", "domain", "framework", "confidence", "confidence_reasons", "assessed", "stories",
        "stories_confirmed", "components")], ("approach", "domain")),
    # anonymised stories: the public_* texts, with names replaced by the pseudonym
    "stories": (PUBLISHABLE_STORY, [("id", "s.id"), ("title", "s.public_title"), ("summary", "s.public_summary"),
                                    ("body", "s.public_body")] + [(c, f"s.{c}") for c in (
        "approach", "organisation", "place")] + [
        ("area_of_work", "COALESCE(NULLIF(s.area_of_work, ''), (SELECT a.area_of_work FROM work.approaches a WHERE a.id = s.approach))"),
    ] + [("people", "s.public_people")] + [(c, f"s.{c}") for c in (
        "source_title", "source_author", "source_organisation", "source_publisher",
        "source_url", "source_date", "added")], ("id",)),
    "story_people": (
        f"s.story_id IN (SELECT s.id FROM work.stories s WHERE {PUBLISHABLE_STORY})",
        [("story_id", "s.story_id"), ("position", "s.position"), ("name", "s.public_name"), ("role", "s.role")],
        ("story_id", "position")),
    # outcome tags and extracted entities: findings', and publishable stories'
    # (computed from their public text); rejected tags stay in the working db
    "tags": (
        f"s.status != 'rejected' AND (s.item_type = 'finding' OR s.story_id IN (SELECT s.id FROM work.stories s WHERE {PUBLISHABLE_STORY}))",
        [(c, f"s.{c}") for c in (
            "item_type", "item_id", "story_id", "finding_id", "framework", "domain", "score", "methods",
            "sentence", "sentence_start", "sentence_end", "status", "via_crosswalk", "via_domain",
            "rule_score", "embedding_score", "classifier_score", "run_date", "model_id", "codebook_version")],
        ("item_type", "item_id", "domain")),
    # every sentence supporting a published tag, best first (rank 0 is the tag's sentence)
    "tag_sentences": (
        "EXISTS (SELECT 1 FROM work.tags t WHERE t.item_type = s.item_type AND t.item_id = s.item_id "
        "AND t.domain = s.domain AND t.status != 'rejected') AND "
        f"(s.item_type = 'finding' OR s.story_id IN (SELECT s.id FROM work.stories s WHERE {PUBLISHABLE_STORY}))",
        [(c, f"s.{c}") for c in (
            "item_type", "item_id", "story_id", "finding_id", "domain", "rank", "sentence", "start", "end", "score", "role")],
        ("item_type", "item_id", "domain", "rank")),
    "entities": (
        f"s.item_type = 'finding' OR s.story_id IN (SELECT s.id FROM work.stories s WHERE {PUBLISHABLE_STORY})",
        [(c, f"s.{c}") for c in (
            "item_type", "item_id", "story_id", "finding_id", "start", "end", "label", "text", "norm",
            "value", "unit", "qualifier")],
        ("item_type", "item_id", "start")),
    # passages and vectors (evidence/enrich/embeddings.py): findings, and stories
    # that may be published; only the vectors search uses: the search model's
    # when there is one (enrich/search_model.py), else the current model's
    "passages": (
        f"(s.item_type = 'finding' OR s.item_id IN (SELECT s.id FROM work.stories s WHERE {PUBLISHABLE_STORY}))",
        [(c, f"s.{c}") for c in ("item_type", "item_id", "passage", "field", "start_char", "end_char", "text")],
        ("item_type", "item_id", "passage")),
    "embeddings": (
        "s.model = COALESCE((SELECT value FROM work.meta WHERE key = 'search_model'), "
        "(SELECT value FROM work.meta WHERE key = 'embedding_model')) AND "
        f"(s.item_type = 'finding' OR s.item_id IN (SELECT s.id FROM work.stories s WHERE {PUBLISHABLE_STORY}))",
        [(c, f"s.{c}") for c in ("model", "item_type", "item_id", "passage", "vector")],
        ("model", "item_type", "item_id", "passage")),
    # links between publishable stories and findings (evidence/enrich/links.py); a
    # curator's note stays in the working db
    "links": (
        f"s.story_id IN (SELECT s.id FROM work.stories s WHERE {PUBLISHABLE_STORY})",
        [(c, f"s.{c}") for c in ("story_id", "finding_id", "kind", "score", "reason", "status")],
        ("story_id", "finding_id", "kind")),
}

FTS = {"stories": ["title", "summary", "body"], "findings": ["statement", "measure", "population"]}

VIEWS = {
    "evidence": """
SELECT 'story' AS kind, s.id, s.title AS title, s.summary AS detail, s.approach, s.area_of_work, s.place,
       NULL AS year, NULL AS design, NULL AS value, NULL AS unit, NULL AS sample_size,
       s.source_title, s.source_organisation, '/-/story/' || s.id AS path
  FROM stories s
UNION ALL
SELECT 'finding', f.id, f.statement, f.measure, f.approach, f.area_of_work, f.place,
       f.year, f.design, f.value, f.unit, f.sample_size,
       st.title, st.organisation, '/public/findings/' || f.id
  FROM findings f JOIN studies st ON st.id = f.study_id""",
    "evidence_by_approach": """
SELECT a.id AS approach, a.name, a.area_of_work, a.scale,
       (SELECT count(*) FROM stories s WHERE s.approach = a.id) AS stories,
       (SELECT count(*) FROM findings f WHERE f.approach = a.id) AS findings
  FROM approaches a ORDER BY stories + findings DESC, a.name""",
    "evidence_by_domain": """
SELECT d.id AS domain, d.framework_id AS framework, d.label,
       (SELECT count(DISTINCT t.story_id) FROM tags t WHERE t.domain = d.id AND t.item_type = 'story') AS stories,
       (SELECT count(DISTINCT t.finding_id) FROM tags t WHERE t.domain = d.id AND t.item_type = 'finding') AS findings,
       (SELECT group_concat(approach, ', ') FROM (
          SELECT s.approach AS approach FROM tags t JOIN stories s ON s.id = t.story_id WHERE t.domain = d.id
          UNION
          SELECT f.approach FROM tags t JOIN findings f ON f.id = t.finding_id
           WHERE t.domain = d.id AND f.approach IS NOT NULL AND f.approach != ''
          ORDER BY 1)) AS approaches
  FROM domains d ORDER BY d.framework_id, d.position""",
    "stories_by_domain": """
SELECT t.domain, t.framework, d.label AS domain_label, s.id AS story_id, s.title, s.approach, s.area_of_work,
       s.place, t.score, t.status, t.via_crosswalk, t.sentence, '/-/story/' || s.id AS path
  FROM tags t JOIN stories s ON s.id = t.story_id JOIN domains d ON d.id = t.domain
 ORDER BY t.domain, t.score DESC""",
    "story_findings": """
SELECT l.story_id, s.title AS story_title, l.finding_id, f.statement, f.value, f.unit, f.sample_size, f.design,
       f.year, st.title AS study, l.kind, l.score, l.reason, l.status,
       '/-/story/' || s.id AS story_path, '/public/findings/' || f.id AS finding_path
  FROM links l JOIN stories s ON s.id = l.story_id JOIN findings f ON f.id = l.finding_id
  JOIN studies st ON st.id = f.study_id
 ORDER BY l.story_id, l.status = 'confirmed' DESC, l.score DESC""",
}


def schema_fingerprint() -> str:
    """Changes whenever the public schema defined here changes."""
    return hashlib.sha256(json.dumps([PUBLIC_TABLES, FTS, VIEWS], sort_keys=True).encode()).hexdigest()[:16]


def check_public(public_path: Path) -> None:
    """Refuse (EvidenceError naming the file) a public database that is
    missing, not SQLite, damaged, or not one the build wrote (no stories
    table): what a server or an export would otherwise fail on later."""
    from evidence.errors import EvidenceError

    public_path = Path(public_path)
    if not public_path.is_file():
        raise EvidenceError(f"{public_path} does not exist; run 'evidence build' first")
    try:
        conn = sqlite3.connect(f"file:{public_path}?mode=ro", uri=True)
        try:
            conn.execute("SELECT 1 FROM stories LIMIT 1").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise EvidenceError(f"{public_path} is not an evidence public database ({exc}); it is a build product: "
                            "delete it and run 'evidence build' to write it again") from None


def needs_publish(db: sqlite_utils.Database, public_path: Path) -> bool:
    """True when the public database is missing or older than the working one."""
    from evidence.store.schema import get_meta

    if not Path(public_path).exists():
        return True
    try:
        conn = sqlite3.connect(f"file:{public_path}?mode=ro", uri=True)
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return True
    return (version != int(get_meta(db, "generation", "0"))
            or get_meta(db, "public_schema") != schema_fingerprint()
            or get_meta(db, "public_path") != str(Path(public_path).resolve()))


def _create_table(conn: sqlite3.Connection, table: str, columns: list[tuple[str, str]], pk: tuple[str, ...]) -> None:
    types = {r[1]: r[2] for r in conn.execute(f"PRAGMA work.table_info([{table}])")}
    fks = [r for r in conn.execute(f"PRAGMA work.foreign_key_list([{table}])")
           if r[2] in PUBLIC_TABLES and r[3] in dict(columns)]
    cols = [f"[{c}] {types.get(c, 'TEXT')}" for c, _ in columns]
    cols.append(f"PRIMARY KEY ({', '.join(f'[{c}]' for c in pk)})")
    cols += [f"FOREIGN KEY ([{r[3]}]) REFERENCES [{r[2]}]([{r[4]}])" for r in fks]
    conn.execute(f"CREATE TABLE [{table}] (\n  " + ",\n  ".join(cols) + "\n)")


def _can_patch(db: sqlite_utils.Database, public_path: Path) -> bool:
    """True when the existing public file has this schema and can be copied
    and brought up to date instead of rebuilt."""
    from evidence.store.schema import get_meta

    if not public_path.exists() or get_meta(db, "public_schema") != schema_fingerprint():
        return False
    try:
        conn = sqlite3.connect(f"file:{public_path}?mode=ro", uri=True)
        try:
            return conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return False


def _sync_table(conn: sqlite3.Connection, table: str, where: str, columns: list[tuple[str, str]], pk: tuple[str, ...]) -> int:
    """Bring main.<table> to exactly the allow-listed rows of work.<table>:
    delete rows that differ or vanished, insert rows that are new or changed.
    Unchanged rows are not touched. Rows are matched on their primary key
    through its index and compared column by column, so no copy of either
    table is made (a set difference over whole rows copied and sorted every
    vector: 1.1 s of every curator action at 1,000 stories). Returns the
    number of rows deleted or inserted."""
    exprs = dict(columns)
    for c in pk:  # keys are copied as they are, so a key joins both tables
        if exprs[c] != f"s.{c}":
            raise ValueError(f"{table}: key column {c} must be copied as s.{c}")
    names = ", ".join(f"[{c}]" for c, _ in columns)
    on = " AND ".join(f"s.[{c}] = m.[{c}]" for c in pk)
    same = " AND ".join(f"m.[{c}] IS ({e})" for c, e in columns if c not in pk) or "1"
    deleted = conn.execute(
        f"DELETE FROM main.[{table}] WHERE rowid IN (SELECT m.rowid FROM main.[{table}] m WHERE NOT EXISTS "
        f"(SELECT 1 FROM work.[{table}] s WHERE {on} AND ({where}) AND {same}))").rowcount
    inserted = conn.execute(
        f"INSERT INTO main.[{table}] ({names}) SELECT {', '.join(exprs.values())} FROM work.[{table}] s "
        f"WHERE ({where}) AND NOT EXISTS (SELECT 1 FROM main.[{table}] m WHERE {on})").rowcount
    return deleted + inserted


def publish(db: sqlite_utils.Database, public_path: str | Path, *, full: bool = False) -> dict[str, int]:
    """Write the public database atomically; returns row counts per table.

    Normally the current public file is copied and patched (only changed
    rows are rewritten, FTS segments are then merged so no deleted text
    lingers, freed pages are zeroed by secure_delete); `full=True`, a schema
    change or a missing/damaged file rebuild it from nothing."""
    from evidence.store.schema import get_meta, set_meta

    public_path = Path(public_path).resolve()
    work_path = Path(db.execute("PRAGMA database_list").fetchone()[2])
    generation = int(get_meta(db, "generation", "0"))
    public_path.parent.mkdir(parents=True, exist_ok=True)
    patch = not full and _can_patch(db, public_path)
    fd, tmp = tempfile.mkstemp(prefix=f".{public_path.name}.", suffix=".tmp", dir=public_path.parent)
    os.close(fd)
    counts: dict[str, int] = {}
    touched: dict[str, int] = {}
    try:
        if patch:
            shutil.copyfile(public_path, tmp)
        conn = sqlite3.connect(tmp)
        try:
            conn.execute("PRAGMA secure_delete = ON")
            conn.execute("ATTACH DATABASE ? AS work", (str(work_path),))
            conn.execute("BEGIN")
            for table, (where, columns, pk) in PUBLIC_TABLES.items():
                if patch:
                    touched[table] = _sync_table(conn, table, where, columns, pk)
                else:
                    _create_table(conn, table, columns, pk)
                    names = ", ".join(f"[{c}]" for c, _ in columns)
                    exprs = ", ".join(e for _, e in columns)
                    order = ", ".join(f"s.[{c}]" for c in pk)
                    conn.execute(f"INSERT INTO [{table}] ({names}) SELECT {exprs} FROM work.[{table}] s WHERE {where} ORDER BY {order}")
                counts[table] = conn.execute(f"SELECT count(*) FROM [{table}]").fetchone()[0]
            if not patch:
                for name, sql in VIEWS.items():
                    conn.execute(f"CREATE VIEW [{name}] AS {sql}")
            conn.execute("COMMIT")
            conn.execute("DETACH DATABASE work")
            pdb = sqlite_utils.Database(conn)
            for table, cols in FTS.items():
                if not patch:
                    pdb[table].enable_fts(cols, tokenize="porter")
                elif touched.get(table):
                    # No triggers in the public file, and FTS5 keeps a deleted row's
                    # terms in its segment pages (even after 'optimize' or 'rebuild'):
                    # drop the index (secure_delete zeroes its pages) and index the
                    # current rows afresh, so no removed or edited text lingers
                    pdb[table].disable_fts()
                    pdb[table].enable_fts(cols, tokenize="porter")
            for table, col in [] if patch else [("stories", "title"), ("stories", "approach"), ("stories", "area_of_work"), ("stories", "place"),
                               ("findings", "approach"), ("findings", "study_id"), ("findings", "design"),
                               ("findings", "year"), ("story_people", "name"), ("domains", "framework_id")]:
                pdb[table].create_index([col])
            conn.execute(f"PRAGMA user_version = {generation}")
            # a patch checks the file's structure (quick_check: O(pages), a third of
            # integrity_check, which also compares every index with its table and
            # runs after a rebuild from nothing)
            ok = conn.execute("PRAGMA quick_check" if patch else "PRAGMA integrity_check").fetchone()[0]
            if ok != "ok":
                raise EvidenceError(f"the new public database failed its integrity check ({ok}); the old one was kept")
        finally:
            conn.close()
        replace_atomically(tmp, public_path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    with db.atomic():
        set_meta(db, "public_schema", schema_fingerprint())
        set_meta(db, "public_path", str(public_path))
    return counts
