"""Benchmark the outcome tagger (prints figures; not a test).

  python tests/benchmarks/bench_tagging.py accuracy [--data DIR] [--json]
      The development benchmark (NHS feedback, 10,334 comments, 44 labels):
      a fixed 80/20 split (seed 42); tagger and TF-IDF + LinearSVC baseline,
      macro and micro F1, for: codebook only, 8 and 32 examples per label,
      and the full training split. The tagger is tuned on a validation slice
      of the training data only.

  python tests/benchmarks/bench_tagging.py throughput [--stories 10000]
      Items/s and words/s tagging a synthetic corpus of stories (spaCy
      nlp.pipe + batched encoding + scoring with both codebooks), with the
      real model (EVIDENCE_EMBEDDER=fake for the plumbing alone).

  python tests/benchmarks/bench_tagging.py --quick
      Both, tiny: throughput on 20 stories, and accuracy (codebook only and
      8 per label) on a 200-comment sample when the data is present.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
DEFAULT_DATA = ROOT.parent / "shared" / "benchmarks" / "nhs-feedback-phase1"


def split(rows: list[dict], seed: int = 42, test_fraction: float = 0.2) -> tuple[list[dict], list[dict]]:
    """The fixed split: shuffle with `seed`, the last 20% is the test set."""
    rows = rows[:]
    random.Random(seed).shuffle(rows)
    n_test = int(round(len(rows) * test_fraction))
    return rows[:-n_test], rows[-n_test:]


def per_label(rows: list[dict], k: int, seed: int = 42) -> list[dict]:
    """At most k rows for each label (first label of a row), chosen with `seed`."""
    rows = rows[:]
    random.Random(seed).shuffle(rows)
    count: dict[str, int] = {}
    out = []
    for r in rows:
        lab = r["labels"].split("|")[0]
        if count.get(lab, 0) < k:
            count[lab] = count.get(lab, 0) + 1
            out.append(r)
    return out


def write_csv(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["text", "labels"], extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return path


def accuracy(data: Path, as_json: bool, sample: int | None = None, quick: bool = False) -> None:
    from evidence.models.embedder import get_embedder
    from evidence.enrich.evaluate import MemoEmbedder, evaluate

    rows = list(csv.DictReader(open(data / "feedback.csv", encoding="utf-8")))
    if sample:
        rows = random.Random(42).sample(rows, min(sample, len(rows)))
    train, test = split(rows)
    emb = MemoEmbedder(get_embedder(ROOT))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        test_csv = write_csv(tmp / "test.csv", test)
        settings = [("codebook only", None), ("8 per label", per_label(train, 8)),
                    ("32 per label", per_label(train, 32)), ("full training split", train)]
        if quick:
            settings = settings[:2]
        for name, train_rows in settings:
            t = time.perf_counter()
            train_csv = write_csv(tmp / "train.csv", train_rows) if train_rows else None
            # the data is single-label (its README): say so when there is no
            # training data to show it; with training data it is inferred
            r = evaluate([data / "codebook.yml"], test_csv, train_csv, root=ROOT, embedder=emb,
                         max_labels=None if train_csv else 1,
                         progress=lambda m: print(f"  {m}", file=sys.stderr))
            r["seconds"] = round(time.perf_counter() - t, 1)
            results[name] = r
            print(f"{name:22s} tagger macro {r['macro_f1']:.3f} micro {r['micro_f1']:.3f} | baseline macro "
                  f"{r['baseline']['macro_f1']:.3f} micro {r['baseline']['micro_f1']:.3f} | "
                  f"train {r['setup']['train_texts']}, weights {r['setup']['weights']}, threshold {r['setup']['threshold']} "
                  f"({r['seconds']}s)", file=sys.stderr if as_json else sys.stdout, flush=True)
    if as_json:
        print(json.dumps({k: {x: v[x] for x in ("macro_f1", "micro_f1", "setup", "seconds")} |
                          {"baseline": {x: v["baseline"][x] for x in ("macro_f1", "micro_f1")}}
                          for k, v in results.items()}, indent=2))


# ---------------------------------------------------------------------------
# Throughput on synthetic stories

PEOPLE = ["Rita", "Sam", "Amir", "Joan", "Kofi", "Mei", "Tom", "Bernadette", "Lewis", "Priya"]
PLACES = ["Somerset", "Leeds", "Manchester", "Birmingham", "a small village", "the town"]
SENTENCES = [
    "{p} had lived alone in {pl} since her husband died, and rarely left the house.",
    "The coordinator visited {p} every week and helped {p} plan what to do with the day.",
    "Now {p} goes to the community café on Tuesdays and has made new friends there.",
    "{p} started volunteering at the charity shop and says it gives a reason to get up.",
    "A carer helps {p} to wash and dress each morning, at a time {p} chooses.",
    "{p} feels safe at home now that a neighbour checks in every evening.",
    "They cook a hot meal together and eat it at the kitchen table.",
    "The house is warm and tidy, and {p} is proud to invite people round.",
    "Staff treat {p} with respect and always ask before they do anything.",
    "{p} manages a personal budget and decided to employ a Personal Assistant.",
    "Over 12 months the service supported 27 people in {pl}, nearly 50 of them older neighbours.",
    "{p} joined a gig buddies scheme and goes to concerts with a volunteer.",
    "The family say {p} is more confident and back in touch with old friends.",
    "Costs fell by 9.3% compared with the previous care package.",
]


def synthetic_stories(n: int, seed: int = 7) -> list[tuple[str, list[str]]]:
    """n synthetic story bodies of 8-16 sentences (text, people)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        p, pl = rng.choice(PEOPLE), rng.choice(PLACES)
        k = rng.randint(8, 16)
        out.append((" ".join(rng.choice(SENTENCES).format(p=p, pl=pl) for _ in range(k)), [p]))
    return out


