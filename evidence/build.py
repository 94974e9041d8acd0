"""Build: content files -> working database -> public database.

Incremental: a file whose bytes have not changed is not parsed again, and a
record whose content hash has not changed is not written again. All writes of
one build are one transaction, so a failure leaves the database as it was.
"""
from __future__ import annotations

import sqlite3
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from evidence.enrich import certainty, checks, embeddings, links, search_model, tagging
from evidence.store import schema as store
from evidence.store import writes
from evidence.store.paths import default_paths
from evidence.store.writes import Parsed
from evidence.content.tree import ContentFile, check_root, scan
from evidence.errors import EvidenceError, ValidationError, ValidationErrors
from evidence.content.records import Vocabulary
from evidence.content.privacy import ANONYMISER_VERSION
from evidence.content.parsers import parse_approach, parse_areas, parse_framework, parse_story, parse_study

Progress = Callable[[str, int, int], None]

COUNTED = ("stories", "findings", "studies", "approaches", "frameworks")

# The build's steps are imported callables, run in order inside the build's
# transaction after the records are written; each takes (db, summary,
# options). Enrichment steps must bring their own tables up to date for the
# stories and findings that were added, changed or removed
# (summary.changed_ids / summary.removed_ids), find quickly (by content hash,
# model id, codebook version) that they have nothing to do, load heavy models
# only when they have, and report what they rewrote in summary.enriched[name],
# which makes the build republish. Checks run on every build, whatever
# options.enrich says: a tombstoned story is refused (the build rolls back),
# personal data holds a story back, and rows that any table still derives
# from a removed story are swept. A step that fails rolls the whole build back.
Step = Callable[[Any, "BuildSummary", "BuildOptions"], None]

ENRICH_STEPS: tuple[Step, ...] = (tagging.enrich, embeddings.enrich, links.enrich)
# certainty.assess comes after the personal-data check: the confidence in
# what stories say counts only the stories that may be published
CHECK_STEPS: tuple[Step, ...] = (checks.tombstone_check, checks.personal_data_check, checks.linked_names_check,
                                 writes.sweep_removed, certainty.assess)
# enrichment that must know which stories may be published, so after the
# checks (skipped with enrich=False, as ENRICH_STEPS are): the search model
LATE_STEPS: tuple[Step, ...] = (search_model.enrich,)


@dataclass
class BuildOptions:
    """Knobs for one build. `embedder` is any object with
    `encode(list[str]) -> numpy array` (None: the configured model); tests
    pass a fake one. `enrich=False` skips tagging, embedding and linking."""

    enrich: bool = True
    embedder: Any = None
    enrich_steps: tuple[Step, ...] | None = None  # None: ENRICH_STEPS; tests inject their own
    check_steps: tuple[Step, ...] | None = None   # None: CHECK_STEPS
    late_steps: tuple[Step, ...] | None = None    # None: LATE_STEPS
    force_publish: bool = False
    # train the search model when it is due (enrich/search_model.py): minutes
    # and torch, so `evidence build` asks for it and curators' actions do not
    tune_search: bool = False
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


