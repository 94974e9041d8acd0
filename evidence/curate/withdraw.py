"""Withdraw a story everywhere (the sweep of derived rows is store/writes.py).

`withdraw(root, id, reason)`:
1. writes a tombstone (withdrawn.yml) first, so that if anything below is
   interrupted, no build can publish the story again;
2. deletes the story's file (and any temp file of it);
3. runs the incremental build, forcing a fresh public database: the build
   removes the story's rows, its FTS entries (triggers) and, through
   every build step, what was derived from it;
4. sweeps every other table of the working database (including tables added
   later by other features) for rows that refer to the story
   (see `story_ref`), then searches every text column for the story's own
   sentences and deletes rows of derived tables that still hold them;
5. rebuilds the FTS indexes, then with `secure_delete` on runs VACUUM and
   `wal_checkpoint(TRUNCATE)`, so the text is left in no free page, no
   index segment and no WAL frame; the public database is a new file.

It is idempotent: running it again finishes an interrupted withdrawal.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from evidence.content import tombstones
from evidence.errors import EvidenceError
from evidence.store.writes import derived_tables, sweep, virtual_tables

# Tables whose rows come from content files (maintained by build itself) or
# that hold no story data: never swept by a story reference.
# Columns that may name a story (the convention for derived tables: call the
# column story_id, or item_id / item with an item_type of 'story').


# ---------------------------------------------------------------------------
# Withdraw


@dataclass
class WithdrawResult:
    """What `withdraw` did."""

    story_id: str
    tombstone: tombstones.Tombstone
    file_removed: bool = False
    temp_removed: int = 0
    was_stored: bool = False
    swept: dict[str, int] = field(default_factory=dict)
    text_rows_removed: dict[str, int] = field(default_factory=dict)
    leftovers: list[str] = field(default_factory=list)  # record tables still quoting the text
    build_line: str = ""
    build_error: str = ""
    fts_rebuilt: list[str] = field(default_factory=list)
    wal_bytes: int = 0
    public_path: str = ""
    drafts_removed: int = 0
    training_rows_removed: dict[str, int] = field(default_factory=dict)  # CSV path -> rows

    def lines(self) -> list[str]:
        out = [f"withdrew {self.story_id}: tombstone {self.tombstone.date} ({self.tombstone.reason}); "
               f"file {'deleted' if self.file_removed else 'already gone'}; "
               f"{'removed from' if self.was_stored else 'was not in'} the working database"]
        if self.build_line:
            out.append(self.build_line)
        if self.build_error:
            out.append(f"the build failed ({self.build_error}); the story was removed from the databases directly; "
                       "fix that file and run 'evidence build'")
        extra = {**self.swept, **{k: self.text_rows_removed.get(k, 0) + self.swept.get(k, 0) for k in self.text_rows_removed}}
        if extra:
            out.append("also removed: " + ", ".join(f"{n} rows of {t}" for t, n in sorted(extra.items())))
        if self.training_rows_removed:
            out.append("removed the story's sentences from the training data: " + ", ".join(
                f"{n} rows of {p}" for p, n in sorted(self.training_rows_removed.items())) + " (commit the change)")
        if self.drafts_removed:
            out.append(f"deleted {self.drafts_removed} draft(s) of the story in {drafts_folder_name()}")
        out += self.leftovers
        out.append(f"{Path(self.public_path).name} rewritten; working database vacuumed (WAL {self.wal_bytes} bytes); "
                   "a running 'evidence serve' switches to the new file within seconds")
        return out


FRAGMENT_CHARS = 32
MAX_FRAGMENTS = 40


def fragments(*texts: str) -> list[str]:
    """Word-aligned pieces (about FRAGMENT_CHARS long) spread over the story's
    texts: what a snippet, a passage or a cached page of it would contain."""
    out: list[str] = []
    for text in texts:
        words = (text or "").split()
        i = 0
        while i < len(words):
            piece, j = words[i], i + 1
            while j < len(words) and len(piece) < FRAGMENT_CHARS:
                piece += " " + words[j]
                j += 1
            if len(piece) >= 24:
                out.append(piece)
            i = j
    out = list(dict.fromkeys(out))
    if len(out) > MAX_FRAGMENTS:
        step = len(out) / MAX_FRAGMENTS
        out = [out[int(k * step)] for k in range(MAX_FRAGMENTS)]
    return out


def drafts_folder_name() -> str:
    from evidence.curate.drafts import FOLDER

    return FOLDER


def _remove_drafts(root: Path, story_id: str, texts: list[str], snippets: list[str]) -> int:
    """Delete the curators' drafts of an interactive add (ROOT/.evidence-drafts/)
    that hold the story: its id, or a piece of its text. A draft saved by an
    add that was refused, then done another way, is never removed by the add."""
    import yaml

    from evidence.content.records import normalise_text
    from evidence.curate import drafts

    whole = {normalise_text(t) for t in texts}
    pieces = [" ".join(normalise_text(p).split()) for p in snippets]
    removed = 0
    for path in sorted(drafts.folder(root).glob("add-*.yml")) if drafts.folder(root).is_dir() else []:
        raw = path.read_text(encoding="utf-8", errors="replace")
        try:
            story = (yaml.safe_load(raw) or {}).get("story") or {}
        except (yaml.YAMLError, AttributeError):
            story = {}
        own = normalise_text(" ".join(str(v) for v in story.values() if isinstance(v, str))) if isinstance(story, dict) \
            else normalise_text(raw)
        if (isinstance(story, dict) and story.get("id") == story_id) or any(w and w in own for w in whole) or any(
                p and p in own for p in pieces):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


# a training row is the story's when its text (normalised) is this long and
# is found in the story's title, summary or narrative (as written or published)
_MIN_TRAINING_TEXT = 20


def _other_texts(db_path, story_id: str) -> str:
    """Every other stored story's texts and every finding's, normalised: a
    training sentence they hold too (a shared source line) is not only this
    story's."""
    from evidence.content.records import normalise_text
    from evidence.store import schema as store

    if not Path(db_path).exists():
        return ""
    db = store.open_db(db_path)
    try:
        rows = db.execute("SELECT title, summary, body FROM stories WHERE id != ?", [story_id]).fetchall()
        rows += db.execute("SELECT statement, source_sentence, '' FROM findings").fetchall()
    finally:
        db.close()
    return "\n".join(normalise_text(t or "") for r in rows for t in r)


