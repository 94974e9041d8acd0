"""Evaluate: measure the tagger on labelled data, against a TF-IDF + linear
SVM baseline trained on the same split, in the same run.

`evaluate()` returns plain data (per-label precision, recall and F1, macro
and micro F1, and the baseline's); cli.py prints it. With training data the
tagger's combination (method weights and threshold) is tuned on a
validation slice of the training data only, never on the test data.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from evidence.enrich.codebooks import read_codebooks, read_labelled
from evidence.errors import EvidenceError
from evidence.enrich.tagger import Settings, Tagger, decide, decide_matrix, item_matrix, load_settings

WHOLE_TEXT_MAX_WORDS = 60  # shorter texts are scored whole, longer ones sentence by sentence
VALIDATION_FRACTION = 0.2
# below this many training texts the combination is tuned on all of them,
# each scored by a classifier fitted without it (FOLDS folds), not on a 20%
# slice: a slice of 22 texts picked weights that lost 0.06 micro F1 on a
# new codebook's test set (docs/tagging.md); above it, five fits cost minutes
CROSS_VALIDATE_BELOW = 2000
FOLDS = 5
SEED = 42


class MemoEmbedder:
    """Wraps an embedder so a text is encoded once per run (in memory only)."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.model_id = getattr(inner, "model_id", "?")
        self._memo: dict[str, np.ndarray] = {}

    def encode(self, texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        todo = list(dict.fromkeys(t for t in texts if t not in self._memo))
        if todo:
            for t, v in zip(todo, self.inner.encode(todo, batch_size=batch_size)):
                self._memo[t] = np.asarray(v, dtype=np.float32)
        dim = next(iter(self._memo.values())).shape[0] if self._memo else 384
        return np.stack([self._memo[t] for t in texts]) if texts else np.zeros((0, dim), np.float32)


# ---------------------------------------------------------------------------
# Metrics


def indicator(label_lists: Sequence[Sequence[str]], keys: Sequence[str]) -> np.ndarray:
    index = {k: i for i, k in enumerate(keys)}
    Y = np.zeros((len(label_lists), len(keys)), dtype=bool)
    for r, labs in enumerate(label_lists):
        for k in labs:
            Y[r, index[k]] = True
    return Y


def scores(gold: np.ndarray, pred: np.ndarray, keys: Sequence[str]) -> dict:
    """Per-label P/R/F1 and support; macro F1 over the labels that occur in
    the gold labels or the predictions (as scikit-learn does); micro F1."""
    tp = (gold & pred).sum(axis=0).astype(float)
    fp = (~gold & pred).sum(axis=0).astype(float)
    fn = (gold & ~pred).sum(axis=0).astype(float)
    p = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=(tp + fp) > 0)
    r = np.divide(tp, tp + fn, out=np.zeros_like(tp), where=(tp + fn) > 0)
    f = np.divide(2 * p * r, p + r, out=np.zeros_like(tp), where=(p + r) > 0)
    present = gold.any(axis=0) | pred.any(axis=0)
    TP, FP, FN = tp.sum(), fp.sum(), fn.sum()
    micro = 2 * TP / (2 * TP + FP + FN) if TP + FP + FN else 0.0
    return {
        "macro_f1": round(float(f[present].mean()) if present.any() else 0.0, 4),
        "micro_f1": round(float(micro), 4),
        "per_label": {k: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4),
                          "f1": round(float(f[i]), 4), "support": int(gold[:, i].sum())}
                      for i, k in enumerate(keys) if present[i]},
    }


# ---------------------------------------------------------------------------
# The baseline: TF-IDF + linear SVM


