"""Tagging, the build's enrichment step: outcome-domain tags and extracted
entities for every story and finding, brought up to date incrementally.

Listed in build.ENRICH_STEPS (the imported callable `enrich`). It runs inside
the build's transaction; an item is processed again only when its content
hash changed, or the NLP pipeline (entities) or the tagger (codebooks,
settings, training data, model) changed. Tags and entities of removed items
go with them (ON DELETE CASCADE, same transaction). Stories are tagged on
their public text (public_body), so every offset and sentence stored points
into what the public sees; findings on their statement. Curators' decisions
(the `tags:` lists in the content files) are applied on every tagging: a
confirmed tag is kept, a rejected one never comes back as a suggestion.
"""
from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import json
import re
import threading
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlite_utils.utils import chunks

from evidence.errors import EvidenceError, ValidationError
from evidence.store.writes import CHUNK, delete_in

STEP = "tagging"  # its key in BuildSummary.enriched
BATCH = 500  # items per nlp.pipe / encode batch


@dataclass
class Item:
    type: str  # story | finding
    id: str
    text: str
    people: list[str]
    decisions: list[dict]
    content_hash: str
    file: str
    roles: list[str] | None = None
    narrator: str = ""


def _rows(db, sql: str, params: list | None = None) -> list[dict]:
    return list(db.query(sql, params or []))


def codebook_version(db) -> str:
    """A hash of every framework's content (ids, domains, examples, crosswalk)."""
    parts = [(r["id"], r["content_hash"]) for r in _rows(db, "SELECT id, content_hash FROM frameworks ORDER BY id")]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:12]


def training_files(root: Path, settings) -> list[Path]:
    """The training CSVs pipelines/tagging.yml lists; a missing one is an
    error at the line that lists it."""
    out = []
    for rel in settings.training:
        p = (Path(root) / rel)
        if not p.exists():
            where = "pipelines/tagging.yml"
            try:
                lines = (Path(root) / where).read_text(encoding="utf-8").split("\n")
                line = next((i for i, t in enumerate(lines, 1) if rel in t and not t.lstrip().startswith("#")), None)
                where = f"{where}:{line}" if line else where
            except (OSError, UnicodeDecodeError):
                pass
            raise EvidenceError(f"{where}: training file {rel} not found; fix the path or remove it from 'training'")
        out.append(p)
    return out


# the code that cuts sentences, gives them roles and scores them: an evidence
# base built by an older release is tagged again by a newer one
_CODE = ("nlp_components.py", "nlp.py", "tagger.py")


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """A hash of the source of this package's pipeline components and tagger,
    read once per process."""
    from evidence.content.settings import source_version

    return source_version(*(Path(__file__).with_name(name) for name in _CODE))


def tagger_version(root: Path, db, settings, model_id: str) -> str:
    """What decides the tags besides an item's own content: codebooks,
    settings, labelled CSVs, the sentence splitter's config, the model, the
    tagger's code."""
    h = hashlib.sha256()
    h.update(code_version().encode())
    h.update(codebook_version(db).encode())
    h.update(settings.version().encode())
    h.update(model_id.encode())
    for p in training_files(root, settings):
        h.update(p.read_bytes())
    cfg = Path(root) / "pipelines" / "nlp.cfg"
    if cfg.exists():
        h.update(cfg.read_bytes())
    return h.hexdigest()[:16]