def _remove_training_rows(root: Path, texts: list[str], others: str = "", story_id: str = "") -> dict[str, int]:
    """Take the rows of the tagger's training CSVs (pipelines/tagging.yml
    `training:`) whose sentence comes from the story (and from no other
    story or finding), or whose `story` column names it, out of those
    files, every other row kept byte for byte."""
    import csv

    from evidence.content.records import normalise_text
    from evidence.content.tree import write_atomic
    from evidence.enrich.tagger import load_settings

    haystack = "\n".join(normalise_text(t) for t in texts)
    if not haystack.strip() and not story_id:
        return {}
    out: dict[str, int] = {}
    for rel in load_settings(root).training:
        path = root / rel
        try:
            data = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError):
            continue  # the build reports an unreadable training file
        lines = data.splitlines(keepends=True)
        records: list[tuple[list[str], list[str]]] = []  # (fields, raw lines)
        feed = iter(lines)
        reader = csv.reader(feed)
        last = 0
        try:
            for fields in reader:
                records.append((fields, lines[last:reader.line_num]))
                last = reader.line_num
        except csv.Error:
            continue
        if not records:
            continue
        header = [c.strip().lower() for c in records[0][0]]
        if "text" not in header:
            continue
        col = header.index("text")
        scol = header.index("story") if "story" in header else None
        keep, dropped = [records[0][1]], 0
        for fields, raw in records[1:]:
            text = normalise_text(fields[col]) if col < len(fields) else ""
            named = story_id and scol is not None and scol < len(fields) and fields[scol].strip() == story_id
            if named or (len(text) >= _MIN_TRAINING_TEXT and text in haystack and text not in others):
                dropped += 1
            else:
                keep.append(raw)
        if dropped:
            write_atomic(path, "".join("".join(raw) for raw in keep) + "".join(lines[last:]))
            out[str(rel)] = dropped
    return out


