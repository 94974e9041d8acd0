"""Store: the working SQLite database, its schema (numbered migrations) and
the row shapes of every record type.

The schema is created and changed only through `sqlite_utils.Migrations`;
writes go through `db.atomic()` so that one build or one add is one
transaction.
"""
from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import sqlite_utils
from sqlite_utils import Migrations


migrations = Migrations("evidence")

SOURCE_COLUMNS = {
    "source_title": str, "source_author": str, "source_organisation": str, "source_publisher": str,
    "source_url": str, "source_date": str, "source_seed": str, "source_note": str,
}


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    db["meta"].create({"key": str, "value": str}, pk="key")
    db["files"].create({"path": str, "kind": str, "sha256": str, "size": int, "records": str}, pk="path")
    db["areas_of_work"].create({"id": str, "label": str, "description": str, "position": int}, pk="id")
    db["frameworks"].create({
        "id": str, "title": str, "version": str, "description": str, "domain_count": int,
        **SOURCE_COLUMNS, "file": str, "content_hash": str,
    }, pk="id")
    db["domains"].create({
        "id": str, "framework_id": str, "domain_id": str, "label": str, "description": str,
        "examples": str, "position": int,
    }, pk="id", foreign_keys=[("framework_id", "frameworks", "id")])
    db["crosswalk"].create({"from_domain": str, "to_domain": str}, pk=("from_domain", "to_domain"),
                           foreign_keys=[("from_domain", "domains", "id"), ("to_domain", "domains", "id")])
    db["approaches"].create({
        "id": str, "name": str, "description": str, "area_of_work": str, "also_areas": str,
        "scale": str, "scale_note": str, "organisation": str, "website": str, "sources": str,
        "file": str, "content_hash": str,
    }, pk="id", foreign_keys=[("area_of_work", "areas_of_work", "id")])
    db["studies"].create({
        "id": str, "title": str, "authors": str, "organisation": str, "year": int, "url": str,
        "kind": str, **SOURCE_COLUMNS, "file": str, "content_hash": str,
    }, pk="id")
    db["findings"].create({
        "id": str, "study_id": str, "statement": str, "measure": str, "value": float, "unit": str,
        "direction": str, "comparator": str, "sample_size": int, "population": str, "design": str,
        "year": int, "place": str, "approach": str, "source_sentence": str, "note": str, "position": int,
        "content_hash": str,
    }, pk="id", foreign_keys=[("study_id", "studies", "id"), ("approach", "approaches", "id")])
    db["stories"].create({
        "id": str, "title": str, "summary": str, "body": str,
        "public_title": str, "public_summary": str, "public_body": str, "public_people": str,
        "approach": str, "organisation": str,
        "place": str, "area_of_work": str, **SOURCE_COLUMNS, "people": str, "status": str,
        "added": str, "consent_basis": str, "consent_scope": str, "consent_identity": str,
        "consent_pseudonym": str, "consent_date": str, "consent_recorded_by": str,
        "consent_wording": str, "curator_notes": str, "review": str, "file": str,
        "content_hash": str, "body_hash": str,
    }, pk="id", foreign_keys=[("approach", "approaches", "id")])
    db["story_people"].create({
        "story_id": str, "position": int, "name": str, "role": str, "aliases": str,
        "public_name": str,
    }, pk=("story_id", "position"), foreign_keys=[("story_id", "stories", "id")])
    for table, col in [("findings", "study_id"), ("findings", "approach"), ("stories", "approach"),
                       ("stories", "place"), ("stories", "body_hash"), ("domains", "framework_id"),
                       ("approaches", "area_of_work"), ("story_people", "name")]:
        db[table].create_index([col])
    # curators search the real text in the working db; the public db indexes public_* only
    db["stories"].enable_fts(["title", "summary", "body"], create_triggers=True, tokenize="porter")
    db["findings"].enable_fts(["statement", "measure", "population"], create_triggers=True, tokenize="porter")


