"""The search model: a copy of the sentence model fine-tuned for search on
the evidence base's own stories, a build product kept beside the working
database (`.evidence-models/search-<digest>/`), never committed, published
or downloaded.

Measured on the 280 items of the measuring corpus it finds the right story
first more often than the bundled model (docs/benchmarks.md). It serves
search only: the public `embeddings` table holds its vectors, and queries
are embedded with it (in numpy, no torch), while tagging, links and
everything else keep the bundled model and its vectors in the working
database.

The pairs are those any evidence base gives (evidence/enrich/search_pairs.py):
a sentence of a story -> its passage without it, a title -> its summary,
from the public texts of stories that may be published. A small evidence
base gives too few of them to learn from; below `search_tuning_min_pairs`
there is no search model and search uses the bundled model.

Training takes minutes and imports torch, so only `evidence build` does it
(BuildOptions.tune_search): when there is no search model, when the
settings or the base model changed, or when the publishable stories have
grown by `search_tuning_growth` since the last training. Other builds (a
curator's one-story actions) only embed new passages with the model there
is, in numpy. When a story the model was trained on is withdrawn, removed
or loses its consent, the model is deleted in that build, so its text
shapes nothing that is served; search falls back to the bundled model until
`evidence build` trains again.
"""
from __future__ import annotations

import hashlib
import json
import random
import shutil
from pathlib import Path
from typing import Any

from evidence.models.weights import SEARCH_MARKER as MARKER  # written last: a folder without it is unfinished
from evidence.models.weights import SEARCH_MODELS_DIR as MODELS_DIR
from evidence.models.weights import SEARCH_PREFIX as PREFIX
from evidence.store import schema as store

STEP = "search_model"  # its key in BuildSummary.enriched
PAIRS_VERSION = "2"  # bump when search_pairs changes what it makes
EPOCHS, LR, BATCH, SEED, PER_STORY = 1, 2e-5, 32, 7, 12

# stories a model may go on using once it has learnt from them: published,
# with consent to publish (withdrawn stories have another status). A
# training takes only stories that may be published (PUBLISHABLE_STORY: also
# cleared by the personal-data check and not held back; the step runs after
# the checks, evidence/build.py LATE_STEPS).
ELIGIBLE = "status = 'published' AND consent_scope = 'public'"


def models_dir(db_path: str | Path) -> Path:
    """Where the search models of the database at db_path live."""
    return Path(db_path).resolve().parent / MODELS_DIR


def _eligible(db) -> list[str]:
    return [r[0] for r in db.execute(f"SELECT id FROM stories WHERE {ELIGIBLE} ORDER BY id")]


def _publishable(db) -> list[str]:
    from evidence.store.publish import PUBLISHABLE_STORY

    return [r[0] for r in db.execute(f"SELECT s.id FROM stories s WHERE {PUBLISHABLE_STORY} ORDER BY s.id")]


def id_key(story_id: str) -> str:
    """How the stories a model learnt from are recorded (meta
    search_model_stories): a hash, not the id, which often holds a name."""
    return hashlib.sha256(story_id.encode("utf-8")).hexdigest()[:16]


def _config(cfg: dict, base_model: str) -> str:
    return json.dumps([base_model, PAIRS_VERSION, cfg["passage_sentences"], cfg["passage_stride"],
                       list(cfg["passage_context"]), cfg["search_tuning_max_pairs"], EPOCHS, LR, BATCH, SEED, PER_STORY])


def _drop(db, folder_root: Path, model: str) -> int:
    """Forget the search model: its vectors, its meta rows, its folder."""
    n = db.execute("DELETE FROM embeddings WHERE model = ?", [model]).rowcount if model else 0
    for key in ("search_model", "search_model_config", "search_model_stories"):
        db.execute("DELETE FROM meta WHERE key = ?", [key])
    if model:
        shutil.rmtree(folder_root / model, ignore_errors=True)
    return max(n, 1)


def _sweep(folder_root: Path, keep: set[str]) -> None:
    """Delete search-model folders other than those in `keep` (the one in
    use and the one the public database may still name until it is
    written again) and unfinished training runs."""
    if folder_root.is_dir():
        for child in folder_root.iterdir():
            if child.name.lstrip(".").startswith(PREFIX) and child.name not in keep:
                shutil.rmtree(child, ignore_errors=True)


def _train(db, options: Any, cfg: dict, base_model: str, stories: list[str], folder_root: Path) -> str | None:
    """Train a search model on pairs from `stories`; its id, or None when
    they give fewer than the minimum pairs."""
    from evidence.enrich.search_pairs import training_pairs
    from evidence.models.finetune import finetune

    pairs = training_pairs(None, None, db=db, story_ids=stories, per_story=PER_STORY, seed=SEED, root=options.root)
    if len(pairs) < int(cfg["search_tuning_min_pairs"]):
        return None
    cap = int(cfg["search_tuning_max_pairs"])
    if len(pairs) > cap:
        pairs = random.Random(SEED).sample(pairs, cap)
    digest = hashlib.sha256(json.dumps([_config(cfg, base_model), [(p.query, p.passage) for p in pairs]])
                            .encode("utf-8")).hexdigest()
    model = PREFIX + digest[:16]
    folder = folder_root / model
    if not (folder / MARKER).exists():  # the same pairs were trained on before (a build rolled back): reuse
        shutil.rmtree(folder, ignore_errors=True)
        folder_root.mkdir(parents=True, exist_ok=True)
        label = (f"fine-tuning the search model on {len(pairs)} pairs from {len(stories)} stories "
                 "(minutes; --no-tune puts it off)")
        if options.progress:
            options.progress(label, 0, 1)
        finetune([(p.query, p.passage) for p in pairs], folder, base=base_model, epochs=EPOCHS, lr=LR, batch=BATCH,
                 seed=SEED, progress=False)
        shutil.rmtree(folder_root / f".{model}-run", ignore_errors=True)
        (folder / "README.md").unlink(missing_ok=True)  # the model card quotes training pairs: story text
        from evidence.models.weights import sha256_file

        (folder / MARKER).write_text(json.dumps({
            "base": base_model, "pairs": len(pairs), "stories": len(stories),
            "sha256": sha256_file(folder / "model.safetensors")}, indent=1), encoding="utf-8")
        if options.progress:
            options.progress(label, 1, 1)
    return model


