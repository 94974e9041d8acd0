"""Build: content files -> working database -> public database.

Incremental: a file whose bytes have not changed is not parsed again, and a
record whose content hash has not changed is not written again. All writes of
one build are one transaction, so a failure leaves the database as it was.
"""
from __future__ import annotations

import importlib
import json
import sqlite3
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from evidence.store import schema as store
from evidence.content.tree import ContentFile, check_root, scan
from evidence.errors import EvidenceError, ValidationError, ValidationErrors
from evidence.content.records import Approach, Area, Framework, Story, Study, Vocabulary
from evidence.content.parsers import parse_approach, parse_areas, parse_framework, parse_story, parse_study

Progress = Callable[[str, int, int], None]

COUNTED = ("stories", "findings", "studies", "approaches", "frameworks")

# Enrichment steps, run in order inside the build's transaction after the
# records are written: each is "module:function" taking (db, summary, options)
# and must bring its own tables up to date for the stories and findings that
# were added, changed or removed (summary.changed_ids / summary.removed_ids).
# A step that fails rolls the whole build back. Steps run on every build, so
# each must find quickly (by content hash, model id, codebook version) that it
# has nothing to do, and load heavy models only when it has; it reports what
# it rewrote in summary.enriched[step], which makes the build republish.
ENRICH_STEPS: list[str] = ["evidence.enrich.tagging:enrich", "evidence.enrich.embeddings:enrich", "evidence.enrich.links:enrich"]

# Checks, run on every build inside its transaction after the enrichment
# steps, whatever options.enrich says (same signature). They guard what may
# be published: a story whose id was withdrawn is refused (the build rolls
# back), personal data holds a story back, and rows that any table still
# derives from a removed story are swept (evidence/withdraw.py).
CHECK_STEPS: list[str] = [
    "evidence.content.tombstones:check_build",
    "evidence.content.pii:check_build",
    "evidence.curate.withdraw:sweep_removed",
]


@dataclass
class BuildOptions:
    """Knobs for one build. `embedder` is any object with
    `encode(list[str]) -> numpy array` (None: the configured model); tests
    pass a fake one. `enrich=False` skips tagging, embedding and linking."""

    enrich: bool = True
    embedder: Any = None
    force_publish: bool = False
    progress: Progress | None = None
    root: Path = Path(".")


@dataclass
class BuildSummary:
    """What a build did, counted in records (stories, findings, studies,
    approaches, frameworks)."""

    added: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    files_parsed: int = 0
    files_total: int = 0
    published: dict[str, int] = field(default_factory=dict)
    public_written: bool = False
    seconds: float = 0.0
    db_path: str = ""
    public_path: str = ""
    changed_ids: dict[str, list[str]] = field(default_factory=dict)
    removed_ids: dict[str, list[str]] = field(default_factory=dict)
    enriched: dict[str, int] = field(default_factory=dict)  # step -> rows it (re)wrote
    warnings: list[str] = field(default_factory=list)  # one line each; the CLI prints them on stderr

    def line(self) -> str:
        pub = (f"{Path(self.public_path).name}: {self.published.get('stories', 0)} stories, "
               f"{self.published.get('findings', 0)} findings published"
               if self.public_written else f"{Path(self.public_path).name} unchanged")
        return (f"build: {self.added} added, {self.changed} changed, {self.unchanged} unchanged, "
                f"{self.removed} removed; {pub} ({self.seconds:.2f}s)")


@dataclass
class _Parsed:
    areas: list[Area] | None = None
    frameworks: list[Framework] = field(default_factory=list)
    approaches: list[Approach] = field(default_factory=list)
    studies: list[Study] = field(default_factory=list)
    stories: list[Story] = field(default_factory=list)


def default_paths(root: Path, db_path: str | Path | None, public_path: str | Path | None) -> tuple[Path, Path]:
    root = Path(root)
    return (Path(db_path) if db_path else root / "evidence.db",
            Path(public_path) if public_path else root / "public.db")


def build(root: str | Path, db_path: str | Path | None = None, public_path: str | Path | None = None,
          *, progress: Progress | None = None, force_publish: bool = False,
          options: BuildOptions | None = None) -> BuildSummary:
    """Build the working and public databases from the content files under
    `root`, holding the writer lock (evidence/lock.py) throughout."""
    from evidence.store.lock import writer_lock

    check_root(Path(root))
    with writer_lock(root, extra=[p.parent for p in default_paths(Path(root), db_path, public_path)]):
        return _build(root, db_path, public_path, progress=progress, force_publish=force_publish, options=options)