def throughput(n: int, train_limit: int | None = None) -> None:
    from evidence.models.embedder import get_embedder
    from evidence.enrich.nlp import entity_rows, load_nlp, make_docs
    from evidence.content.parsers import parse_framework
    from evidence.enrich.tagger import Label, Tagger, decide_matrix, item_matrix, load_settings

    stories = synthetic_stories(n)
    words = sum(len(t.split()) for t, _ in stories)
    nlp = load_nlp(ROOT)
    emb = get_embedder(ROOT)
    labels = []
    for p in sorted((ROOT / "pipelines" / "frameworks").glob("*.yml")):
        fw = parse_framework(str(p), p.read_text(encoding="utf-8"))
        labels += [Label(d.key, d.label, d.description, d.examples) for d in fw.domains]
    settings = load_settings(ROOT)
    t0 = time.perf_counter()
    tagger = Tagger(labels, emb, nlp, settings)
    # trained as `evidence build` trains it: on the CSVs pipelines/tagging.yml lists
    from evidence.enrich.codebooks import Codebook, read_labelled_stories
    from evidence.enrich.tagging import training_files

    cb = Codebook(name="evidence", labels=[], aliases={k.lower(): k for k in tagger.keys})
    texts, labs, sids = [], [], []
    for p in training_files(ROOT, settings):
        t, lab, g = read_labelled_stories(p, cb, "training")
        texts, labs, sids = texts + t, labs + lab, sids + [f"{p}#{x}" if x else "" for x in g]
    if train_limit is not None:  # --quick: a smaller training set, so the smoke run stays short
        texts, labs, sids = texts[:train_limit], labs[:train_limit], sids[:train_limit]
    if texts:
        tagger.fit(texts, labs, stories=sids)  # each sentence with its neighbours, as the build's classifier
    emb.encode(["warm up"])
    t1 = time.perf_counter()
    n_tags = n_ents = 0
    batch = 500
    for i in range(0, n, batch):
        chunk = stories[i:i + batch]
        docs = make_docs(nlp, [t for t, _ in chunk], [p for _, p in chunk], batch_size=128)
        n_ents += sum(len(entity_rows(d)) for d in docs)
        items = tagger.analyse(docs, batch_size=128)
        S, _ = item_matrix(items, settings.weights, len(labels))
        n_tags += int(decide_matrix(S, settings.threshold).sum())
        done = min(i + batch, n)
        el = time.perf_counter() - t1
        print(f"\r{done}/{n} stories, {done / el:.1f} items/s", end="", file=sys.stderr, flush=True)
    el = time.perf_counter() - t1
    print(file=sys.stderr)
    context = "with" if tagger.classifier is not None and tagger.classifier.dense_dim > emb.dim else "without"
    print(f"model {emb.model_id}; classifier trained on {len(texts)} sentences ({context} their neighbours) "
          f"for {int(tagger.trained.sum())} domains; "
          f"{n} stories, {words} words, {n_ents} entities, {n_tags} tags (before caps)")
    print(f"setup (model load, codebook anchors) {t1 - t0:.1f}s; tagging {el:.1f}s: "
          f"{n / el:.1f} items/s, {words / el:.0f} words/s on {os.cpu_count()} cores")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="throughput on 20 stories and accuracy on a 200-comment sample: a few seconds")
    sub = ap.add_subparsers(dest="part")
    a = sub.add_parser("accuracy")
    a.add_argument("--data", type=Path, default=DEFAULT_DATA)
    a.add_argument("--json", action="store_true")
    t = sub.add_parser("throughput")
    t.add_argument("--stories", type=int, default=10000)
    args = ap.parse_args()
    if args.quick:
        throughput(20, train_limit=120)
        if (DEFAULT_DATA / "feedback.csv").exists():
            accuracy(DEFAULT_DATA, False, sample=200, quick=True)
        else:
            print(f"accuracy: skipped, no {DEFAULT_DATA / 'feedback.csv'}")
    elif args.part == "accuracy":
        accuracy(args.data, args.json)
    elif args.part == "throughput":
        throughput(args.stories)
    else:
        ap.error("give a part (accuracy or throughput) or --quick")


if __name__ == "__main__":
    main()