def baseline_predict(train_texts: list[str], train_labels: list[list[str]], test_texts: list[str],
                     keys: Sequence[str], min_labels: int, scope: Sequence[set[str]] | None = None) -> np.ndarray:
    """TF-IDF (scikit-learn defaults) + LinearSVC: one multi-class model when
    every training text has exactly one label, else one-vs-rest (a label when
    its decision value is > 0, at least min_labels). `scope[i]`: the labels
    text i was labelled for, as Tagger.fit takes it (a label's model learns
    only from those texts)."""
    full = set(keys)
    if scope is not None and all(set(s) >= full for s in scope):
        scope = None
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    vec = TfidfVectorizer()
    X = vec.fit_transform(train_texts)
    Xt = vec.transform(test_texts)
    pred = np.zeros((len(test_texts), len(keys)), dtype=bool)
    index = {k: i for i, k in enumerate(keys)}
    if scope is None and all(len(labs) == 1 for labs in train_labels):
        classes = sorted({labs[0] for labs in train_labels})
        if len(classes) == 1:
            pred[:, index[classes[0]]] = True
            return pred
        model = LinearSVC(random_state=0).fit(X, [labs[0] for labs in train_labels])
        for r, lab in enumerate(model.predict(Xt)):
            pred[r, index[lab]] = True
        return pred
    Y = indicator(train_labels, keys)
    decision = np.full((len(test_texts), len(keys)), -np.inf)
    for i, key in enumerate(keys):
        rows = np.arange(len(Y)) if scope is None else np.flatnonzero([key in s or Y[r, i] for r, s in enumerate(scope)])
        if 0 < Y[rows, i].sum() < len(rows):
            decision[:, i] = LinearSVC(random_state=0).fit(X[rows], Y[rows, i]).decision_function(Xt)
    for r, chosen in enumerate(decide(decision, 0.0, min_labels=min_labels)):
        pred[r, chosen] = True
    return pred


# ---------------------------------------------------------------------------
# The tagger, tuned on a validation slice of the training data


@dataclass
class Tuning:
    weights: dict[str, float]
    threshold: float
    min_labels: int
    max_labels: int
    validation_size: int = 0
    validation_objective: float | None = None


def split_validation(labels: list[list[str]], fraction: float = VALIDATION_FRACTION, seed: int = SEED) -> tuple[list[int], list[int]]:
    """(fit rows, validation rows): per first label, a `fraction` of its rows
    (at least one when it has two or more) go to validation."""
    rng = random.Random(seed)
    groups: dict[str, list[int]] = {}
    for i, labs in enumerate(labels):
        groups.setdefault(labs[0] if labs else "", []).append(i)
    fit, val = [], []
    for key in sorted(groups):
        rows = groups[key][:]
        rng.shuffle(rows)
        k = int(round(len(rows) * fraction))
        if len(rows) >= 2:
            k = max(k, 1)
        val += rows[:k]
        fit += rows[k:]
    return sorted(fit), sorted(val)


def split_folds(labels: list[list[str]], k: int = FOLDS, seed: int = SEED) -> list[list[int]]:
    """k folds of the rows, each label's rows (by first label) dealt across
    them in a shuffled order, so every fold holds a share of each."""
    rng = random.Random(seed)
    groups: dict[str, list[int]] = {}
    for i, labs in enumerate(labels):
        groups.setdefault(labs[0] if labs else "", []).append(i)
    folds: list[list[int]] = [[] for _ in range(k)]
    n = 0
    for key in sorted(groups):
        rows = groups[key][:]
        rng.shuffle(rows)
        for r in rows:
            folds[n % k].append(r)
            n += 1
    return [sorted(f) for f in folds if f]


def tune(items, gold: np.ndarray, n_labels: int, min_labels: int, max_labels: int, has_classifier: bool) -> Tuning:
    """Grid search over method weights and the threshold for the best
    macro F1 + micro F1 on the validation items."""
    best = None
    for wr in (0.0, 0.25, 0.5, 1.0):
        for we in (0.0, 0.25, 0.5, 1.0, 2.0):
            for wc in ((0.0, 1.0) if has_classifier else (0.0,)):
                w = {"rule": wr, "embedding": we, "classifier": wc}
                if wr + we + wc == 0:
                    continue
                S, _ = item_matrix(items, w, n_labels)
                for t in np.arange(0.05, 1.0, 0.025):
                    m = scores(gold, decide_matrix(S, float(t), min_labels, max_labels), range(n_labels))
                    obj = m["macro_f1"] + m["micro_f1"]
                    if best is None or obj > best[0] + 1e-9:
                        best = (obj, w, float(t))
    obj, w, t = best
    return Tuning(weights=w, threshold=round(t, 3), min_labels=min_labels, max_labels=max_labels,
                  validation_size=len(items), validation_objective=round(obj, 4))