def _items(db, kind: str, ids: list[str] | None = None) -> list[Item]:
    if kind == "story":
        sql = "SELECT id, public_body AS text, public_people, review, content_hash, file, source_author FROM stories"
    else:
        sql = ("SELECT f.id, f.statement AS text, NULL AS public_people, f.review_tags, f.content_hash, s.file, NULL "
               "FROM findings f JOIN studies s ON s.id = f.study_id")
    out = []
    parts = [None] if ids is None else [list(c) for c in chunks(ids, CHUNK)]
    for part in parts:
        where = "" if part is None else f" WHERE {'' if kind == 'story' else 'f.'}id IN ({','.join('?' * len(part))})"
        for r in db.execute(sql + where, part or []).fetchall():
            if kind == "story":
                listed = [p for p in json.loads(r[2] or "[]") if p.get("name")]
                people, roles = [p["name"] for p in listed], [p.get("role") or "" for p in listed]
                decisions = json.loads(r[3] or "{}").get("tags", []) or []
            else:
                people, roles, decisions = [], [], json.loads(r[3] or "[]")
            out.append(Item(kind, r[0], r[1] or "", people, decisions, r[4], r[5], roles, r[6] or ""))
    return out


def _pending(db, kind: str, nlp_v: str, tag_v: str) -> tuple[list[str], list[str]]:
    """(ids needing entities, ids needing tags) of one item type."""
    table = "stories" if kind == "story" else "findings"
    ents, tags = [], []
    for r in db.execute(
            f"SELECT s.id, s.content_hash, t.content_hash, t.nlp_version, t.tagger_version FROM [{table}] s "
            "LEFT JOIN tagged_items t ON t.item_type = ? AND t.item_id = s.id", [kind]).fetchall():
        same = r[1] == r[2]
        if not same or r[3] != nlp_v:
            ents.append(r[0])
        if not same or r[4] != tag_v:
            tags.append(r[0])
    return ents, tags


def enrich(db, summary, options) -> None:
    """Bring tags and entities up to date (see the module docstring)."""
    from evidence.models.embedder import get_embedder
    from evidence.content.settings import nlp_version
    from evidence.enrich.tagger import check_thresholds, load_settings

    root = Path(options.root)
    # items removed by this build: their tags and entities went by cascade
    for kind, table in (("story", "stories"), ("finding", "findings")):
        db.execute(f"DELETE FROM tagged_items WHERE item_type = ? AND item_id NOT IN (SELECT id FROM [{table}])", [kind])
    approaches = _rows(db, "SELECT id, name, organisation FROM approaches ORDER BY id")
    nlp_v = hashlib.sha256((nlp_version(root, approaches) + code_version()).encode()).hexdigest()[:16]
    settings = load_settings(root)
    check_thresholds(root, settings, (r[0] for r in db.execute("SELECT id FROM domains")))
    embedder = options.embedder if options.embedder is not None else get_embedder(root)
    tag_v = tagger_version(root, db, settings, embedder.model_id)
    work = {kind: _pending(db, kind, nlp_v, tag_v) for kind in ("story", "finding")}
    if not any(ents or tags for ents, tags in work.values()):
        summary.enriched[STEP] = 0
        return
    from evidence.enrich.nlp import entity_rows, load_nlp, make_docs

    nlp = load_nlp(root, approaches)
    tagger, labels = None, None
    if any(tags for _, tags in work.values()):
        tagger, labels = _tagger(db, root, embedder, nlp, settings,
                                 items=sum(len(tags) for _, tags in work.values()))
    run = {"run_date": _dt.date.today().isoformat(), "model_id": embedder.model_id,
           "codebook_version": codebook_version(db), "tagger_version": tag_v}
    written = 0
    for kind, (ent_ids, tag_ids) in work.items():
        ids = sorted(set(ent_ids) | set(tag_ids))
        ent_set, tag_set = set(ent_ids), set(tag_ids)
        for start in range(0, len(ids), BATCH):
            items = _items(db, kind, ids[start:start + BATCH])
            docs = make_docs(nlp, [it.text for it in items], [it.people for it in items], batch_size=128,
                             roles=[it.roles or [] for it in items], narrators=[it.narrator for it in items])
            fk = "story_id" if kind == "story" else "finding_id"
            ent_items = [(it, d) for it, d in zip(items, docs) if it.id in ent_set]
            _delete_for(db, "entities", kind, [it.id for it, _ in ent_items])
            rows = [{"item_type": kind, "item_id": it.id, "story_id": None, "finding_id": None, fk: it.id, **e} for it, d in ent_items for e in entity_rows(d)]
            if rows:
                db["entities"].insert_all(rows, pk=("item_type", "item_id", "start"), batch_size=500, replace=True)
            written += len(rows)
            tag_items = [(it, d) for it, d in zip(items, docs) if it.id in tag_set]
            if tag_items:
                rows, sentence_rows = _tag_rows(db, tagger, labels, tag_items,
                                                tagger.effective_settings if tagger else settings, run, fk)
                _delete_for(db, "tag_sentences", kind, [it.id for it, _ in tag_items])
                _delete_for(db, "tags", kind, [it.id for it, _ in tag_items])
                if rows:
                    db["tags"].insert_all(rows, pk=("item_type", "item_id", "domain"), batch_size=500)
                if sentence_rows:
                    db["tag_sentences"].insert_all(sentence_rows, pk=("item_type", "item_id", "domain", "rank"), batch_size=500)
                written += len(rows)
            db["tagged_items"].upsert_all([
                {"item_type": kind, "item_id": it.id, "content_hash": it.content_hash, "nlp_version": nlp_v,
                 "tagger_version": tag_v, "tagged_at": run["run_date"]} for it in items],
                pk=("item_type", "item_id"))
            if options.progress:
                options.progress(f"tagging {kind} items", min(start + BATCH, len(ids)), len(ids))
    summary.enriched[STEP] = written or len(ids)


