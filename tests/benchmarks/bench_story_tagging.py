"""Benchmark the story tagger on the labelled corpus (prints figures; not a test).

  python tests/benchmarks/bench_story_tagging.py [--quick] [--json]
      The coders' agreement (Krippendorff's alpha per domain, sentence micro
      F1, story-level agreement), then the tagger as a fresh `evidence
      build` sets it up (pipelines/tagging.yml, trained on the shipped
      development split) on the HELD-OUT stories: sentence macro and micro
      F1; story-level precision, recall and F1; the share of right tags
      whose best sentence shows the domain; the coders' agreement on the
      same stories beside each figure.

  python tests/benchmarks/bench_story_tagging.py compare [--setfit]
      The methods, each set up on the development split only (five folds by
      story) and then measured once on the held-out split: the old defaults
      (codebook only), the combination retrained, with sentence roles, with
      per-domain thresholds, and (--setfit) the sentence model fine-tuned on
      the development pairs with sentence-transformers' trainer (CPU).

  python tests/benchmarks/bench_story_tagging.py tune
      The settings chosen on the development split (folds by story): the
      method weights, threshold, role weights and per-domain thresholds to
      put in pipelines/tagging.yml. Never looks at the held-out split.

--quick: agreement, and the default trained on 15 development stories
measured on five held-out stories (a smoke run; its figures mean little).
"""
from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from support import story_corpus  # noqa: E402

FOLDS = 5


# ---------------------------------------------------------------------------
# Labels and metrics


def keys_and_crosswalk() -> tuple[list, dict[str, list[str]]]:
    from evidence.content.parsers import parse_framework
    from evidence.enrich.tagger import Label

    labels, crosswalk = [], {}
    for p in sorted((ROOT / "pipelines" / "frameworks").glob("*.yml")):
        fw = parse_framework(str(p), p.read_text(encoding="utf-8"))
        for d in fw.domains:
            labels.append(Label(d.key, d.label, d.description, d.examples))
            if d.maps_to:
                crosswalk[d.key] = list(d.maps_to)
    return labels, crosswalk


def prf(tp: float, fp: float, fn: float) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def sentence_f1(gold: list[set], pred: list[set], keys: list[str]) -> tuple[float, float]:
    """(macro F1 over the domains in gold or predictions, micro F1)."""
    per, TP, FP, FN = [], 0, 0, 0
    for k in keys:
        tp = sum(k in g and k in p for g, p in zip(gold, pred))
        fp = sum(k not in g and k in p for g, p in zip(gold, pred))
        fn = sum(k in g and k not in p for g, p in zip(gold, pred))
        TP, FP, FN = TP + tp, FP + fp, FN + fn
        if tp + fp + fn:
            per.append(prf(tp, fp, fn)[2])
    return (float(np.mean(per)) if per else 0.0), prf(TP, FP, FN)[2]


def story_prf(gold: list[set], pred: list[set]) -> tuple[float, float, float]:
    tp = sum(len(g & p) for g, p in zip(gold, pred))
    return prf(tp, sum(len(p - g) for g, p in zip(gold, pred)), sum(len(g - p) for g, p in zip(gold, pred)))


# ---------------------------------------------------------------------------
# The coders' agreement