def _narrative(row, path: Path) -> str:
    """The story's narrative (stored, or read from its file), for the
    tombstone's text digest: the same account under another id is refused."""
    if row is not None and row[2]:
        return row[2]
    if path.exists():
        from evidence.content.yamldoc import split_front_matter
        from evidence.errors import ValidationError

        try:
            return split_front_matter(str(path), path.read_text(encoding="utf-8", errors="replace"))[1]
        except ValidationError:  # a broken file: the id is still tombstoned
            return ""
    return ""


def withdraw(root: str | Path, story_id: str, reason: str = "consent-withdrawn", db_path=None, public_path=None,
             today: str | None = None) -> WithdrawResult:
    """Withdraw a story everywhere (see the module docstring); returns what was done."""
    from evidence.store import schema as store
    from evidence.build import build
    from evidence.store.paths import default_paths
    from evidence.store.lock import remove_stale_temp_files, writer_lock
    from evidence.content.yamldoc import SLUG_RE

    root = Path(root)
    if not SLUG_RE.match(story_id or ""):
        raise EvidenceError(f"'{story_id}' is not a story id; give the id (the file name without .md)")
    if reason not in tombstones.REASONS:
        raise EvidenceError(f"unknown reason '{reason}'; use --reason with one of: {', '.join(tombstones.REASONS)}")
    db_path, public_path = default_paths(root, db_path, public_path)
    with writer_lock(root, extra=[Path(public_path).parent]):
        path = root / "stories" / f"{story_id}.md"
        row = None
        if Path(db_path).exists():
            db = store.open_db(db_path)
            try:
                row = db.execute("SELECT title, summary, body, public_title, public_summary, public_body "
                                 "FROM stories WHERE id = ?", [story_id]).fetchone()
            finally:
                db.close()
        existing = tombstones.find(root, story_id)
        if row is None and not path.exists() and existing is None:
            raise EvidenceError(f"there is no story '{story_id}' (no stories/{story_id}.md and nothing stored); check the id")
        snippets = fragments(*(row or ()))
        if path.exists() and not snippets:
            snippets = fragments(path.read_text(encoding="utf-8", errors="replace"))
        result = WithdrawResult(story_id, tombstones.add(root, story_id, reason, today, _narrative(row, path)),
                                was_stored=row is not None, public_path=str(public_path))
        if path.exists():
            path.unlink()
            result.file_removed = True
        # temp copies of this story (a killed writer's) hold its text too
        for p in (root / "stories").glob(f".{story_id}.md.*.tmp"):
            p.unlink(missing_ok=True)
            result.temp_removed += 1
        result.temp_removed += len(remove_stale_temp_files(root, [Path(public_path).parent]))
        texts = [t for t in (row or ()) if t] or [_narrative(row, path)]
        result.drafts_removed = _remove_drafts(root, story_id, texts, snippets)
        result.training_rows_removed = _remove_training_rows(root, texts, _other_texts(db_path, story_id), story_id)
        try:
            summary = build(root, db_path, public_path, force_publish=True)
            result.build_line = summary.line()
        except EvidenceError as exc:
            result.build_error = str(exc).splitlines()[0]
        db = store.open_db(db_path)
        try:
            changed = _clean(db, story_id, snippets, result, failed_build=bool(result.build_error))
            if changed or not Path(public_path).exists():
                from evidence.store import publish

                publish.publish(db, public_path)
            result.wal_bytes = _compact(db, db_path)
        finally:
            db.close()
    return result


