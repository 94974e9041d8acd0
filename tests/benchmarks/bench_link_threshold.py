"""The meaning threshold of story-finding links to another approach
(`similar_threshold` in pipelines/linking.yml).

    python tests/benchmarks/bench_link_threshold.py [--db evidence.db] [--quick]

A finding about another approach is linked to a story only when both carry
the same outcome domain AND a passage of the story is close in meaning to
the finding. How close? As close as a finding about the story's OWN
approach usually is: over every (story, finding) pair that shares an
outcome domain, the label is "the finding is about the story's approach"
and the score is the best cosine between the story's passages and the
finding's; the threshold is the one with the best F1 for that label on
half the stories (even positions by id), and its precision and recall are
printed for the other half too. Pairs from another approach at or above it
read as near to the story as its own approach's evidence does.

Without --db it builds the repository's content plus tests/corpus/stories
with the real model (all-MiniLM-L6-v2) in a temporary folder and reads its
working database. --quick: the repository's content only.
"""
from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def pairs(db: Path) -> list[tuple[str, str, bool, float]]:
    """(story, finding, same approach, best cosine) for pairs sharing a domain."""
    import numpy as np

    from evidence.enrich.embeddings import from_blob

    conn = sqlite3.connect(db)
    model = conn.execute("SELECT value FROM meta WHERE key = 'embedding_model'").fetchone()[0]
    vec: dict[tuple[str, str], list] = {}
    for t, i, b in conn.execute("SELECT item_type, item_id, vector FROM embeddings WHERE model = ?", [model]):
        v = from_blob(b)
        vec.setdefault((t, i), []).append(v / (np.linalg.norm(v) or 1))
    mats = {k: np.stack(v) for k, v in vec.items()}
    story_app = dict(conn.execute("SELECT id, approach FROM stories"))
    finding_app = dict(conn.execute("SELECT id, approach FROM findings"))
    shared = conn.execute("""
SELECT DISTINCT s.story_id, f.finding_id FROM tags s JOIN tags f ON f.domain = s.domain
 WHERE s.item_type = 'story' AND f.item_type = 'finding' AND s.status != 'rejected' AND f.status != 'rejected'""").fetchall()
    out = []
    for sid, fid in shared:
        a, b = mats.get(("story", sid)), mats.get(("finding", fid))
        if a is None or b is None or not story_app.get(sid):
            continue
        out.append((sid, fid, finding_app.get(fid) == story_app[sid], float((a @ b.T).max())))
    conn.close()
    return out


def prf(items: list[tuple[bool, float]], t: float) -> tuple[float, float, float, int]:
    tp = sum(1 for y, s in items if y and s >= t)
    fp = sum(1 for y, s in items if not y and s >= t)
    fn = sum(1 for y, s in items if y and s < t)
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0), fp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="a working database (evidence.db) built with the real model")
    parser.add_argument("--quick", action="store_true", help="the repository's content only")
    args = parser.parse_args()
    from evidence.enrich.links import load_settings

    tmp = None
    db = args.db
    if db is None:
        from conftest import copy_base
        from evidence.build import BuildOptions, build
        from evidence.models.embedder import get_embedder

        tmp = Path(tempfile.mkdtemp(prefix="links-"))
        base = copy_base(tmp / "base")
        if not args.quick:
            for p in (ROOT / "tests" / "corpus" / "stories").glob("*.md"):
                shutil.copy(p, base / "stories" / p.name)
        start = time.perf_counter()
        build(base, options=BuildOptions(embedder=get_embedder(name="all-MiniLM-L6-v2")))
        print(f"built {base} with the real model in {time.perf_counter() - start:.1f}s", file=sys.stderr)
        db = base / "evidence.db"
    rows = pairs(db)
    stories = sorted({r[0] for r in rows})
    tune_ids = set(stories[0::2])
    tune = [(y, s) for sid, _, y, s in rows if sid in tune_ids]
    report = [(y, s) for sid, _, y, s in rows if sid not in tune_ids]
    in_use = load_settings(ROOT).similar_threshold
    print(f"pairs sharing an outcome domain: {len(rows)} ({sum(1 for r in rows if r[2])} about the story's own approach), "
          f"{len(stories)} stories")
    if not tune or not any(y for y, _ in tune):
        print("no same-approach pairs to measure on (too little content)")
    else:
        # every tune-half score is a candidate, taken exactly (a score rounded up would leave its own pair out),
        # then floored to 3 decimals so the setting written keeps that pair in
        cands = sorted({s for _, s in tune})
        best = max(cands, key=lambda t: (prf(tune, t)[2], t))
        best = int(best * 1000) / 1000
        print(f"threshold with the best F1 on the tune half: {best:.3f} (in use: {in_use})")
        for label, items in (("tune half", tune), ("report half", report)):
            for name, t in (("tuned", best), ("in use", in_use)):
                p, r, f1, fp = prf(items, t)
                print(f"  {label:11s} {name:6s} {t:.3f}: precision {p:.3f} recall {r:.3f} F1 {f1:.3f}; "
                      f"other-approach pairs at or above: {fp} of {sum(1 for y, _ in items if not y)}")
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