def forget_tagging(root: Path, db_path=None) -> None:
    """Make the next build tag every item again."""
    from evidence.store import schema as store
    from evidence.store.paths import default_paths

    path, _ = default_paths(Path(root), db_path, None)
    if not Path(path).exists():
        return
    db = store.open_db(path)
    try:
        with db.atomic():
            db.execute("UPDATE tagged_items SET tagger_version = '', nlp_version = ''")
    finally:
        db.close()


def _delete_for(db, table: str, kind: str, ids: list[str]) -> None:
    delete_in(db, table, "item_id", ids, where="item_type = ?", params=[kind])


# A build that tags at most SMALL_BUILD items (a curator's one-story action)
# may keep the last fitted classifier when the training examples differ from
# it by at most STALE_EXAMPLES (or STALE_SHARE of them): a curator's new
# decision applies to its own tag at once, and reaches the classifier (which
# scores other sentences) at the next larger build or once enough decisions
# have gathered. Fitting costs scikit-learn's import and seconds of CPU.
SMALL_BUILD = 10
STALE_EXAMPLES = 20
STALE_SHARE = 0.02


# ---------------------------------------------------------------------------
# The tagger for this evidence base: every framework's domains, trained on
# curators' decisions and the configured CSVs


def _tagger(db, root: Path, embedder: Any, nlp: Any, settings, items: int = SMALL_BUILD + 1):
    from evidence.enrich.tagger import Label, Tagger

    labels = [Label(key=r["id"], label=r["label"], description=r["description"] or "",
                    examples=json.loads(r["examples"] or "[]"))
              for r in _rows(db, "SELECT d.id, d.label, d.description, d.examples FROM domains d "
                                 "JOIN frameworks f ON f.id = d.framework_id ORDER BY f.id, d.position")]
    if not labels:
        return None, []
    tagger = Tagger(labels, embedder, nlp, settings)
    texts, pos, neg, scope, stories = training_examples(db, root, settings, set(tagger.keys))
    if texts:
        _fit_or_reuse(db, tagger, texts, pos, neg, items, scope, stories)
    return tagger, labels