@migrations()
def m002_tagging(db: sqlite_utils.Database) -> None:
    """Outcome tags, extracted entities, and what each item was last tagged
    with (so an unchanged item is not tagged again)."""
    db["tagged_items"].create({
        "item_type": str, "item_id": str, "content_hash": str, "nlp_version": str,
        "tagger_version": str, "tagged_at": str,
    }, pk=("item_type", "item_id"))
    # ON DELETE CASCADE: when the build deletes a story, finding or domain,
    # its tags and entities go in the same statement (and transaction)
    db.execute("""
CREATE TABLE [tags] (
  [item_type] TEXT NOT NULL, [item_id] TEXT NOT NULL,
  [story_id] TEXT REFERENCES [stories]([id]) ON DELETE CASCADE,
  [finding_id] TEXT REFERENCES [findings]([id]) ON DELETE CASCADE,
  [framework] TEXT REFERENCES [frameworks]([id]) ON DELETE CASCADE,
  [domain] TEXT NOT NULL REFERENCES [domains]([id]) ON DELETE CASCADE,
  [score] FLOAT, [methods] TEXT, [rule_score] FLOAT, [embedding_score] FLOAT, [classifier_score] FLOAT,
  [sentence] TEXT, [sentence_start] INTEGER, [sentence_end] INTEGER,
  [status] TEXT NOT NULL, [via_crosswalk] INTEGER NOT NULL DEFAULT 0, [via_domain] TEXT,
  [run_date] TEXT, [model_id] TEXT, [codebook_version] TEXT, [tagger_version] TEXT,
  PRIMARY KEY ([item_type], [item_id], [domain])
)""")
    db.execute("""
CREATE TABLE [entities] (
  [item_type] TEXT NOT NULL, [item_id] TEXT NOT NULL,
  [story_id] TEXT REFERENCES [stories]([id]) ON DELETE CASCADE,
  [finding_id] TEXT REFERENCES [findings]([id]) ON DELETE CASCADE,
  [start] INTEGER NOT NULL, [end] INTEGER, [label] TEXT, [text] TEXT, [norm] TEXT,
  [value] FLOAT, [unit] TEXT, [qualifier] TEXT,
  PRIMARY KEY ([item_type], [item_id], [start])
)""")
    db["findings"].add_column("review_tags", str)  # curator tag decisions (JSON), from the findings file
    for table, cols in [("tags", ["domain"]), ("tags", ["story_id"]), ("tags", ["finding_id"]),
                        ("tags", ["status"]), ("entities", ["label", "norm"]), ("entities", ["story_id"]),
                        ("entities", ["finding_id"])]:
        db[table].create_index(cols)


@migrations()
def m003_embeddings(db: sqlite_utils.Database) -> None:
    """Passages (sentence windows with offsets) and their vectors, keyed by
    model, item, passage and the hash of the embedded text."""
    db["passages"].create({
        "item_type": str, "item_id": str, "passage": int, "field": str,
        "start_char": int, "end_char": int, "text": str, "content_hash": str,
    }, pk=("item_type", "item_id", "passage"))
    db["embeddings"].create({
        "model": str, "item_type": str, "item_id": str, "passage": int,
        "content_hash": str, "vector": bytes,
    }, pk=("model", "item_type", "item_id", "passage"))
    db["embeddings"].create_index(["model", "content_hash"])


@migrations()
def m004_privacy(db: sqlite_utils.Database) -> None:
    # tombstones of withdrawn stories (mirror of withdrawn.yml): no personal content
    db["tombstones"].create({"id_sha256": str, "date": str, "reason": str}, pk="id_sha256")
    # the personal-data verdict of each story: kinds and where, never the data itself
    db["pii_checks"].create({
        "story_id": str, "scanner": str, "status": str, "publishable": int, "kinds": str, "hits": str,
        "reviewed": str, "reviewed_by": str, "note": str,
    }, pk="story_id")


@migrations()
def m005_links(db: sqlite_utils.Database) -> None:
    """Links between stories and the findings that bear on them
    (evidence/enrich/links.py), and what each story was last linked from."""
    db.execute("""
CREATE TABLE [links] (
  [story_id] TEXT NOT NULL REFERENCES [stories]([id]) ON DELETE CASCADE,
  [finding_id] TEXT NOT NULL REFERENCES [findings]([id]) ON DELETE CASCADE,
  [kind] TEXT NOT NULL, [score] FLOAT, [reason] TEXT, [status] TEXT NOT NULL, [note] TEXT,
  PRIMARY KEY ([story_id], [finding_id], [kind])
)""")
    db["links"].create_index(["finding_id"])
    db["linked_stories"].create({"story_id": str, "fingerprint": str}, pk="story_id")


@migrations()
def m006_text_hash(db: sqlite_utils.Database) -> None:
    """Passages and vectors are keyed by the hash of the embedded text:
    `text_hash`, so that `content_hash` means one thing (a record's hash)."""
    db.execute("ALTER TABLE passages RENAME COLUMN content_hash TO text_hash")
    db.execute("ALTER TABLE embeddings RENAME COLUMN content_hash TO text_hash")


@migrations()
def m007_certainty(db: sqlite_utils.Database) -> None:
    """Strength of evidence (evidence/enrich/certainty.py): each finding's
    interval, the curator's assessment (JSON, from the study file) and the
    certainty computed from it and pipelines/certainty.yml; curators'
    confidence overrides on approaches; and the confidence in what the
    stories say per approach and outcome domain."""
    for col, typ in [("interval_low", float), ("interval_high", float), ("assessment", str),
                     ("certainty", str), ("certainty_reasons", str), ("certainty_assessed", str),
                     ("certainty_start", str), ("design_group", str)]:
        db["findings"].add_column(col, typ)
    db["approaches"].add_column("confidence", str)
    db["confidence"].create({
        "approach": str, "domain": str, "framework": str, "confidence": str, "confidence_reasons": str,
        "assessed": str, "stories": int, "stories_confirmed": int, "components": str,
    }, pk=("approach", "domain"))


