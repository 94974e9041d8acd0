"""Measure the near-duplicate thresholds of `evidence extract` and its figures
on the five seed documents, with the real embedding model.

Pairs from the seeds: each seed story passage against its truncated copy
(first half of its sentences) and its reworded copy (the curated story's
body paragraphs) are duplicates; against the other stories' copies and the
seeds' other long paragraphs they are not. Findings likewise: each seed
source sentence against its curated statement (reworded) and its first 60%
of words (truncated) vs other findings. Prints the threshold with the best
F1 and precision/recall of duplicate detection there, then the extract run.

    PYTHONPATH=. python tests/benchmarks/bench_extract.py [--quick]

Then the hand-written documents of tests/extract_docs/ against their
answer key (expected.yml): documents with exactly one candidate per story,
the person named, the approach, organisations and places found, figures with
the right value and unit, candidates a curator would keep, wrong merges, and
the throughput in words per second.

--quick: the fake embedder, the first seed document, and 16 story texts, 8
findings and 8 other paragraphs in the threshold pairs, and the first four
documents: the same figures in seconds, meaningless except that every step
still runs.
"""
from __future__ import annotations

import argparse
import glob
import os
import re
import sys
import time
from pathlib import Path

os.environ.pop("EVIDENCE_EMBEDDER", None)
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
SEEDS = sorted(glob.glob("/work/shared/seeds/*.txt"))
LIMIT = 10**9  # --quick: at most this many findings and other paragraphs in the threshold pairs

from evidence.models.embedder import get_embedder  # noqa: E402
from evidence.curate.extract import existing_items, extract  # noqa: E402
from evidence.curate.extract_input import paragraphs, read_document  # noqa: E402
from extract_scoring import document_files, score, score_documents  # noqa: E402


def best_threshold(pos: list[float], neg: list[float]) -> tuple[float, float, float]:
    """(threshold, precision, recall) maximising F1 over candidate cut-offs; ties -> the midpoint gap."""
    best = (0.0, 0.0, 0.0, -1.0)
    for t in sorted(set(pos)):
        tp = sum(p >= t for p in pos); fp = sum(n >= t for n in neg)
        prec = tp / (tp + fp) if tp + fp else 0.0; rec = tp / len(pos)
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        if f1 > best[3]:
            best = (t, prec, rec, f1)
    below = max([n for n in neg if n < best[0]] or [best[0]])
    t = round((best[0] + below) / 2, 3)
    tp = sum(p >= t for p in pos); fp = sum(n >= t for n in neg)
    return t, tp / (tp + fp) if tp + fp else 0.0, tp / len(pos)