# the classifiers this process fitted last (key -> bytes): a process that
# builds several evidence bases with the same training data (the curator's
# workbench, a test run) fits once; the working database keeps them too
_FITTED: dict[str, bytes] = {}
_FITTED_KEEP = 8  # a classifier is about 1 MB
_FITTED_LOCK = threading.Lock()
# and their training sentences' vectors (model -> text hash -> bytes, at
# most _VECTORS_KEEP a model; the shipped CSV's are about 6 MB): another
# evidence base given one of those classifiers gets them in its vector cache
# too, so its own refit (a withdrawal) does not encode them again
_FITTED_VECTORS: dict[str, dict[str, bytes]] = {}
_VECTORS_KEEP = 20_000


def _fit_or_reuse(db, tagger, texts: list[str], pos: list[list[str]], neg: list[list[str]],
                  items: int = SMALL_BUILD + 1, scope: list[set[str] | None] | None = None,
                  stories: list[str] | None = None) -> str:
    """Give the tagger its classifier: the one an earlier build fitted on
    exactly these examples, settings, domains and sentence model (kept in
    the working database, store/model_cache.py, and for the last few in
    this process), else, in a small build, the last one fitted if it is
    close enough, else a new fit (stored). Returns how: 'reused',
    'reused-close' or 'fitted'."""
    from evidence.enrich.tagger import LinearClassifier
    from evidence.store import model_cache

    def digest(*parts: str) -> str:
        h = hashlib.sha256()
        for part in parts:
            h.update(part.encode("utf-8"))
            h.update(b"\0")
        return h.hexdigest()

    base = digest(LinearClassifier.FORMAT, tagger.settings.version(), tagger.embedder.model_id, json.dumps(tagger.keys))
    scope = scope if scope is not None else [None] * len(texts)
    # a sentence's neighbours are part of its example (the classifier's context)
    near = [""] * len(texts)
    for i, sid in enumerate(stories or []):
        if sid:
            near[i] = "\n".join(texts[j] if 0 <= j < len(texts) and stories[j] == sid else "" for j in (i - 1, i + 1))
    examples = sorted({digest(json.dumps([t, p, n, *([sorted(s)] if s is not None else []), *([c] if c else [])],
                                         ensure_ascii=False))[:16]
                       for t, p, n, s, c in zip(texts, pos, neg, scope, near)})
    key = digest(base, *examples)

    def use(data: bytes | None) -> bool:
        stored = LinearClassifier.from_bytes(data) if data is not None else None
        if stored is None or stored.n_labels != len(tagger.labels):
            return False
        tagger.use_classifier(stored)
        keep = getattr(tagger.embedder, "keep", None)
        if keep is not None:  # the working database's vector cache: a refit needs these sentences' vectors
            keep(texts)
        return True

    if use(model_cache.get(db, key)):
        return "reused"
    remembered = _FITTED.get(key)
    if remembered is not None and use(remembered):
        model_cache.put(db, key, remembered, base=base, examples=" ".join(examples).encode("ascii"))
        if hasattr(tagger.embedder, "add"):
            from evidence.store.vector_cache import text_key

            with _FITTED_LOCK:
                known = _FITTED_VECTORS.get(tagger.embedder.model_id, {})
                vectors = {h: known[h] for h in {text_key(t) for t in texts} if h in known}
            if vectors:
                tagger.embedder.add(vectors)
        return "reused"
    if items <= SMALL_BUILD:
        last = model_cache.latest(db, base)
        if last is not None:
            differ = len(set(last[1].decode("ascii").split()).symmetric_difference(examples))
            if differ <= max(STALE_EXAMPLES, STALE_SHARE * len(examples)) and use(last[2]):
                return "reused-close"
    tagger.fit(texts, pos, neg, scope=scope, stories=stories)
    if tagger.classifier:
        data = tagger.classifier.to_bytes()
        model_cache.put(db, key, data, base=base, examples=" ".join(examples).encode("ascii"))
        vectors = tagger.embedder.stored(texts) if hasattr(tagger.embedder, "stored") else {}
        with _FITTED_LOCK:  # builds of other evidence bases may run in other threads
            _FITTED.pop(key, None)
            _FITTED[key] = data
            while len(_FITTED) > _FITTED_KEEP:
                _FITTED.pop(next(iter(_FITTED)))
            if vectors:
                known = _FITTED_VECTORS.setdefault(tagger.embedder.model_id, {})
                for h in vectors:  # the newest last
                    known.pop(h, None)
                known.update(vectors)
                for h in list(known)[:max(0, len(known) - _VECTORS_KEEP)]:
                    del known[h]
    return "fitted"