def _build(root: str | Path, db_path: str | Path | None = None, public_path: str | Path | None = None,
           *, progress: Progress | None = None, force_publish: bool = False,
           options: BuildOptions | None = None) -> BuildSummary:
    start = time.perf_counter()
    root = Path(root)
    options = options or BuildOptions(progress=progress, force_publish=force_publish)
    options.root = root
    progress = options.progress
    force_publish = options.force_publish
    check_root(root)
    db_path, public_path = default_paths(root, db_path, public_path)
    files = scan(root)
    db = store.open_db(db_path)
    try:
        stored = {r["path"]: r for r in db.query("SELECT path, kind, sha256, records FROM files")}
        changed = [f for f in files if f.path not in stored or stored[f.path]["sha256"] != f.sha256]
        on_disk = {f.path for f in files}
        removed = {p: r for p, r in stored.items() if p not in on_disk}
        summary = BuildSummary(files_total=len(files), files_parsed=len(changed),
                               db_path=str(db_path), public_path=str(public_path))
        parsed = _parse(db, changed, removed, progress)
        if changed or removed or (options.enrich and ENRICH_STEPS) or CHECK_STEPS:
            with store.write_transaction(db):
                if changed or removed:
                    _apply(db, parsed, changed, removed, summary)
                for step in (ENRICH_STEPS if options.enrich else []) + CHECK_STEPS:
                    module, func = step.split(":")
                    getattr(importlib.import_module(module), func)(db, summary, options)
                if summary.added or summary.changed or summary.removed or any(summary.enriched.values()):
                    store.set_meta(db, "generation", str(int(store.get_meta(db, "generation", "0")) + 1))
        totals = sum(db[t].count for t in COUNTED)
        summary.unchanged = totals - summary.added - summary.changed
        from evidence.store import publish

        if force_publish or publish.needs_publish(db, public_path):
            try:
                summary.published = publish.publish(db, public_path, full=force_publish)
            except (OSError, sqlite3.Error, EvidenceError) as exc:
                raise publish.PublishError(
                    f"the working database was updated, but {Path(public_path).name} could not be written "
                    f"({exc}); the old one is still in place; fix that, then run 'evidence build'") from exc
            summary.public_written = True
    finally:
        db.close()
    summary.seconds = time.perf_counter() - start
    return summary


# ---------------------------------------------------------------------------
# Parsing changed files, with the cross-file checks