def agreement(stories, keys: list[str]) -> dict:
    import krippendorff

    sents = [s for st in stories for s in st.sentences]
    out = {"sentences": len(sents), "stories": len(stories), "alpha": {}, "story_alpha": {}}
    for k in keys:
        data = np.array([[k in s.labels["coder_a"] for s in sents], [k in s.labels["coder_b"] for s in sents]], dtype=float)
        out["alpha"][k] = None if data.sum() == 0 else round(float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")), 3)
        sd = np.array([[k in st.domains("coder_a") for st in stories], [k in st.domains("coder_b") for st in stories]], dtype=float)
        out["story_alpha"][k] = (None if sd.sum() == 0 or sd.min() == 1 else
                                 round(float(krippendorff.alpha(reliability_data=sd, level_of_measurement="nominal")), 3))
    a = [s.labels["coder_a"] for s in sents]
    b = [s.labels["coder_b"] for s in sents]
    out["sentence_macro_f1"], out["sentence_micro_f1"] = (round(x, 3) for x in sentence_f1(a, b, keys))
    p, r, f = story_prf([st.domains("coder_a") for st in stories], [st.domains("coder_b") for st in stories])
    out["story_precision"], out["story_recall"], out["story_f1"] = round(p, 3), round(r, 3), round(f, 3)
    # the coders' 'right sentence': for each domain both coders give a story,
    # the first sentence coder B labels with it is labelled so by coder A too
    hits = total = 0
    for st in stories:
        for k in st.domains("coder_a") & st.domains("coder_b"):
            first = next(s for s in st.sentences if k in s.labels["coder_b"])
            total += 1
            hits += k in first.labels["coder_a"]
    out["right_sentence"] = round(hits / total, 3) if total else None
    alphas = [v for v in out["alpha"].values() if v is not None]
    out["alpha_mean"] = round(float(np.mean(alphas)), 3)
    return out


def print_agreement(ag: dict, keys: list[str], title: str) -> None:
    print(f"{title}: {ag['stories']} stories, {ag['sentences']} sentences")
    print(f"  sentence level: micro F1 {ag['sentence_micro_f1']:.3f}, macro F1 {ag['sentence_macro_f1']:.3f} "
          f"(coder B against coder A); Krippendorff's alpha mean {ag['alpha_mean']:.3f}")
    print(f"  story level: precision {ag['story_precision']:.3f}, recall {ag['story_recall']:.3f}, F1 {ag['story_f1']:.3f}; "
          f"right sentence {ag['right_sentence']:.3f}")
    print("  alpha per domain (sentences | stories):")
    for k in keys:
        a, s = ag["alpha"][k], ag["story_alpha"][k]
        print(f"    {k:48s} {'-' if a is None else f'{a:.3f}':>6s} | {'-' if s is None else f'{s:.3f}':>6s}")


# ---------------------------------------------------------------------------
# Scoring stories as the build does


class Scored:
    """One story's units, their scores by method, and the map from the
    corpus sentences to the units."""

    def __init__(self, story, item, match):
        self.story, self.item, self.match = story, item, match


def analyse(tagger, nlp, stories) -> list[Scored]:
    from evidence.enrich.nlp import make_docs

    docs = make_docs(nlp, [s.text for s in stories], [s.people for s in stories], batch_size=64,
                     roles=[s.roles for s in stories], narrators=[s.narrator for s in stories])
    items = tagger.analyse(docs, batch_size=64)
    return [Scored(s, it, story_corpus.match_units(s, it.units)) for s, it in zip(stories, items)]


def with_settings(scored: list[Scored], settings) -> list[Scored]:
    """The same scores under other role weights (the factor is per unit)."""
    out = []
    for sc in scored:
        f = np.array([1.0 if r == "none" else settings.role_weights.get(r, 1.0) for r in (sc.item.roles or [])], dtype=np.float32)
        out.append(Scored(sc.story, replace(sc.item, factor=f if sc.item.roles else None), sc.match))
    return out


def combined(scored: list[Scored], settings) -> list[np.ndarray]:
    """Each story's units x labels combined scores under `settings`
    (weights and role weights)."""
    from evidence.enrich.tagger import combine

    return [combine(sc.item, settings.weights) if sc.item.units else np.zeros((0, 0)) for sc in with_settings(scored, settings)]


def predict(scored: list[Scored], keys: list[str], settings, crosswalk: dict, cs: list[np.ndarray] | None = None) -> dict:
    """Per story: tags (domain -> [supporting unit indices, best first]) as
    the build chooses them (threshold, cap per framework, crosswalk)."""
    from evidence.enrich.tagger import choose, crosswalk_targets, supporting_units

    floors = settings.support_floors(keys)
    cs = combined(scored, settings) if cs is None else cs
    out = {}
    for sc, c in zip(scored, cs):
        tags = {}
        if sc.item.units:
            best = c.max(axis=0)
            for i in choose(best, keys, settings):
                tags[keys[i]] = supporting_units(c, i, floors[i], settings.support_margin)
            for j, _ in crosswalk_targets(best, list(tags), keys, crosswalk, settings):
                tags[keys[j]] = supporting_units(c, j, floors[j], settings.support_margin)
        out[sc.story.id] = tags
    return out


def measure(scored: list[Scored], keys: list[str], settings, crosswalk: dict, cs: list[np.ndarray] | None = None) -> dict:
    tags = predict(scored, keys, settings, crosswalk, cs)
    gold_s, pred_s, gold_t, pred_t = [], [], [], []
    right = hits = 0
    for sc in scored:
        t = tags[sc.story.id]
        for s, u in zip(sc.story.sentences, sc.match):
            gold_s.append(s.labels["resolved"])
            pred_s.append({k for k, units in t.items() if u is not None and u in units})
        g = sc.story.domains("resolved")
        gold_t.append(g)
        pred_t.append(set(t))
        for k, units in t.items():
            if k in g:
                right += 1
                best = units[0]
                hits += any(u == best and k in s.labels["resolved"] for s, u in zip(sc.story.sentences, sc.match))
    macro, micro = sentence_f1(gold_s, pred_s, keys)
    p, r, f = story_prf(gold_t, pred_t)
    return {"sentence_macro_f1": round(macro, 3), "sentence_micro_f1": round(micro, 3), "story_precision": round(p, 3),
            "story_recall": round(r, 3), "story_f1": round(f, 3), "right_sentence": round(hits / right, 3) if right else 0.0}


# ---------------------------------------------------------------------------
# Set up on the development split: folds by story


def build_tagger(labels, embedder, nlp, settings, train_stories=None):
    """A tagger as the build makes it: trained on `train_stories` (their
    resolved labels), or on the CSVs of settings.training."""
    from evidence.enrich.codebooks import Codebook, read_labelled_stories
    from evidence.enrich.tagger import Tagger

    tagger = Tagger(labels, embedder, nlp, settings)
    if train_stories is not None:
        texts = [s.text for st in train_stories for s in st.sentences]
        labs = [sorted(s.labels["resolved"]) for st in train_stories for s in st.sentences]
        sids = [st.id for st in train_stories for _ in st.sentences]
    else:
        texts, labs, sids = [], [], []
        cb = Codebook(name="evidence", labels=[], aliases={k.lower(): k for k in tagger.keys})
        for rel in settings.training:
            t, l, g = read_labelled_stories(ROOT / rel, cb, "training")
            texts, labs, sids = texts + t, labs + l, sids + [f"{rel}#{x}" if x else "" for x in g]
    if texts:
        tagger.fit(texts, labs, stories=sids)
    return tagger


def out_of_fold(labels, embedder, nlp, settings, dev, folds: int = FOLDS, seed: int = 12) -> list[Scored]:
    """Every development story scored by a tagger trained on the other folds."""
    ids = sorted(s.id for s in dev)
    random.Random(seed).shuffle(ids)
    fold_of = {sid: i % folds for i, sid in enumerate(ids)}
    scored = []
    for f in range(folds):
        print(f"  fold {f + 1}/{folds}", file=sys.stderr, flush=True)
        train = [s for s in dev if fold_of[s.id] != f]
        test = [s for s in dev if fold_of[s.id] == f]
        scored += analyse(build_tagger(labels, embedder, nlp, settings, train), nlp, test)
    return scored


def objective(m: dict) -> float:
    """What the settings are chosen for: sentence micro F1 and story F1."""
    return m["sentence_micro_f1"] + m["story_f1"]


THRESHOLDS = [round(float(t), 3) for t in np.arange(0.15, 0.81, 0.05)]


def tune(scored: list[Scored], keys: list[str], settings, crosswalk: dict, roles: bool, per_domain: bool,
         weights: dict | None = None):
    """Weights and threshold (or the given weights), then role weights, then
    per-domain thresholds, each chosen for the best objective on out-of-fold
    development scores."""
    def best_threshold(s, cs):
        return max(((objective(measure(scored, keys, replace(s, threshold=t), crosswalk, cs)), t) for t in THRESHOLDS))

    def best_of(trials):
        """The trial settings (with their best threshold) of the highest objective; the first on ties."""
        best = None
        for trial in trials:
            obj, t = best_threshold(trial, combined(scored, trial))
            if best is None or obj > best[0] + 1e-9:
                best = (obj, replace(trial, threshold=t))
        return best[1]

    s0 = replace(settings, thresholds={}, role_weights={})
    grid = [weights] if weights else [{"rule": r, "embedding": e, "classifier": c} for r, e, c in
                                      itertools.product((0.0, 0.25), (0.25, 0.5, 1.0), (1.0, 2.0))]
    s = best_of([replace(s0, weights=w) for w in grid])
    if roles:
        s = best_of([replace(s, role_weights={"commentary": c, "attribution": a, "headline": a, "worker": w, "other": o})
                     for c, a, w, o in itertools.product((0.3, 0.5, 0.7), (0.3, 0.6), (0.6, 0.9), (0.8, 1.0))])
    if per_domain:
        cs = combined(scored, s)
        thresholds: dict[str, float] = {}
        for k in keys:  # coordinate ascent over the domains, nearest the global threshold on ties
            cand = [(objective(measure(scored, keys, replace(s, thresholds={**thresholds, k: t}), crosswalk, cs)),
                     -abs(t - s.threshold), t) for t in THRESHOLDS + [0.85, 0.9]]
            thresholds[k] = max(cand)[2]
        s = replace(s, thresholds={k: v for k, v in thresholds.items() if abs(v - s.threshold) > 1e-9})
    return s, measure(scored, keys, s, crosswalk)


# ---------------------------------------------------------------------------
# SetFit-style fine-tuning (sentence-transformers' trainer, CPU)


def finetune(dev, out_dir: Path, pairs: int = 4000, epochs: int = 1, seed: int = 12) -> Path:
    """Fine-tune the bundled sentence model on pairs of development
    sentences (same domain -> 1, no shared domain -> 0), SetFit-style."""
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments, losses

    from evidence.models.weights import BUNDLED_SHA256, bundled_path, checked_weights

    rng = random.Random(seed)
    sents = [(s.text, frozenset(s.labels["resolved"])) for st in dev for s in st.sentences]
    pos = [x for x in sents if x[1]]
    a, b, y = [], [], []
    for _ in range(pairs):
        s1 = rng.choice(pos)
        if rng.random() < 0.5:
            k = rng.choice(sorted(s1[1]))
            s2 = rng.choice([x for x in pos if k in x[1]])
            lab = 1.0
        else:
            s2 = rng.choice([x for x in sents if not (x[1] & s1[1])])
            lab = 0.0
        a.append(s1[0]), b.append(s2[0]), y.append(lab)
    folder = bundled_path()
    checked_weights(folder, BUNDLED_SHA256)
    model = SentenceTransformer(str(folder), device="cpu")
    args = SentenceTransformerTrainingArguments(output_dir=str(out_dir / "run"), num_train_epochs=epochs,
                                                per_device_train_batch_size=32, learning_rate=2e-5, seed=seed,
                                                save_strategy="no", report_to=[], logging_steps=50, use_cpu=True)
    trainer = SentenceTransformerTrainer(model=model, args=args, loss=losses.CosineSimilarityLoss(model),
                                         train_dataset=Dataset.from_dict({"sentence1": a, "sentence2": b, "score": y}))
    trainer.train()
    model.save(str(out_dir / "model"))
    return out_dir / "model"


class DiskMemo:
    """Keeps sentence vectors between runs (~/.cache/evidence-bench, keyed
    by model and text), so comparing settings does not re-encode the corpus."""

    def __init__(self, inner, name: str):
        import hashlib

        self.inner, self.model_id = inner, getattr(inner, "model_id", "?")
        self.path = Path.home() / ".cache" / "evidence-bench" / (hashlib.sha256((self.model_id + name).encode()).hexdigest()[:16] + ".npz")
        self.memo: dict[str, np.ndarray] = {}
        if self.path.exists():
            data = np.load(self.path, allow_pickle=False)
            self.memo = dict(zip([str(t) for t in data["texts"]], data["vectors"]))
        self.dirty = False

    def encode(self, texts, batch_size: int = 64, progress: bool = False):
        todo = list(dict.fromkeys(t for t in texts if t not in self.memo))
        if todo:
            for t, v in zip(todo, self.inner.encode(todo, batch_size=batch_size)):
                self.memo[t] = np.asarray(v, dtype=np.float32)
            self.dirty = True
            self.save()
        return np.stack([self.memo[t] for t in texts]) if len(texts) else np.zeros((0, 384), np.float32)

    def save(self) -> None:
        if self.dirty:
            self.dirty = False
            self.path.parent.mkdir(parents=True, exist_ok=True)
            keys = list(self.memo)
            np.savez(self.path, texts=np.array(keys), vectors=np.stack([self.memo[k] for k in keys]))


class LocalEmbedder:
    def __init__(self, path: Path):
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(path), device="cpu")
        self.model_id = f"finetuned:{path.name}"

    def encode(self, texts, batch_size: int = 64, progress: bool = False):
        return np.asarray(self.model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True), dtype=np.float32)