def main() -> None:
    global SEEDS, LIMIT
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="the first two seed documents only: a few seconds")
    args = ap.parse_args()
    if args.quick:
        SEEDS, LIMIT = SEEDS[:1], 8
    if not SEEDS:
        raise SystemExit("no seed documents in /work/shared/seeds")
    if args.quick:
        from evidence.models.embedder import FakeEmbedder

        emb = FakeEmbedder()  # the plumbing only: the real model takes half a minute here
    else:
        emb = get_embedder(ROOT)
    result = extract(ROOT, [Path(s) for s in SEEDS], embedder=None)  # raw candidates, no merging by embedding
    passages = {}
    for c in result.stories:
        if c.fields["people"]:
            passages.setdefault(c.fields["people"][0], c.text)
        else:
            passages.setdefault("(unnamed)", c.text)
    stories = existing_items(ROOT)["story"][:2 * LIMIT]
    by_story: dict[str, list[str]] = {}
    for sid, text in stories:
        by_story.setdefault(sid, []).append(text)
    match = {}
    for name, text in passages.items():
        for sid, texts in by_story.items():
            if name.lower() in sid or (name == "(unnamed)" and "older-woman" in sid):
                if name == "James":
                    sid_ok = ("andy" in sid) == ("Andy" in text)
                    if not sid_ok:
                        continue
                match[name] = sid
    pos, neg = [], []
    others = [p for s in SEEDS for p in paragraphs(read_document(Path(s))) if len(p) > 200 and not any(p[:60] in t for t in passages.values())]
    def cos(a, b):
        v = emb.encode([a, b]); return float(v[0] @ v[1])
    vec_cache = {}
    def enc(texts):
        missing = [t for t in texts if t not in vec_cache]
        if missing:
            for t, v in zip(missing, emb.encode(missing)): vec_cache[t] = v
        return [vec_cache[t] for t in texts]
    for name, text in passages.items():
        sents = re.split(r"(?<=[.!?”])\s+", text)
        trunc = " ".join(sents[: max(1, len(sents) // 2)])
        own = by_story.get(match.get(name, ""), [])
        [pv] = enc([text])
        variants = [trunc] + own
        sims = [float(pv @ v) for v in enc(variants)]
        pos.append(sims[0])
        if own:
            pos.append(max(sims[1:]))  # dedupe takes the best paragraph or body of a story
        for sid, texts in by_story.items():
            if sid != match.get(name):
                neg.append(max(float(pv @ v) for v in enc(texts)))
        neg += [float(pv @ v) for v in enc(others[:min(40, LIMIT)])]
    st, sp, sr = best_threshold(pos, neg)
    print(f"stories: {len(pos)} duplicate pairs, {len(neg)} non-duplicate pairs; positives min {min(pos):.3f}, "
          f"negatives max {max(neg):.3f}; threshold {st} -> precision {sp:.2f} recall {sr:.2f}")
    fpos, fneg = [], []
    items = existing_items(ROOT)["finding"]
    fids: dict[str, dict[str, str]] = {}
    for fid, text in items:
        d = fids.setdefault(fid, {}); d["statement" if "statement" not in d else "source"] = text
    srcs = dict(list({fid: d for fid, d in fids.items() if "source" in d}.items())[:LIMIT])
    seed_sents = [s for p in others for s in re.split(r"(?<=[.!?])\s+", p) if len(s) > 60][:150]
    for fid, d in srcs.items():
        src = d["source"]; words = src.split()
        trunc = " ".join(words[: max(6, int(len(words) * 0.6))])
        [sv, tv, stv] = enc([src, trunc, d["statement"]])
        fpos.append(float(sv @ tv))
        if d["statement"] != src:
            fpos.append(float(sv @ stv))
        for oid, od in srcs.items():
            if od["source"] != src:
                fneg.append(float(sv @ enc([od["statement"]])[0]))
        fneg += [float(sv @ v) for v in enc([s for s in seed_sents if s not in src][:min(30, LIMIT)])]
    ft, fp, fr = best_threshold(fpos, fneg)
    print(f"findings: {len(fpos)} duplicate pairs, {len(fneg)} non-duplicate pairs; positives min {min(fpos):.3f}, "
          f"negatives max {max(fneg):.3f}; threshold {ft} -> precision {fp:.2f} recall {fr:.2f}")
    t0 = time.perf_counter()
    run = extract(ROOT, [Path(s) for s in SEEDS], embedder=emb, thresholds={"story": st, "finding": ft})
    secs = time.perf_counter() - t0
    print(f"extract on {len(SEEDS)} seeds: {run.words} words in {secs:.2f} s = {run.words / secs:.0f} words/s "
          f"(model already loaded); {run.raw_counts} raw candidates, {run.merged} merged, "
          f"{len(run.stories)} stories and {len(run.findings)} findings proposed")
    s = score(run, ROOT)
    print(f"recall: stories {s['stories_proposed']}/{s['stories_in_corpus']} proposed "
          f"({s['stories_proposed_once']} exactly once); findings {s['findings_proposed']}/{s['findings_in_corpus']} "
          f"({s['findings_proposed'] / s['findings_in_corpus']:.0%}); missed: {', '.join(s['findings_missed'])}")
    print(f"precision: {s['kept']}/{s['candidates']} candidates a curator would keep ({s['precision']:.0%}); "
          f"unjudged {len(s['unjudged'])}; {s['merged']} duplicate candidates merged; "
          f"{sum(1 for c in run.stories + run.findings if c.duplicate_of)} marked duplicate_of an existing item "
          f"({sum(1 for c in run.stories if c.duplicate_of)}/{len(run.stories)} stories)")

    docs = document_files()[:4] if args.quick else document_files()
    t0 = time.perf_counter()
    run = extract(ROOT, docs, embedder=emb, thresholds={"story": st, "finding": ft})
    secs = time.perf_counter() - t0
    d = score_documents(run)
    n = d["documents"]

    def pct(a: int, b: int) -> str:
        return f"{a}/{b} ({a / b:.0%})" if b else "0/0"
    print(f"documents: {len(docs)} files, {run.words} words in {secs:.2f} s = {run.words / secs:.0f} words/s "
          f"(model already loaded); {len(run.stories)} story and {len(run.findings)} finding candidates")
    print(f"  one candidate per story: {pct(d['docs_one_per_story'], n)} documents; stories proposed once "
          f"{pct(d['stories_once'], d['stories'])}; person named {pct(d['person_named'], d['stories'])}; "
          f"approach {pct(d['approach_right'], d['approach_named'])}; people of the stories found "
          f"{pct(d['people_found'], d['people'])}, with the right role {pct(d['roles_right'], d['people'])}")
    print(f"  organisations {pct(d['orgs_found'], d['orgs'])}; places {pct(d['places_found'], d['places'])}; "
          f"figures right (value and unit) {pct(d['figures_right'], d['figures'])}; candidates a curator would keep "
          f"{pct(d['kept'], d['candidates'])}; wrong merges {d['wrong_merges']}; not-people proposed as people "
          f"{d['false_people']}")
    for f in d["failures"]:
        print(f"  miss: {f}")


if __name__ == "__main__":
    main()