def training_examples(db, root: Path, settings, known: set[str]
                      ) -> tuple[list[str], list[list[str]], list[list[str]], list[set[str] | None], list[str]]:
    """(sentences, confirmed domains, rejected domains, scope, stories) from every
    curator decision that names its sentence, plus the rows of the training
    CSVs. A row's scope is the domains it was labelled for: every domain of
    the frameworks its decisions name, or that its CSV labels; it says
    nothing about the domains of any other (Tagger.fit)."""
    from evidence.enrich.codebooks import codebook_of_domains, read_labelled_stories

    label = {r["id"]: r["label"] for r in _rows(db, "SELECT id, label FROM domains")}
    domains = [(k, k.split("/", 1)[0], label.get(k) or k.split("/", 1)[-1]) for k in sorted(known)]
    cb = codebook_of_domains("+".join(sorted({fw for _, fw, _ in domains})) or "evidence", domains)
    by_sentence: dict[str, tuple[set, set]] = {}
    for kind in ("story", "finding"):
        for it in _items(db, kind):
            for d in it.decisions:
                s = (d.get("sentence") or "").strip()
                if s and d["domain"] in known:
                    pos, neg = by_sentence.setdefault(s, (set(), set()))
                    (pos if d["status"] == "confirmed" else neg).add(d["domain"])
    texts = list(by_sentence)
    pos = [sorted(by_sentence[t][0]) for t in texts]
    neg = [sorted(by_sentence[t][1]) for t in texts]
    scope: list[set[str] | None] = [cb.covered([p + n]) for p, n in zip(pos, neg)]
    stories = [""] * len(texts)  # a curator's sentence is an example on its own
    for path in training_files(root, settings):
        # labels of a framework this evidence base does not load (its
        # codebooks replaced) are left out; a typo inside one is an error
        t, labs, sids = read_labelled_stories(path, cb, "training", unknown="other-frameworks")
        covered = cb.covered(labs)
        if not covered:  # labels only frameworks this base does not load
            continue
        texts += t
        pos += labs
        neg += [[] for _ in t]
        scope += [covered] * len(t)
        stories += [f"{path}#{sid}" if sid else "" for sid in sids]  # a story of one file
    return texts, pos, neg, scope, stories


def _find_sentence(sentence: str, units: list[tuple[int, int, str]]) -> int | None:
    """The unit a curator's sentence refers to: exact, else the best word overlap."""
    norm = " ".join(sentence.split()).lower()
    for u, (_, _, text) in enumerate(units):
        if norm and norm in " ".join(text.split()).lower():
            return u
    words = set(re.findall(r"\w+", norm))
    best, best_u = 0.0, None
    for u, (_, _, text) in enumerate(units):
        other = set(re.findall(r"\w+", text.lower()))
        overlap = len(words & other) / max(len(words | other), 1)
        if overlap > best:
            best, best_u = overlap, u
    return best_u if best >= 0.5 else None