def _clean(db, story_id: str, snippets: list[str], result: WithdrawResult, failed_build: bool) -> bool:
    """Remove what the build left; True when that changed the working database."""
    from evidence.store.schema import get_meta, set_meta

    from evidence.store.schema import write_transaction

    conn = db.conn
    with write_transaction(db):
        direct = 0
        if failed_build:  # remove the story's own rows directly; build could not
            for sql in ("DELETE FROM story_people WHERE story_id = ?", "DELETE FROM stories WHERE id = ?"):
                direct += conn.execute(sql, [story_id]).rowcount
            direct += conn.execute("DELETE FROM files WHERE path = ?", [f"stories/{story_id}.md"]).rowcount
        result.swept = sweep(db, {story_id})
        result.text_rows_removed, result.leftovers = _remove_text(conn, snippets)
        changed = bool(direct or result.swept or result.text_rows_removed)
        if changed:
            set_meta(db, "generation", str(int(get_meta(db, "generation", "0")) + 1))
    for name, sql in virtual_tables(conn).items():
        if "fts5" not in sql.lower():
            continue
        option = "rebuild" if "content=" in sql.replace(" ", "").lower() else "optimize"
        conn.execute(f"INSERT INTO [{name}]([{name}]) VALUES (?)", [option])
        result.fts_rebuilt.append(name)
    conn.commit()
    return changed


def _text_columns(conn, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA table_info([{table}])")
            if (r[2] or "TEXT").upper() in ("TEXT", "", "STR", "VARCHAR")]


def _remove_text(conn, pieces: list[str]) -> tuple[dict[str, int], list[str]]:
    """Delete rows of derived tables whose text still holds a piece of the
    story that no remaining record holds (so the piece can only have come
    from the withdrawn story: another story's rows are never touched)."""
    removed: dict[str, int] = {}
    if not pieces:
        return removed, []
    derived = set(derived_tables(conn)) - {"stories"}
    virtual = virtual_tables(conn)
    tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
              if not t.startswith("sqlite_") and t not in virtual and not any(t.startswith(v + "_") for v in virtual)]
    unique = []
    for piece in pieces:
        shared = False
        for table in (t for t in tables if t not in derived):
            cols = _text_columns(conn, table)
            if cols and conn.execute(f"SELECT 1 FROM [{table}] WHERE {' OR '.join(f'instr([{c}], ?) > 0' for c in cols)} LIMIT 1",
                                     [piece] * len(cols)).fetchone():
                shared = True
                break
        if not shared:
            unique.append(piece)
    if not unique:
        return removed, []
    rx = re.compile("|".join(re.escape(p) for p in sorted(unique, key=len, reverse=True)))
    conn.create_function("evidence_holds_story_text", 1, lambda v: 1 if isinstance(v, str) and rx.search(v) else 0,
                         deterministic=True)
    for table in sorted(derived):
        cols = _text_columns(conn, table)
        if not cols:
            continue
        cur = conn.execute(f"DELETE FROM [{table}] WHERE {' OR '.join(f'evidence_holds_story_text([{c}])' for c in cols)}")
        if cur.rowcount:
            removed[table] = cur.rowcount
    return removed, []


def _compact(db, db_path: Path) -> int:
    """secure_delete, VACUUM and a truncating WAL checkpoint; returns the WAL size."""
    conn = db.conn
    conn.execute("PRAGMA secure_delete = ON")
    conn.execute("VACUUM")
    busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    wal = Path(str(db_path) + "-wal")
    size = wal.stat().st_size if wal.exists() else 0
    if busy:
        raise EvidenceError(f"another program has {db_path} open, so its WAL could not be emptied; "
                            "close it (for example a datasette on the working database) and run "
                            "'evidence withdraw' again to finish")
    return size