def _parse(db, changed: list[ContentFile], removed: dict, progress: Progress | None) -> _Parsed:
    errors: list[ValidationError] = []
    out = _Parsed()
    touched = {f.path for f in changed} | set(removed)
    vocab = Vocabulary()

    def run(fn, f: ContentFile, *args):
        try:
            return fn(f.path, f.text(), *args)
        except ValidationError as exc:
            errors.append(exc)
        except EvidenceError as exc:
            errors.append(ValidationError(f.path, None, str(exc).split(": ", 1)[-1]))
        return None

    by_kind: dict[str, list[ContentFile]] = defaultdict(list)
    for f in changed:
        by_kind[f.kind].append(f)

    # areas of work
    area_files = by_kind.get("area", [])
    if area_files:
        out.areas = run(parse_areas, area_files[0]) or []
        vocab.areas = {a.id for a in out.areas}
    elif any(r["kind"] == "area" for r in removed.values()):
        out.areas = []
    else:
        vocab.areas = {r["id"] for r in db.query("SELECT id FROM areas_of_work")}

    # frameworks (codebooks); ids come from their 'name', so check clashes
    fw_owner = {r["id"]: r["file"] for r in db.query("SELECT id, file FROM frameworks") if r["file"] not in touched}
    for f in by_kind.get("framework", []):
        fw = run(parse_framework, f)
        if fw is None:
            continue
        if fw.id in fw_owner:
            errors.append(ValidationError(f.path, 1, f"framework id '{fw.id}' is already used by {fw_owner[fw.id]}; give this codebook another name"))
            continue
        fw_owner[fw.id] = f.path
        out.frameworks.append(fw)
    domain_keys = {r["id"] for r in db.query("SELECT id FROM domains")}
    stale_fw = {r["id"] for r in db.query("SELECT id, file FROM frameworks") if r["file"] in touched}
    domain_keys = {k for k in domain_keys if k.split("/", 1)[0] not in stale_fw}
    domain_keys |= {d.key for fw in out.frameworks for d in fw.domains}
    framework_errors = bool(errors)
    for fw in out.frameworks if not framework_errors else []:
        for d in fw.domains:
            for target in d.maps_to:
                if target not in domain_keys:
                    errors.append(ValidationError(fw.path, None, f"domain '{d.id}' maps_to unknown domain '{target}'; write it as <framework>/<domain-id> of an existing codebook"))
    for r in db.query("SELECT c.from_domain, c.to_domain, f.file FROM crosswalk c JOIN domains d ON d.id = c.from_domain JOIN frameworks f ON f.id = d.framework_id"):
        if r["file"] not in touched and r["to_domain"] not in domain_keys:
            errors.append(ValidationError(r["file"], None, f"maps_to '{r['to_domain']}' no longer exists; update the crosswalk"))

    # approaches
    vocab.approaches = {r["id"] for r in db.query("SELECT id, file FROM approaches") if r["file"] not in touched}
    for f in by_kind.get("approach", []):
        a = run(parse_approach, f, vocab)
        if a is not None:
            out.approaches.append(a)
            vocab.approaches.add(a.id)
    if out.areas is not None:  # areas changed: unchanged approaches must still point at a known area
        for r in db.query("SELECT id, file, area_of_work FROM approaches"):
            if r["file"] not in touched and r["area_of_work"] not in vocab.areas:
                errors.append(ValidationError(r["file"], None, f"area of work '{r['area_of_work']}' no longer exists in pipelines/areas_of_work.yml"))
    gone = {r["id"] for r in db.query("SELECT id, file FROM approaches") if r["file"] in touched} - vocab.approaches
    if gone:
        marks = ",".join("?" * len(gone))
        for r in db.query(f"SELECT file, approach FROM stories WHERE approach IN ({marks}) "
                          f"UNION SELECT s.file, f.approach FROM findings f JOIN studies s ON s.id = f.study_id WHERE f.approach IN ({marks})",
                          [*gone, *gone]):
            if r["file"] not in touched:
                errors.append(ValidationError(r["file"], None, f"approach '{r['approach']}' was removed but this file still uses it; change the approach or restore approaches/{r['approach']}.yml"))

    # studies and findings; finding ids are unique across files
    finding_owner = {r["id"]: r["file"] for r in db.query(
        "SELECT f.id, s.file FROM findings f JOIN studies s ON s.id = f.study_id") if r["file"] not in touched}
    for f in by_kind.get("study", []):
        s = run(parse_study, f, vocab)
        if s is None:
            continue
        clash = [fd.id for fd in s.findings if fd.id in finding_owner]
        if clash:
            errors.append(ValidationError(f.path, None, f"finding id '{clash[0]}' is already used in {finding_owner[clash[0]]}; finding ids must be unique"))
            continue
        finding_owner.update({fd.id: f.path for fd in s.findings})
        out.studies.append(s)

    # stories
    story_files = by_kind.get("story", [])
    for i, f in enumerate(story_files):
        s = run(parse_story, f, vocab)
        if s is not None:
            out.stories.append(s)
        if progress and (i % 500 == 0 or i == len(story_files) - 1):
            progress("parsing stories", i + 1, len(story_files))
    if errors:
        raise ValidationErrors(errors)
    return out


# ---------------------------------------------------------------------------
# Writing


def _upsert(db, table: str, rows: list[dict], summary: BuildSummary, counted: bool = True, pk="id") -> None:
    if not rows:
        return
    if counted:
        ids = [r["id"] for r in rows]
        old: dict[str, str] = {}
        for chunk in range(0, len(ids), 500):
            part = ids[chunk:chunk + 500]
            old.update({r[0]: r[1] for r in db.execute(
                f"SELECT id, content_hash FROM [{table}] WHERE id IN ({','.join('?' * len(part))})", part).fetchall()})
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


def _delete(db, table: str, ids: set[str], summary: BuildSummary | None) -> None:
    ids = {i for i in ids if i}
    if not ids:
        return
    id_list = sorted(ids)
    for chunk in range(0, len(id_list), 500):
        part = id_list[chunk:chunk + 500]
        cur = db.execute(f"DELETE FROM [{table}] WHERE id IN ({','.join('?' * len(part))})", part)
        if summary is not None:
            summary.removed += cur.rowcount
            summary.removed_ids.setdefault(table, []).extend(part)