@migrations()
def m008_vector_cache(db: sqlite_utils.Database) -> None:
    """Vectors of texts the build embeds again and again (codebook anchors,
    training sentences), keyed by model and text hash; see store/vector_cache.py."""
    if "vector_cache" in db.table_names():  # made under an earlier migration name on a development branch
        return
    db["vector_cache"].create({"model": str, "text_hash": str, "vector": bytes, "used": int},
                              pk=("model", "text_hash"))
    db["vector_cache"].create_index(["used"])


@migrations()
def m009_tag_sentences(db: sqlite_utils.Database) -> None:
    """Every sentence that supports a tag (score at or above the threshold),
    best first (rank 0 is the tag's own sentence), with offsets and score.
    Existing tags are made again by the next build (their tagger version is
    cleared), so no tag is left without its sentences."""
    db.execute("""
CREATE TABLE [tag_sentences] (
  [item_type] TEXT NOT NULL, [item_id] TEXT NOT NULL,
  [story_id] TEXT REFERENCES [stories]([id]) ON DELETE CASCADE,
  [finding_id] TEXT REFERENCES [findings]([id]) ON DELETE CASCADE,
  [domain] TEXT NOT NULL REFERENCES [domains]([id]) ON DELETE CASCADE,
  [rank] INTEGER NOT NULL, [sentence] TEXT, [start] INTEGER, [end] INTEGER, [score] FLOAT, [role] TEXT,
  PRIMARY KEY ([item_type], [item_id], [domain], [rank])
)""")
    for cols in (["story_id"], ["finding_id"], ["domain"]):
        db["tag_sentences"].create_index(cols)
    if db["tagged_items"].exists():
        db.execute("UPDATE tagged_items SET tagger_version = ''")


@migrations()
def m010_classifier_cache(db: sqlite_utils.Database) -> None:
    """The tagger's fitted classifier, keyed by a hash of what it was fitted
    on (see store/model_cache.py), so a build that tags one new story reads
    it back instead of fitting it again."""
    db["classifier_cache"].create({"key": str, "base": str, "examples": bytes, "data": bytes, "used": int}, pk="key")


@migrations()
def m011_privacy_holds(db: sqlite_utils.Database) -> None:
    """Anonymised stories held back because a finding shown with them names
    one of their people (evidence/enrich/checks.py, linked_names_check)."""
    db["privacy_holds"].create({"story_id": str, "finding_id": str, "fields": str}, pk=("story_id", "finding_id"))
    # what was checked for each story: a hash of its content and of the findings and studies shown with it
    db["privacy_checked"].create({"story_id": str, "key": str}, pk="story_id")


@migrations()
def m012_abbreviations(db: sqlite_utils.Database) -> None:
    """The glossary search expands abbreviations with (pipelines/abbreviations.yml,
    written by the embeddings step), published so that the query is expanded
    as the passages were."""
    db["abbreviations"].create({"abbreviation": str, "expansion": str}, pk="abbreviation")


def check_readable(conn: sqlite3.Connection, path: str | Path) -> None:
    """Refuse, naming the file, a database file that is not SQLite or whose
    header is damaged (the first statement would fail with 'file is not a
    database', which names no file)."""
    from evidence.errors import EvidenceError

    try:
        conn.execute("PRAGMA schema_version").fetchone()
    except sqlite3.DatabaseError as exc:
        if "not a database" not in str(exc) and "malformed" not in str(exc):
            raise
        raise EvidenceError(f"{path} is not a readable SQLite database ({exc}); it is a build product: delete it "
                            "and run 'evidence build' to make it again from the content files") from None


def open_db(path: str | Path) -> sqlite_utils.Database:
    """Open (creating if needed) the working database with WAL, a busy timeout
    and foreign keys on, and apply pending migrations."""
    db = sqlite_utils.Database(path)
    db.execute("PRAGMA busy_timeout = 5000")
    if str(path) != ":memory:":
        check_readable(db.conn, path)
    db.execute("PRAGMA secure_delete = ON")  # deleted text is zeroed, not left in free pages
    if str(path) != ":memory:":
        db.enable_wal()
    db.execute("PRAGMA foreign_keys = ON")
    migrations.apply(db)
    return db


def get_meta(db: sqlite_utils.Database, key: str, default: str = "") -> str:
    row = db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    return row[0] if row else default


def set_meta(db: sqlite_utils.Database, key: str, value: str) -> None:
    db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", [key, value])


# ---------------------------------------------------------------------------
# Row shapes


@contextmanager
def write_transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """One transaction that takes the write lock up front (BEGIN IMMEDIATE),
    so a concurrent writer makes it wait for the busy timeout instead of
    failing with "database is locked" when a read would have to upgrade to a
    write. Nested `db.atomic()` blocks inside it become savepoints."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        if db.conn.in_transaction:
            db.conn.rollback()
        raise
    else:
        db.execute("COMMIT")
