"""Scoring `evidence extract` on the seed documents against the corpus
(stories/*.md and findings/*.yml made from the seeds) and the curator's
judgements in tests/extract_expected.yml. Shared by the tests and the benchmark."""
from __future__ import annotations

from pathlib import Path

import yaml

from evidence.content.records import normalise_text
from evidence.content.yamldoc import split_front_matter

EXPECTED = Path(__file__).resolve().parent / "extract_expected.yml"


def corpus(root: Path) -> tuple[list[dict], list[dict]]:
    """Stories (id, seed, people) and findings (id, seed, source_sentence) made from the seeds."""
    stories, findings = [], []
    for p in sorted((root / "stories").glob("*.md")):
        front, _, _ = split_front_matter(p.name, p.read_text(encoding="utf-8"))
        meta = yaml.safe_load(front) if isinstance(front, str) else front
        seed = (meta.get("source") or {}).get("seed")
        if seed:
            stories.append({"id": p.stem, "seed": seed, "people": [x["name"] for x in meta.get("people") or []]})
    for p in sorted((root / "findings").glob("*.yml")):
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        seed = (data.get("source") or {}).get("seed")
        for f in data.get("findings") or []:
            if seed and f.get("source_sentence"):
                findings.append({"id": f["id"], "seed": seed, "sentence": f["source_sentence"]})
    return stories, findings


def same_sentence(a: str, b: str) -> bool:
    """Containment either way after normalising, or 60% shared words."""
    na, nb = normalise_text(a), normalise_text(b)
    if not na or not nb:
        return False
    if na in nb or nb in na:
        return True
    wa, wb = set(na.split()), set(nb.split())
    return len(wa & wb) / len(wa | wb) >= 0.6


def story_matches(story: dict, cand) -> bool:
    files = {o["file"] for o in cand.occurrences}
    if story["seed"] not in files:
        return False
    people = cand.fields.get("people") or []
    if not people:
        return not any(n.strip() for n in story["people"])  # an unnamed person's story
    return people[0] in story["people"] and all(n in cand.text for n in story["people"])


def key(cand) -> dict:
    """How a candidate is named in the expected file: kind, first file, text start."""
    return {"kind": cand.kind, "file": cand.occurrences[0]["file"], "starts": cand.text[:60]}


def score(result, root: Path, expected_path: Path = EXPECTED) -> dict:
    """Recall of the corpus, precision by the judgements, merges."""
    stories, findings = corpus(Path(root))
    proposals = {s["id"]: sum(story_matches(s, c) for c in result.stories) for s in stories}
    found = [f for f in findings if any(f["seed"] in {o["file"] for o in c.occurrences} and same_sentence(f["sentence"], c.text)
                                        for c in result.findings)]
    expected = yaml.safe_load(expected_path.read_text(encoding="utf-8")) if expected_path.exists() else []
    judged = {(e["kind"], e["file"], e["starts"]): e["keep"] for e in expected or []}
    cands = result.stories + result.findings
    verdicts = [judged.get((k["kind"], k["file"], k["starts"])) for k in map(key, cands)]
    return {
        "stories_in_corpus": len(stories),
        "stories_proposed": sum(1 for n in proposals.values() if n >= 1),
        "stories_proposed_once": sum(1 for n in proposals.values() if n == 1),
        "story_proposals": proposals,
        "findings_in_corpus": len(findings),
        "findings_proposed": len(found),
        "findings_missed": [f["id"] for f in findings if f not in found],
        "candidates": len(cands),
        "unjudged": [key(c) for c, v in zip(cands, verdicts) if v is None],
        "kept": sum(1 for v in verdicts if v),
        "precision": sum(1 for v in verdicts if v) / len(cands) if cands else 0.0,
        "merged": result.merged,
    }