def build(root: str | Path, db_path: str | Path | None = None, public_path: str | Path | None = None,
          *, progress: Progress | None = None, force_publish: bool = False,
          options: BuildOptions | None = None) -> BuildSummary:
    """Build the working and public databases from the content files under
    `root`, holding the writer lock (evidence/store/lock.py) throughout."""
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
    from evidence.content.settings import read_limits

    limits = read_limits(root)
    files = scan(root, limits)
    db = store.open_db(db_path)
    try:
        stored = {r["path"]: r for r in db.query("SELECT path, kind, sha256, records FROM files")}
        changed = [f for f in files if f.path not in stored or stored[f.path]["sha256"] != f.sha256]
        changed += _anonymised_to_redo(db, files, changed)
        on_disk = {f.path for f in files}
        removed = {p: r for p, r in stored.items() if p not in on_disk}
        summary = BuildSummary(files_total=len(files), files_parsed=len(changed),
                               db_path=str(db_path), public_path=str(public_path))
        parsed = _parse(db, changed, removed, progress, limits.max_findings_per_file)
        enrich_steps = options.enrich_steps if options.enrich_steps is not None else ENRICH_STEPS
        check_steps = options.check_steps if options.check_steps is not None else CHECK_STEPS
        late_steps = options.late_steps if options.late_steps is not None else LATE_STEPS
        steps = (tuple(enrich_steps) if options.enrich else ()) + tuple(check_steps) + (
            tuple(late_steps) if options.enrich else ())
        if changed or removed or steps:
            with store.write_transaction(db):
                if changed or removed:
                    writes.apply_records(db, parsed, changed, removed, summary)
                cache = _cached_embedder(db, options) if options.enrich and enrich_steps else None
                step_options = replace(options, embedder=cache) if cache is not None else options
                for step in steps:
                    step(db, summary, step_options)
                if cache is not None and cache.misses:
                    cache.prune()
                if store.get_meta(db, "anonymiser") != ANONYMISER_VERSION:
                    store.set_meta(db, "anonymiser", ANONYMISER_VERSION)
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


def _anonymised_to_redo(db, files: list[ContentFile], changed: list[ContentFile]) -> list[ContentFile]:
    """The unchanged files of anonymised stories when their public texts were
    made by another version of the anonymiser (content/privacy.py): they are
    read again, so names the old version missed leave the public database."""
    if store.get_meta(db, "anonymiser") == ANONYMISER_VERSION or not db["stories"].exists():
        return []
    redo = {r[0] for r in db.execute("SELECT file FROM stories WHERE consent_identity = 'anonymised'")}
    seen = {f.path for f in changed}
    return [f for f in files if f.path in redo and f.path not in seen]


def _cached_embedder(db, options: BuildOptions):
    """The build's embedder behind the vector cache (store/vector_cache.py):
    texts embedded by an earlier build (the codebooks' anchors, training
    sentences) are read back, so one new story costs only its own sentences
    and the small-batch path needs no torch. The model is still loaded only
    when some text is new."""
    from evidence.models.embedder import get_embedder
    from evidence.store.vector_cache import CachedEmbedder

    base = options.embedder if options.embedder is not None else get_embedder(options.root)
    return CachedEmbedder(db, base)


# ---------------------------------------------------------------------------
# Parsing changed files, with the cross-file checks


def _parse(db, changed: list[ContentFile], removed: dict, progress: Progress | None,
           max_findings: int | None = None) -> Parsed:
    errors: list[ValidationError] = []
    out = Parsed()
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
        s = run(parse_study, f, vocab, max_findings)
        if s is None:
            continue
        clash = [fd.id for fd in s.findings if fd.id in finding_owner]
        if clash:
            from evidence.content.yamldoc import YamlDoc

            at = YamlDoc(f.path, f.text()).line("findings", [fd.id for fd in s.findings].index(clash[0]), "id")
            errors.append(ValidationError(f.path, at, f"finding id '{clash[0]}' is already used in "
                                          f"{finding_owner[clash[0]]}; finding ids must be unique: give this one another id"))
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
    # one id names one thing: a story and a finding may not share an id
    # (item ids, URLs and the sweep of withdrawn stories rely on it)
    story_owner = {r["id"]: r["file"] for r in db.query("SELECT id, file FROM stories") if r["file"] not in touched}
    story_owner.update({st.id: st.path for st in out.stories})
    for st in out.stories:
        if st.id in finding_owner:
            errors.append(ValidationError(st.path, None, f"id '{st.id}' is already the id of a finding in "
                                          f"{finding_owner[st.id]}; give the story another id (and file name)"))
    new_findings = {fd.id: s.path for s in out.studies for fd in s.findings}
    for fid, path in new_findings.items():
        if fid in story_owner and story_owner[fid] not in {st.path for st in out.stories}:
            errors.append(ValidationError(path, None, f"finding id '{fid}' is already the id of the story "
                                          f"{story_owner[fid]}; give the finding another id"))
    if errors:
        raise ValidationErrors(errors)
    return out


# ---------------------------------------------------------------------------
# Writing


