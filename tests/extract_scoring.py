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


# ---------------------------------------------------------------------------
# The hand-written documents in tests/extract_docs/ and their answer key

DOCS = Path(__file__).resolve().parent / "extract_docs"


def _n(text: str) -> str:
    return " ".join(normalise_text(str(text).replace("’", "'")).split())


def _unit_ok(expected: str, got: str) -> bool:
    """Same unit: '%' is percent; otherwise the last word, singular, equal
    or the end of the other ('micro-enterprises' ~ 'enterprises')."""
    def last(u: str) -> str:
        w = (u or "").lower().replace("%", "percent").split(" ")[-1] if u else ""
        return w[:-1] if w.endswith("s") and not w.endswith("ss") else w
    e, g = last(expected), last(got)
    return bool(e and g) and (e == g or g.endswith(e) or e.endswith(g))


def score_documents(result, expected_path: Path = DOCS / "expected.yml") -> dict:
    """Per-document and overall figures of `evidence extract` on the documents
    it read (the key's other documents are left out)."""
    read = {Path(f).name for f in result.files}
    key = [d for d in yaml.safe_load(expected_path.read_text(encoding="utf-8"))["documents"] if d["file"] in read]
    out = {"documents": 0, "docs_one_per_story": 0, "stories": 0, "stories_once": 0, "person_named": 0,
           "approach_named": 0, "approach_right": 0, "orgs": 0, "orgs_found": 0, "places": 0, "places_found": 0,
           "figures": 0, "figures_right": 0, "people": 0, "people_found": 0, "roles_right": 0, "candidates": 0, "kept": 0, "wrong_merges": 0, "false_people": 0,
           "failures": []}
    for d in key:
        file = d["file"]
        stories = [c for c in result.stories if c.occurrences[0]["file"] == file]
        findings = [c for c in result.findings if c.occurrences[0]["file"] == file]
        out["documents"] += 1
        out["candidates"] += len(stories) + len(findings)
        doc_ok = len(stories) == len(d["stories"])
        kept = set()
        for s in d["stories"]:
            out["stories"] += 1
            starts, ends = _n(s["starts"]), _n(s["ends"])
            about = [i for i, c in enumerate(stories) if starts in _n(c.text) or ends in _n(c.text)]
            cover = [i for i in about if starts in _n(stories[i].text) and ends in _n(stories[i].text)]
            once = len(about) == 1 and len(cover) == 1
            out["stories_once"] += once
            doc_ok = doc_ok and once
            if not once:
                out["failures"].append(f"{file}: story of {s['person']} proposed {len(about)} times, covered by {len(cover)}")
            if about:
                c = stories[about[0]]
                kept.add(id(c))
                names = {s["person"]} | {a for p in s["people"] if p["name"] == s["person"] for a in p.get("aliases") or []}
                named = c.fields.get("person") in names
                out["person_named"] += named
                if not named:
                    out["failures"].append(f"{file}: person {c.fields.get('person')!r}, expected {s['person']!r}")
                if s.get("approach"):
                    out["approach_named"] += 1
                    right = c.fields.get("approach") == s["approach"]
                    out["approach_right"] += right
                    if not right:
                        out["failures"].append(f"{file}: approach {c.fields.get('approach')!r}, expected {s['approach']!r}")
                got_orgs = {_n(o) for o in c.fields.get("organisations") or []}
                got_places = {_n(o) for o in c.fields.get("places") or []}
                out["orgs"] += len(s["organisations"])
                out["orgs_found"] += sum(_n(o) in got_orgs for o in s["organisations"])
                out["places"] += len(s["places"])
                out["places_found"] += sum(_n(o) in got_places for o in s["places"])
                # every person of the story, by name or alias, and the role guessed for them
                roles = {r["name"]: r["role"] for r in c.fields.get("roles") or []}
                for p in s["people"]:
                    out["people"] += 1
                    forms = [p["name"]] + list(p.get("aliases") or [])
                    got = next((f for f in forms if f in roles), None)
                    out["people_found"] += got is not None
                    out["roles_right"] += got is not None and roles[got] == p["role"]
                    if got is None:
                        out["failures"].append(f"{file}: {p['name']} ({p['role']}) not among the people {sorted(roles)}")
                not_people = {_n(x) for x in d.get("not_people") or []}
                out["false_people"] += sum(_n(p) in not_people for p in c.fields.get("people") or [])
        out["docs_one_per_story"] += doc_ok
        for f in d.get("findings") or []:
            out["figures"] += 1
            want = _n(f["text"])
            hits = [c for c in findings if want in _n(c.text) or (_n(c.text) in want and len(_n(c.text)) > 20)]
            right = any(float(x["value"]) == float(f["value"]) and _unit_ok(f["unit"], x["unit"])
                        for c in hits for x in c.fields.get("numbers") or [])
            out["figures_right"] += right
            kept.update(id(c) for c in hits)
            if not right:
                got = [(x["value"], x["unit"]) for c in hits for x in c.fields.get("numbers") or []]
                out["failures"].append(f"{file}: figure {f['value']} {f['unit']} ({f['text'][:40]}...) read as {got or 'nothing'}")
        out["kept"] += len(kept)
    key_files = {d["file"] for d in key}
    for c in result.stories + result.findings:
        for m in c.merged:
            same_file = m["occurrence"]["file"] == c.occurrences[0]["file"]
            # no two documents of the key tell the same story: a story merged across two of them is wrong
            across = m["occurrence"]["file"] in key_files and c.occurrences[0]["file"] in key_files and not same_file
            if (c.kind == "finding" and m.get("values") != sorted(float(x["value"]) for x in c.fields.get("numbers") or [])) \
                    or (c.kind == "story" and ((same_file and m["how"] == "near") or across)):
                out["wrong_merges"] += 1
                out["failures"].append(f"{c.occurrences[0]['file']}: {c.kind} merged with one of {m['occurrence']['file']}")
    return out


def document_files() -> list[Path]:
    return sorted(p for p in DOCS.iterdir() if p.name[:2].isdigit())