def shipped_training(root: Path | None, settings: Settings, codebook
                     ) -> tuple[list[str], list[list[str]], list[str], list[set[str]]]:
    """(texts, label lists, files, scope) of the training CSVs that ROOT's
    pipelines/tagging.yml lists, as the build trains on them, read against
    this codebook (labels of other domains left out). A file that labels
    none of the codebook's domains is left out whole: its rows were labelled
    for another codebook and say nothing about this one's (not even 'none
    of them'); a row's scope is the domains its file speaks for
    (Codebook.covered). Nothing when none of the codebook's domains has
    min_examples positives there (the shipped data says nothing about it)."""
    from evidence.enrich.tagging import training_files

    if root is None or not settings.training:
        return [], [], [], []
    texts: list[str] = []
    labels: list[list[str]] = []
    scope: list[set[str]] = []
    files: list[str] = []
    for rel, path in zip(settings.training, training_files(root, settings)):  # checked as the build checks them
        t, labs = read_labelled(path, codebook, "training", unknown="drop")
        covered = codebook.covered(labs)
        if not covered:
            continue
        texts, labels, scope = texts + t, labels + labs, scope + [covered] * len(t)
        files.append(rel)
    counts: dict[str, int] = {}
    for labs in labels:
        for k in labs:
            counts[k] = counts.get(k, 0) + 1
    if not any(n >= max(1, settings.min_examples) for n in counts.values()):
        return [], [], [], []
    return texts, labels, files, scope