def _tag_rows(db, tagger, labels, tag_items, settings, run: dict, fk: str) -> tuple[list[dict], list[dict]]:
    """(tag rows, supporting-sentence rows) for items: suggestions at or
    above their domain's threshold (at most max_tags_per_framework per
    framework), curators' decisions applied, then domains reached through
    the crosswalk (each on its own sentences: crosswalk_targets). Each tag
    lists every sentence that supports it, best first."""
    from evidence.enrich.tagger import choose, combine, crosswalk_targets, supporting_units

    if tagger is None:
        return [], []
    crosswalk = defaultdict(list)
    for r in _rows(db, "SELECT from_domain, to_domain FROM crosswalk ORDER BY from_domain, to_domain"):
        crosswalk[r["from_domain"]].append(r["to_domain"])
    keys = tagger.keys
    floors = settings.support_floors(keys)
    analysed = tagger.analyse([d for _, d in tag_items], batch_size=128)
    rows, sentence_rows = [], []
    for (it, _), scores in zip(tag_items, analysed):
        decisions = {d["domain"]: d for d in it.decisions}
        for dom in decisions:
            if dom not in tagger.index:
                import difflib

                close = difflib.get_close_matches(dom, keys, n=1) or [k for k in keys if k.split("/")[-1] == dom.split("/")[-1]]
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise ValidationError(it.file, None, f"tag decision for unknown domain '{dom}'{hint} on {it.type} '{it.id}'; "
                                                     "use <framework>/<domain-id> from pipelines/frameworks/")
        if not scores.units:
            continue
        c = combine(scores, settings.weights)
        chosen: dict[str, dict] = {}
        support: dict[str, list[int]] = {}
        for i in choose(c.max(axis=0), keys, settings, skip=decisions):
            units = supporting_units(c, i, floors[i], settings.support_margin)
            chosen[keys[i]] = _row(it, fk, keys[i], i, units[0], scores, c, settings, "suggested", run)
            support[keys[i]] = units
        for key, d in decisions.items():
            i = tagger.index[key]
            u = _find_sentence(d.get("sentence", ""), scores.units) if d.get("sentence") else None
            units = supporting_units(c, i, floors[i], settings.support_margin, first=u)
            row = _row(it, fk, key, i, units[0], scores, c, settings, d["status"], run)
            row["methods"] = "curator" + ("+" + row["methods"] if row["methods"] else "")
            chosen[key] = row
            support[key] = units
        sources = [key for key, row in chosen.items() if row["status"] != "rejected"]
        for j, key in crosswalk_targets(c.max(axis=0), sources, keys, crosswalk, settings, taken=chosen):
            units = supporting_units(c, j, floors[j], settings.support_margin)
            row = _row(it, fk, keys[j], j, units[0], scores, c, settings, "suggested", run)
            chosen[keys[j]] = {**row, "via_crosswalk": 1, "via_domain": key, "methods": "+".join(["crosswalk", row["methods"]])}
            support[keys[j]] = units
        rows += chosen.values()
        for key, row in chosen.items():
            i = tagger.index[key]
            for rank, u in enumerate(support[key]):
                start, end, text = scores.units[u]
                sentence_rows.append({
                    "item_type": it.type, "item_id": it.id, "story_id": None, "finding_id": None, fk: it.id,
                    "domain": key, "rank": rank, "sentence": text, "start": start, "end": end,
                    "score": round(float(c[u, i]), 4), "role": scores.roles[u] if scores.roles else None})
    return rows, sentence_rows


def _row(it: Item, fk: str, key: str, i: int, u: int, scores, c, settings, status: str, run: dict) -> dict:
    import numpy as np

    from evidence.enrich.tagger import supporting_methods

    start, end, text = scores.units[u]
    rule, emb = float(scores.rule[u, i]), float(scores.embedding[u, i])
    clf = None if scores.classifier is None or np.isnan(scores.classifier[u, i]) else float(scores.classifier[u, i])
    methods = supporting_methods(rule, emb, clf, settings.weights)
    return {
        "item_type": it.type, "item_id": it.id, "story_id": None, "finding_id": None, fk: it.id, "framework": key.split("/", 1)[0], "domain": key,
        "score": round(float(c[u, i]), 4), "methods": "+".join(methods),
        "rule_score": rule, "embedding_score": round(emb, 4), "classifier_score": None if clf is None else round(clf, 4),
        "sentence": text, "sentence_start": start, "sentence_end": end, "status": status,
        "via_crosswalk": 0, "via_domain": None, **run,
    }