# ---------------------------------------------------------------------------


def corpus_round(story_id: str) -> str:
    """The round of the corpus a story came in: its id's one-letter prefix
    (c-, d-, e-, f-...), 'seed' for the repository's own stories."""
    head, _, rest = story_id.partition("-")
    return head if len(head) == 1 and rest else "seed"


def report_line(name: str, m: dict, ag: dict | None = None) -> str:
    line = (f"{name:34s} sentence macro {m['sentence_macro_f1']:.3f} micro {m['sentence_micro_f1']:.3f} | story P "
            f"{m['story_precision']:.3f} R {m['story_recall']:.3f} F1 {m['story_f1']:.3f} | right sentence {m['right_sentence']:.3f}")
    return line


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("part", nargs="?", default="heldout", choices=["heldout", "compare", "tune", "setfit"])
    ap.add_argument("--quick", action="store_true", help="agreement, and a smoke run: trained on 15 development stories, five held-out stories")
    ap.add_argument("--setfit", action="store_true", help="compare: include fine-tuning the sentence model (minutes of CPU)")
    ap.add_argument("--weights", help="tune: fix the method weights, as rule,embedding,classifier")
    ap.add_argument("--pairs", type=int, default=2000, help="setfit: sentence pairs to fine-tune on")
    ap.add_argument("--seed", type=int, default=12, help="setfit: seed of the pairs drawn and of training")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from evidence.enrich.evaluate import MemoEmbedder
    from evidence.enrich.nlp import load_nlp
    from evidence.enrich.tagger import Settings, load_settings
    from evidence.models.embedder import get_embedder

    labels, crosswalk = keys_and_crosswalk()
    keys = [lab.key for lab in labels]
    stories = story_corpus.load()
    dev = [s for s in stories if s.split == "dev"]
    held = [s for s in stories if s.split == "held-out"]
    results: dict = {}
    ag_all, ag_held = agreement(stories, keys), agreement(held, keys)
    results["agreement_all"], results["agreement_held_out"] = ag_all, ag_held
    if args.part == "heldout" and not args.json:
        print_agreement(ag_all, keys, "Coders' agreement, whole corpus")
        print_agreement(ag_held, keys, "Coders' agreement, held-out split")
    if args.quick:
        held = held[:5]
    emb = DiskMemo(get_embedder(ROOT), "base")
    nlp = load_nlp(ROOT)
    settings = load_settings(ROOT)
    t0 = time.perf_counter()
    if args.part == "heldout":
        # --quick: a smoke run, trained on 15 development stories only
        tagger = build_tagger(labels, emb, nlp, settings, dev[:15] if args.quick else None)
        scored = analyse(tagger, nlp, held)
        m = measure(scored, keys, tagger.effective_settings, crosswalk)
        results["held_out"] = m
        # each round of the corpus apart (ids start c-, d-, e-, f-...): a later
        # round's shapes are new to a tagger trained mostly on earlier ones
        rounds: dict[str, list] = {}
        for x in scored:
            rounds.setdefault(corpus_round(x.story.id), []).append(x)
        results["held_out_by_round"] = {r: measure(xs, keys, tagger.effective_settings, crosswalk)
                                        for r, xs in sorted(rounds.items())}
        if not args.json:
            ag = agreement(held, keys)
            print(f"\nTagger on the held-out split ({len(held)} stories, {sum(len(s.sentences) for s in held)} sentences), "
                  f"as `evidence build` sets it up; coders beside ({time.perf_counter() - t0:.0f}s):")
            for name, key in (("sentence macro F1", "sentence_macro_f1"), ("sentence micro F1", "sentence_micro_f1"),
                              ("story precision", "story_precision"), ("story recall", "story_recall"),
                              ("story F1", "story_f1"), ("right sentence", "right_sentence")):
                print(f"  {name:20s} tagger {m[key]:.3f}   coders {ag[key]:.3f}")
            if len(rounds) > 1:
                print("\nBy round of the corpus (held-out stories of each):")
                for r, rm in results["held_out_by_round"].items():
                    print(report_line(f"  round {r} ({len(rounds[r])} stories)", rm))
    elif args.part == "tune":
        scored = out_of_fold(labels, emb, nlp, settings, dev)
        fixed = dict(zip(("rule", "embedding", "classifier"), map(float, args.weights.split(",")))) if args.weights else None
        s, m = tune(scored, keys, settings, crosswalk, roles=True, per_domain=True, weights=fixed)
        results["tuned"] = {"weights": s.weights, "threshold": s.threshold, "role_weights": s.role_weights,
                            "thresholds": s.thresholds, "dev_out_of_fold": m}
        # the story-level trade-off on the development folds, by global threshold
        glob = replace(s, thresholds={})
        cs = combined(scored, glob)
        results["curve"] = {t: measure(scored, keys, replace(glob, threshold=t), crosswalk, cs) for t in THRESHOLDS}
        if not args.json:
            print(json.dumps(results["tuned"], indent=2))
            for t, m in results["curve"].items():
                print(report_line(f"dev, threshold {t}", m))
    elif args.part == "setfit":
        import tempfile

        base = replace(settings, thresholds={}, role_weights={})
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            path = finetune(dev, Path(tmp), pairs=args.pairs, seed=args.seed)
            cost = time.perf_counter() - t
            femb = MemoEmbedder(LocalEmbedder(path))
            print(f"fine-tuned on {args.pairs} development pairs in {cost:.0f}s", flush=True)
            sc_dev = out_of_fold(labels, femb, nlp, base, dev)
            s2, m_dev = tune(sc_dev, keys, base, crosswalk, roles=True, per_domain=False)
            ft = build_tagger(labels, femb, nlp, s2, dev)
            m = measure(analyse(ft, nlp, held), keys, s2, crosswalk)
            results["setfit"] = m | {"dev": m_dev, "finetune_seconds": round(cost, 1), "pairs": args.pairs, "seed": args.seed}
            print(report_line("fine-tuned model + roles", m) + f"   (dev {objective(m_dev):.3f}; fine-tuning {cost:.0f}s)")
    else:
        variants = {}
        # 1. the old defaults: codebook only, no roles
        old = Settings()
        variants["old defaults (codebook only)"] = measure(analyse(build_tagger(labels, emb, nlp, old, []), nlp, held), keys, old, crosswalk)
        # 1b. the shipped settings with no training data (a codebook nobody has labelled for)
        bare = build_tagger(labels, emb, nlp, replace(settings, training=[]), [])
        variants["codebook only, shipped settings"] = measure(analyse(bare, nlp, held), keys, bare.effective_settings, crosswalk)
        print(report_line("codebook only, shipped settings", variants["codebook only, shipped settings"]), flush=True)
        base = replace(settings, thresholds={}, role_weights={})
        scored = out_of_fold(labels, emb, nlp, base, dev)
        full = build_tagger(labels, emb, nlp, base, dev)
        held_scored = analyse(full, nlp, held)
        for name, roles, per_domain in (("combination retrained", False, False), ("+ sentence roles", True, False),
                                        ("+ roles + per-domain thresholds", True, True)):
            s, m_dev = tune(scored, keys, base, crosswalk, roles=roles, per_domain=per_domain)
            variants[name] = measure(with_settings(held_scored, s), keys, s, crosswalk) | {"dev": m_dev, "settings": {
                "weights": s.weights, "threshold": s.threshold, "role_weights": s.role_weights, "thresholds": s.thresholds}}
            print(report_line(name, variants[name]) + f"   (dev {objective(m_dev):.3f})", flush=True)
        if args.setfit:
            import tempfile

            with tempfile.TemporaryDirectory() as tmp:
                t = time.perf_counter()
                # folds: fine-tune per fold would cost 5x; the settings of the
                # roles variant are kept and only the encoder changes
                path = finetune(dev, Path(tmp))
                cost = time.perf_counter() - t
                femb = MemoEmbedder(LocalEmbedder(path))  # a new model each run: not kept
                s = replace(base, **variants["+ sentence roles"]["settings"])
                sc_dev = out_of_fold(labels, femb, nlp, base, dev)
                s2, m_dev = tune(sc_dev, keys, base, crosswalk, roles=True, per_domain=False)
                ft = build_tagger(labels, femb, nlp, s2, dev)
                variants["fine-tuned model + roles"] = measure(analyse(ft, nlp, held), keys, s2, crosswalk) | {
                    "dev": m_dev, "finetune_seconds": round(cost, 1)}
                print(report_line("fine-tuned model + roles", variants["fine-tuned model + roles"])
                      + f"   (dev {objective(m_dev):.3f}; fine-tuning {cost:.0f}s)", flush=True)
        results["compare"] = variants
        if not args.json:
            print(f"\nheld-out split ({len(held)} stories), each method set up on the development split only:")
            for name, m in variants.items():
                print(report_line(name, m))
    emb.save()
    if args.json:
        print(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