def _embed_missing(db, model: str, folder: Path, options: Any, cfg: dict, changed: bool) -> int:
    """Give every passage a vector from the search model (new and changed
    items since the last build; all of them after a training)."""
    from evidence.content.abbreviations import load_glossary
    from evidence.enrich.embeddings import BATCH as EMBED_BATCH, _rows, item_passages, passage_context, to_blob
    from evidence.models.embedder import get_embedder

    base_rows = db.execute("SELECT count(*) FROM passages").fetchone()[0]
    have = db.execute("SELECT count(*) FROM embeddings WHERE model = ?", [model]).fetchone()[0]
    if have == base_rows and not changed:  # nothing new since the last build: two counts
        return 0
    todo: dict[str, list[str]] = {}
    for item_type, item_id in db.execute(
            "SELECT DISTINCT p.item_type, p.item_id FROM passages p WHERE NOT EXISTS (SELECT 1 FROM embeddings e "
            "WHERE e.model = ? AND e.item_type = p.item_type AND e.item_id = p.item_id AND e.passage = p.passage)",
            [model]):
        todo.setdefault(item_type, []).append(item_id)
    db.execute("DELETE FROM embeddings WHERE model = ? AND NOT EXISTS (SELECT 1 FROM passages p WHERE "
               "p.item_type = embeddings.item_type AND p.item_id = embeddings.item_id AND p.passage = embeddings.passage "
               "AND p.text_hash = embeddings.text_hash)", [model])
    size, stride, context = int(cfg["passage_sentences"]), int(cfg["passage_stride"]), passage_context(cfg)
    glossary = load_glossary(options.root)
    jobs: list[tuple[str, str, int, str, str]] = []  # type, id, passage, hash, text
    for item_type, ids in todo.items():
        for row in _rows(db, item_type, ids):
            for n, p in enumerate(item_passages(item_type, row, size, stride, context, glossary)):
                jobs.append((item_type, row["id"], n, p.text_hash, p.embed_text))
    embedder = get_embedder(options.root, name=str(folder))
    written = 0
    for start in range(0, len(jobs), 512):
        part = jobs[start:start + 512]
        vectors = embedder.encode([j[4] for j in part], batch_size=EMBED_BATCH)
        db["embeddings"].insert_all(
            [{"model": model, "item_type": t, "item_id": i, "passage": n, "text_hash": h, "vector": to_blob(v)}
             for (t, i, n, h, _), v in zip(part, vectors)],
            pk=("model", "item_type", "item_id", "passage"), replace=True, batch_size=500)
        written += len(part)
        if options.progress:
            options.progress("embedding passages for search", min(start + 512, len(jobs)), len(jobs))
    return written


def enrich(db, summary: Any, options: Any) -> None:
    """Build step (after the checks, so after embeddings): keep the search model and its vectors
    up to date, train it when `evidence build` asks (options.tune_search),
    or drop it (see the module's docstring)."""
    from evidence.models.embedder import FakeEmbedder, settings

    cfg = settings(options.root)
    folder_root = models_dir(summary.db_path or "evidence.db")
    current = before = store.get_meta(db, "search_model")
    base_model = store.get_meta(db, "embedding_model")
    fake = base_model == FakeEmbedder.model_id
    tune = bool(cfg["search_tuning"] and not fake and base_model and getattr(options, "tune_search", False))
    if not current and not tune:
        return
    written = 0
    if current:
        trained_on = set(json.loads(store.get_meta(db, "search_model_stories") or "[]"))
        if (not cfg["search_tuning"] or fake or store.get_meta(db, "search_model_config") != _config(cfg, base_model)
                or not (folder_root / current / MARKER).exists() or trained_on - {id_key(s) for s in _eligible(db)}):
            # switched off, another base model or settings, the folder gone,
            # or a story it learnt from may no longer be published
            written += _drop(db, folder_root, current)
            current = ""
    if tune:
        stories = _publishable(db)
        trained = len(json.loads(store.get_meta(db, "search_model_stories") or "[]")) if current else 0
        grown = len(stories) >= max(1, trained) * (1 + float(cfg["search_tuning_growth"]))
        if (not current or grown) and len(stories) * (PER_STORY + 1) >= int(cfg["search_tuning_min_pairs"]):
            model = _train(db, options, cfg, base_model, stories, folder_root)
            if model and model != current:
                if current:
                    db.execute("DELETE FROM embeddings WHERE model = ?", [current])
                current = model
                store.set_meta(db, "search_model", model)
                store.set_meta(db, "search_model_config", _config(cfg, base_model))
                store.set_meta(db, "search_model_stories", json.dumps(sorted(map(id_key, stories))))
                written += 1
    if current:
        changed = any(summary.changed_ids.values()) or any(summary.removed_ids.values())
        written += _embed_missing(db, current, folder_root / current, options, cfg, changed or written > 0)
    _sweep(folder_root, {current, before})
    if written:
        summary.enriched[STEP] = written