def evaluate(codebooks: Sequence[Path], test: Path, train: Path | None = None, *, root: Path | None = None,
             embedder: Any = None, min_labels: int | None = None, max_labels: int | None = None,
             progress=None, codebook_only: bool = False) -> dict:
    """Tagger and baseline on TEST. Trained on TRAIN when given (the
    combination tuned on a validation slice of it); else as the build sets
    the tagger up: on the training CSVs ROOT's pipelines/tagging.yml lists
    (when they label domains of this codebook) with its settings as they
    are; else, or with codebook_only, on the codebook alone. Returns
    macro_f1, micro_f1, per_label, baseline, and how the tagger was set up."""
    from evidence.models.embedder import get_embedder
    from evidence.enrich.nlp import load_nlp, minimal_nlp

    def say(msg: str) -> None:
        if progress:
            progress(msg)

    codebook = read_codebooks(codebooks)
    keys = [lab.key for lab in codebook.labels]
    if min_labels is not None and min_labels > len(keys):  # every text would get every label: meaningless scores
        raise EvidenceError(f"--min-labels {min_labels} is more than the {len(keys)} labels of the codebook; "
                            f"give at most {len(keys)}")
    test_texts, test_labels = read_labelled(test, codebook, "test")
    if not any(test_labels):  # every score would be 0 (no gold label to find), printed as a measurement
        raise EvidenceError(f"{test}: the 'labels' column is empty in every row, so there is nothing to measure; "
                            f"give each row the domains it shows, e.g. {keys[0]} (several separated by '|')")
    train_texts, train_labels = read_labelled(train, codebook, "training") if train else ([], [])
    settings = load_settings(root) if root else Settings()
    shipped: list[str] = []
    scope: list[set[str]] | None = None  # the domains each training text was labelled for (None: all)
    if not train and not codebook_only:
        train_texts, train_labels, shipped, scope = shipped_training(root, settings, codebook)
    trained = bool(train or shipped)
    defaulted = min_labels is None
    if min_labels is None:
        min_labels = 0 if trained and any(not labs for labs in train_labels) else 1
    if max_labels is None:
        max_labels = 1 if trained and all(len(labs) == 1 for labs in train_labels) else 0
    emb = MemoEmbedder(embedder or get_embedder(root))
    try:
        nlp = load_nlp(root) if root and (Path(root) / "pipelines" / "nlp.cfg").exists() else minimal_nlp()
    except EvidenceError:
        nlp = minimal_nlp()
    tagger = Tagger(codebook.labels, emb, nlp, settings)
    how = (f"trained on {len(train_texts)}" if train else
           f"trained on the {len(train_texts)} texts of {', '.join(shipped)} as the build is (pipelines/tagging.yml; "
           "--codebook-only for none)" if shipped else "codebook only")
    say(f"tagging {len(test_texts)} test texts with {len(keys)} labels ({how})")

    def docs_of(texts: list[str]):
        return list(nlp.pipe(texts, batch_size=256))

    # with no training data the codebook's own threshold (codebook_threshold), as the build uses it
    untrained = settings.codebook_threshold if settings.codebook_threshold is not None and not trained else None
    tuning = Tuning(weights=dict(settings.weights), threshold=settings.threshold if untrained is None else untrained,
                    min_labels=min_labels, max_labels=max_labels)
    if train:
        folds = split_folds(train_labels) if len(train_texts) < CROSS_VALIDATE_BELOW else []
        if folds:
            say(f"tuning on the {len(train_texts)} training texts, each scored by a classifier fitted without it "
                f"({len(folds)} folds)")
            val_items, val_rows, has_classifier = [], [], False
            for rows in folds:
                held = set(rows)
                fit = [i for i in range(len(train_texts)) if i not in held]
                tagger.fit([train_texts[i] for i in fit], [train_labels[i] for i in fit])
                val_items += tagger.analyse(docs_of([train_texts[i] for i in rows]), WHOLE_TEXT_MAX_WORDS)
                val_rows += rows
                has_classifier |= tagger.classifier is not None
            gold_val = indicator([train_labels[i] for i in val_rows], keys)
            tuning = tune(val_items, gold_val, len(keys), min_labels, max_labels, has_classifier)
        else:
            fit_rows, val_rows = split_validation(train_labels)
            if val_rows and fit_rows:
                say(f"tuning on a validation slice of {len(val_rows)} training texts")
                tagger.fit([train_texts[i] for i in fit_rows], [train_labels[i] for i in fit_rows])
                val_items = tagger.analyse(docs_of([train_texts[i] for i in val_rows]), WHOLE_TEXT_MAX_WORDS)
                gold_val = indicator([train_labels[i] for i in val_rows], keys)
                tuning = tune(val_items, gold_val, len(keys), min_labels, max_labels, tagger.classifier is not None)
    if trained:
        tagger.fit(train_texts, train_labels, scope=scope)
    items = tagger.analyse(docs_of(test_texts), WHOLE_TEXT_MAX_WORDS)
    S, _ = item_matrix(items, tuning.weights, len(keys))
    pred = decide_matrix(S, tuning.threshold, tuning.min_labels, tuning.max_labels)
    gold = indicator(test_labels, keys)
    result = scores(gold, pred, keys)

    say("training the TF-IDF + linear SVM baseline")
    if trained:
        b_texts, b_labels = train_texts, train_labels
    else:  # no training data: the baseline learns from the codebook's own words, as the tagger does
        b_texts = [a for lab in codebook.labels for a in lab.anchors()]
        b_labels = [[lab.key] for lab in codebook.labels for _ in lab.anchors()]
    bpred = baseline_predict(b_texts, b_labels, test_texts, keys, min_labels, scope if trained else None)
    base = scores(gold, bpred, keys)
    result["baseline"] = {"name": "TF-IDF + LinearSVC", "macro_f1": base["macro_f1"], "micro_f1": base["micro_f1"],
                          "per_label": base["per_label"]}
    unlabelled = sum(1 for labs in test_labels if not labs)
    result["notes"] = []
    if defaulted and min_labels >= 1 and unlabelled:
        result["notes"].append(
            f"{unlabelled} of the {len(test_texts)} test texts have no label, but every text was given at least one "
            "(the default when no training text is without a label); pass --min-labels 0 if a text may have none")
    result["setup"] = {
        "codebook": codebook.name, "labels": len(keys), "test_texts": len(test_texts),
        "train_texts": len(train_texts), "training": str(train) if train else (shipped or None), "model": emb.model_id,
        "weights": tuning.weights, "threshold": tuning.threshold, "min_labels": tuning.min_labels,
        "max_labels": tuning.max_labels, "validation_texts": tuning.validation_size,
        "classifier_labels": int(tagger.trained.sum()),
    }
    return result