def _apply(db, parsed: _Parsed, changed: list[ContentFile], removed: dict, summary: BuildSummary) -> None:
    # previous records of every touched file, so that what vanished is deleted
    previous: dict[str, set[str]] = defaultdict(set)
    for path, row in removed.items():
        for key in json.loads(row["records"] or "[]"):
            previous[key.split(":", 1)[0]].add(key.split(":", 1)[1])
    changed_paths = [f.path for f in changed]
    for chunk in range(0, len(changed_paths), 500):
        part = changed_paths[chunk:chunk + 500]
        for row in db.execute(f"SELECT records FROM files WHERE path IN ({','.join('?' * len(part))})", part).fetchall():
            for key in json.loads(row[0] or "[]"):
                previous[key.split(":", 1)[0]].add(key.split(":", 1)[1])
    produced: dict[str, list[str]] = defaultdict(list)  # path -> record keys

    if parsed.areas is not None:
        if parsed.areas:
            db["areas_of_work"].upsert_all([store.area_row(a) for a in parsed.areas], pk="id")
        for a in parsed.areas:
            produced[_path_of(changed, "area")].append(f"area:{a.id}")
    for fw in parsed.frameworks:
        row, domains, cross = store.framework_rows(fw)
        _upsert(db, "frameworks", [row], summary)
        keys = [d["id"] for d in domains]
        db.execute("DELETE FROM crosswalk WHERE from_domain IN (SELECT id FROM domains WHERE framework_id = ?)", [fw.id])
        db.execute(f"DELETE FROM domains WHERE framework_id = ? AND id NOT IN ({','.join('?' * len(keys))})", [fw.id, *keys])
        db["domains"].upsert_all(domains, pk="id")
        if cross:
            db["crosswalk"].insert_all(cross, pk=("from_domain", "to_domain"), ignore=True)
        produced[fw.path].append(f"framework:{fw.id}")
    _upsert(db, "approaches", [store.approach_row(a) for a in parsed.approaches], summary)
    for a in parsed.approaches:
        produced[a.path].append(f"approach:{a.id}")
    _upsert(db, "studies", [store.study_row(s) for s in parsed.studies], summary)
    _upsert(db, "findings", [store.finding_row(f) for s in parsed.studies for f in s.findings], summary)
    for s in parsed.studies:
        produced[s.path].append(f"study:{s.id}")
        produced[s.path].extend(f"finding:{f.id}" for f in s.findings)
    _upsert(db, "stories", [store.story_row(s) for s in parsed.stories], summary)
    touched_stories = set(summary.changed_ids.get("stories", []))
    if touched_stories:
        _delete_people(db, touched_stories)
        db["story_people"].insert_all(
            [r for s in parsed.stories if s.id in touched_stories for r in store.people_rows(s)],
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
        _delete_people(db, gone["story"])
        _delete(db, "stories", gone["story"], summary)
    _delete(db, "findings", gone.get("finding", set()), summary)
    if gone.get("study"):
        _delete(db, "findings", {r[0] for r in db.execute(
            f"SELECT id FROM findings WHERE study_id IN ({','.join('?' * len(gone['study']))})", sorted(gone["study"]))}, summary)
    _delete(db, "studies", gone.get("study", set()), summary)
    _delete(db, "approaches", gone.get("approach", set()), summary)
    for fid in gone.get("framework", set()):
        db.execute("DELETE FROM crosswalk WHERE from_domain IN (SELECT id FROM domains WHERE framework_id = ?) "
                   "OR to_domain IN (SELECT id FROM domains WHERE framework_id = ?)", [fid, fid])
        db.execute("DELETE FROM domains WHERE framework_id = ?", [fid])
    _delete(db, "frameworks", gone.get("framework", set()), summary)
    _delete(db, "areas_of_work", gone.get("area", set()), None)

    # the files table: what each file produced, so the next build can skip it
    if removed:
        db.execute(f"DELETE FROM files WHERE path IN ({','.join('?' * len(removed))})", list(removed))
    db["files"].upsert_all([{
        "path": f.path, "kind": f.kind, "sha256": f.sha256, "size": len(f.data),
        "records": json.dumps(produced.get(f.path, [])),
    } for f in changed], pk="path", batch_size=500)


def _delete_people(db, story_ids: set[str]) -> None:
    ids = sorted(story_ids)
    for chunk in range(0, len(ids), 500):
        part = ids[chunk:chunk + 500]
        db.execute(f"DELETE FROM story_people WHERE story_id IN ({','.join('?' * len(part))})", part)


def _path_of(changed: list[ContentFile], kind: str) -> str:
    return next(f.path for f in changed if f.kind == kind)
