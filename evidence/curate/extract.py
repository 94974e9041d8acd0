"""Extract candidate stories and findings from documents for a curator.

`extract(root, files)` reads each document (see extract_input), runs the
spaCy pipeline (sentences, the EntityRuler's approaches, organisations and
places, numbers with units), proposes

- stories: a person's experience, i.e. a run of paragraphs about a named
  person (a first name used as a subject at least twice) or an unnamed one
  ('an older woman', with her/his pronouns), with the approach, what changed,
  the passage and its quotes;
- findings: a sentence with a number and a unit (not a year) or with two
  signs of a result ('found', 'more likely', 'compared with', ...): value,
  unit, sample size, comparator and the sentence,

then merges duplicates within the run (exact: normalised hash; near: the
embedding cosine at the measured threshold) and marks those that duplicate
a story or finding already in the content files. Returns data; writes
nothing (see write_review)."""
from __future__ import annotations

import datetime as _dt
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from evidence.curate.extract_input import DEFAULT_MAX_MB, paragraphs, read_document
from evidence.content.records import content_hash, normalise_text

# Measured by tests/benchmarks/bench_extract.py (all-MiniLM-L6-v2): the cosine
# at which a reworded or truncated copy counts as the same passage/sentence.
NEAR_THRESHOLD = {"story": 0.668, "finding": 0.766}

_NOT_NAMES = {
    "The", "This", "That", "These", "Those", "There", "Their", "They", "Then", "When", "What", "Where", "Which",
    "Who", "Why", "How", "Here", "Some", "Many", "Most", "Much", "More", "Other", "Others", "People", "Local",
    "And", "But", "For", "From", "With", "Without", "Also", "Our", "Its", "His", "Her", "She", "Him", "Yet",
    "Findings", "Research", "Report", "Evidence", "Every", "Each", "All", "Both", "After", "Before", "Since",
    "While", "Through", "Over", "Under", "Among", "Among", "Alongside", "Thanks", "Added", "Talk", "Another",
    "Having", "Being", "Feeling", "Just", "Only", "Even", "Such", "Not", "Now", "Today", "Yesterday", "Monday",
    "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "January", "February", "March", "April",
    "May", "June", "July", "August", "September", "October", "November", "December", "Chief", "Executive",
    "Minister", "Dept", "Department", "Health", "Care", "Social", "Council", "University", "Government", "Support",
    "Community", "Communities", "Network", "Summit", "England", "Britain", "Somerset", "Manchester", "London",
    "Wigan", "Read", "See", "Find", "Join", "Share", "Click", "Sign", "Posted", "Tags", "Comments", "Like", "Mrs",
    "Mr", "Ms", "Dr", "Professor", "President", "Ambassador", "Ambassadors", "Carers", "Partnership", "Catalysts",
    "Catalyst", "However", "Instead", "Finally", "Meanwhile", "Indeed", "Yes", "Sadly", "Recently", "Currently",
    "Moreover", "Chair", "Act", "Future", "Personal", "Chancellor", "First", "Second", "Third", "Last", "Next", "Please", "Thank", "Well", "So", "Yet", "Still", "Again",
}
_SUBJECT_NEXT = re.compile(r"^(said|says|told|tells|lived|lives|moved|moves|has|had|was|is|now|became|becomes|"
                           r"runs|ran|started|wanted|wants|felt|feels|needs|needed|who|and|talked|describes|"
                           r"described|opened|went|got|uses|used|can|could|would|will|spent|enjoys|[a-z]+ed)$")
_PRONOUNS = re.compile(r"\b(she|her|hers|herself|he|him|his|himself)\b", re.I)
_PERSON_NOUN = re.compile(r"\b(woman|man|lady|gentleman|patient|mother|father|son|daughter|girl|boy|widow|"
                          r"grandmother|grandfather|neighbour)\b", re.I)
_CHANGE = re.compile(r"\b(now|moved|became|become|no longer|started|began|helped|gave|changed|able to|"
                     r"meant|reduce[ds]?|improved|less|more like|back to|since)\b", re.I)
_QUOTE = re.compile(r"“([^”]{3,})”|\"([^\"]{3,})\"")
_RESULT_CUES = re.compile(
    r"\b(found|findings? show|show(s|ed)?|survey(ed)?|associated with|more likely|less likely|compared (with|to)|"
    r"improv\w+|increase[ds]?|reduction|reduc\w+|savings?|outcomes?|value for money|better|worse|average|"
    r"research|report|evidence|benefit\w*|impact\w*|shown|reduced|lost|led to|achieved|no longer|outweigh\w*|"
    r"offered|more flexible)\b", re.I)
# a comparison ('more flexible than larger providers') counts as two signs
_COMPARISON = re.compile(r"\b(more|less|fewer|better|worse|greater|lower|higher|larger|smaller)\b[^.;]{0,60}\bthan\b", re.I)
_SAMPLE_UNITS = re.compile(r"^(people|participants|respondents|organisations|providers|authorities|interviews|"
                           r"users|carers|families|households|householders|residents|adults|patients|clients|children|members|"
                           r"enterprises|local authorities|care organisations|older people|young people)$",
                           re.I)
_COMPARATOR = re.compile(r"\b(?:compared (?:with|to)|than|versus|vs\.?)\s+([^,;.()]{3,80})", re.I)


@dataclass
class Candidate:
    """One proposed story or finding, with every place it occurs."""

    kind: str  # "story" or "finding"
    text: str  # the passage or the sentence
    fields: dict
    occurrences: list[dict] = field(default_factory=list)
    duplicate_of: dict | None = None
    merged: list[dict] = field(default_factory=list)  # candidates merged into this one


@dataclass
class ExtractResult:
    """Candidates after merging, with counts for the report."""

    stories: list[Candidate]
    findings: list[Candidate]
    files: list[str]
    words: int
    seconds: float
    merged: int  # duplicate candidates merged into another
    raw_counts: dict
    embedder: str


def _names(doc, paragraph: str) -> list[str]:
    """First names used as a subject in a paragraph's doc."""
    ent_tokens = {t.i for e in doc.ents if e.label_ in ("ORG", "APPROACH", "PLACE") for t in e}
    out: list[str] = []
    for tok in doc:
        t = tok.text
        if (len(t) < 3 or not t.isalpha() or not t.istitle() or t in _NOT_NAMES or tok.i in ent_tokens):
            continue
        prev = doc[tok.i - 1] if tok.i > 0 else None
        nxt = doc[tok.i + 1] if tok.i + 1 < len(doc) else None
        if t.endswith("ing") or t.endswith("ly"):
            continue
        if prev is not None and prev.text.istitle() and prev.text.isalpha() and prev.text not in _NOT_NAMES:
            continue  # inside a multi-word proper name ('Margaret Willcox', 'Think Local')
        if nxt is not None and nxt.text.istitle() and nxt.text.isalpha():
            continue
        if nxt is None:
            continue
        if _SUBJECT_NEXT.match(nxt.text) or nxt.text in ("’", "'s", "’s", "'") or nxt.text == ",":
            if t not in out:
                out.append(t)
    return out


def _story_paragraph(names: list[str], text: str, counts: dict[str, int]) -> bool:
    if any(counts.get(n, 0) >= 2 for n in names) or (names and len(_PRONOUNS.findall(text)) >= 2):
        return True
    return not names and len(_PRONOUNS.findall(text)) >= 3 and bool(_PERSON_NOUN.search(text))


def _story_candidates(doc_paras: list[tuple[str, object]], file: str, source_title: str) -> list[Candidate]:
    counts: dict[str, int] = {}
    para_names = []
    whole = "\n".join(t for t, _ in doc_paras)
    for text, doc in doc_paras:
        names = _names(doc, text)
        para_names.append(names)
        for n in set(names) - set(counts):
            counts[n] = len(re.findall(rf"\b{n}\b", whole))
    out: list[Candidate] = []
    i = 0
    while i < len(doc_paras):
        text, doc = doc_paras[i]
        if not _story_paragraph(para_names[i], text, counts):
            i += 1
            continue
        group = [i]
        names = list(para_names[i])
        j = i + 1
        while j < len(doc_paras):  # continuation: same name, or a paragraph led by a pronoun / 'The coordinator'
            nt = doc_paras[j][0]
            same = any(re.search(rf"\b{n}\b", nt) for n in names)
            led = re.match(r"^(She|He|Her|His|They|The coordinator)\b", nt) and not names
            if not (same or led):
                break
            group.append(j)
            names += [n for n in para_names[j] if n not in names]
            j += 1
        passage = "\n\n".join(doc_paras[k][0] for k in group)
        ents = [e for k in group for e in doc_paras[k][1].ents]
        people = [n for n in names if counts.get(n, 0) >= 1] or []
        approaches = _unique(e.ent_id_ or e.text for e in ents if e.label_ == "APPROACH")
        sents = [s.text.strip() for k in group for s in doc_paras[k][1].sents]
        out.append(Candidate("story", passage, {
            "people": people,
            "approach": approaches[0] if approaches else "",
            "approaches_mentioned": approaches,
            "organisations": _unique(e.text for e in ents if e.label_ == "ORG"),
            "places": _unique(e.text for e in ents if e.label_ == "PLACE"),
            "what_changed": [s for s in sents if _CHANGE.search(s)][:4],
            "quotes": _unique(a or b for a, b in _QUOTE.findall(passage)),
            "source_title": source_title,
        }, [{"file": file, "paragraph": group[0] + 1}]))
        i = j
    return out


def _unique(items) -> list[str]:
    out: list[str] = []
    for x in items:
        if x and x not in out:
            out.append(x)
    return out


def _finding_candidates(doc_paras: list[tuple[str, object]], file: str, story_paras: set[int]) -> list[Candidate]:
    out: list[Candidate] = []
    for pi, (_, doc) in enumerate(doc_paras):
        for sent in doc.sents:
            text = sent.text.strip()
            if len(text) < 25 or not text[0].isupper() and not text[0] in "“\"(0123456789-+£$€":
                continue
            qs = [e for e in sent.ents if e.label_ == "QUANTITY" and e._.quantity and (e._.quantity[1] or e._.quantity[2])]
            cues = {m.group(0).lower() for m in _RESULT_CUES.finditer(text)}
            signs = len(cues) + 2 * bool(_COMPARISON.search(text)) + sum(
                1 for e in sent.ents if (e.label_ == "QUANTITY" and e not in qs) or
                (e.label_ == "DATE" and e.start > 0 and doc[e.start - 1].lower_ == "since"))
            if not (qs or signs >= 2):
                continue
            q = qs[0]._.quantity if qs else None
            sample = next((int(e._.quantity[0]) for e in qs if _SAMPLE_UNITS.match(e._.quantity[1] or "")
                           and float(e._.quantity[0]).is_integer()), None)
            comp = _COMPARATOR.search(text)
            out.append(Candidate("finding", text, {
                "statement": text,
                "value": q[0] if q else None,
                "unit": q[1] if q else "",
                "qualifier": q[2] if q else "",
                "numbers": [{"text": e.text, "value": e._.quantity[0], "unit": e._.quantity[1]} for e in qs],
                "measure": q[1] if q else "",
                "sample_size": sample,
                "comparator": comp.group(1).strip() if comp else "",
                "source_sentence": text,
            }, [{"file": file, "paragraph": pi + 1}]))
    return out


def existing_items(root: Path) -> dict[str, list[tuple[str, str]]]:
    """(id, text) of the evidence base's stories (each body paragraph and the
    whole body) and findings (statement and source sentence), from the files."""
    from evidence.content.yamldoc import split_front_matter

    stories: list[tuple[str, str]] = []
    for p in sorted((Path(root) / "stories").glob("*.md")):
        try:
            _, body, _ = split_front_matter(p.name, p.read_text(encoding="utf-8"))
        except Exception:  # an unreadable file is build's to report
            continue
        paras = [x.strip() for x in re.split(r"\n\s*\n", body) if len(x.strip()) > 80 and not x.strip().startswith("*Source")]
        stories += [(p.stem, body)] + [(p.stem, x) for x in paras]
    findings: list[tuple[str, str]] = []
    for p in sorted((Path(root) / "findings").glob("*.yml")):
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except Exception:
            continue
        for f in data.get("findings") or []:
            if isinstance(f, dict) and f.get("id"):
                for key in ("statement", "source_sentence"):
                    if f.get(key):
                        findings.append((str(f["id"]), str(f[key])))
    return {"story": stories, "finding": findings}


def _dedupe(cands: list[Candidate], existing: list[tuple[str, str]], embedder, threshold: float) -> int:
    """Merge duplicates in place (returns how many were merged) and mark the
    survivors that duplicate an existing item."""
    import numpy as np

    if not cands:
        return 0
    vecs = embedder.encode([c.text for c in cands]) if embedder else None
    hashes = [content_hash(normalise_text(c.text)) for c in cands]
    keep: list[int] = []
    merged = 0
    for i, c in enumerate(cands):
        best, best_sim, how = None, 0.0, ""
        for k in keep:
            if hashes[k] == hashes[i]:
                best, best_sim, how = k, 1.0, "exact"
                break
            if vecs is not None:
                sim = float(vecs[i] @ vecs[k])
                if sim >= threshold and sim > best_sim:
                    best, best_sim, how = k, sim, "near"
        if best is None:
            keep.append(i)
            continue
        merged += 1
        cands[best].occurrences += [dict(o) for o in c.occurrences]
        cands[best].merged.append({"how": how, "similarity": round(best_sim, 3), "occurrence": dict(c.occurrences[0])})
    survivors = [cands[k] for k in keep]
    if existing:
        ex_hash = {content_hash(normalise_text(t)): i for i, t in existing}
        ex_vecs = embedder.encode([t for _, t in existing]) if embedder else None
        for k, c in zip(keep, survivors):
            if hashes[k] in ex_hash:
                c.duplicate_of = {"id": ex_hash[hashes[k]], "how": "exact", "similarity": 1.0}
            elif ex_vecs is not None:
                sims = ex_vecs @ vecs[k]
                j = int(np.argmax(sims))
                if float(sims[j]) >= threshold:
                    c.duplicate_of = {"id": existing[j][0], "how": "near", "similarity": round(float(sims[j]), 3)}
    cands[:] = survivors
    return merged


def extract(root: Path, files: list[Path], embedder=None, max_mb: float = DEFAULT_MAX_MB,
            thresholds: dict | None = None, progress=None) -> ExtractResult:
    """Candidates from `files`, merged and checked against the evidence base."""
    from evidence.enrich.nlp import load_nlp

    thresholds = thresholds or NEAR_THRESHOLD
    texts = [(Path(f), read_document(Path(f), max_mb)) for f in files]  # all checked before any work
    t0 = time.perf_counter()
    nlp = load_nlp(root)
    stories: list[Candidate] = []
    findings: list[Candidate] = []
    words = 0
    for n, (path, text) in enumerate(texts):
        paras = paragraphs(text)
        words += len(text.split())
        docs = list(nlp.pipe(paras, batch_size=64))
        pairs = list(zip(paras, docs))
        title = paras[0] if paras else ""
        found = _story_candidates(pairs, path.name, title)
        stories += found
        story_paras = {o["paragraph"] - 1 + k for c in found for o in c.occurrences
                       for k in range(c.text.count("\n\n") + 1)}
        findings += _finding_candidates(pairs, path.name, story_paras)
        if progress:
            progress("extract", n + 1, len(texts))
    raw = {"stories": len(stories), "findings": len(findings)}
    existing = existing_items(root)
    merged = _dedupe(stories, existing["story"], embedder, thresholds["story"])
    merged += _dedupe(findings, existing["finding"], embedder, thresholds["finding"])
    return ExtractResult(stories, findings, [str(p) for p, _ in texts], words, time.perf_counter() - t0,
                         merged, raw, getattr(embedder, "model_id", "none"))


STORY_CURATOR_FIELDS = {"id": "", "title": "", "summary": "", "approach": "", "organisation": "", "place": "",
                        "source_author": "", "source_organisation": "", "source_url": "",
                        "consent": "", "consent_scope": "", "identity": "named", "pseudonym": "",
                        "consent_wording": "", "recorded_by": ""}
FINDING_CURATOR_FIELDS = {"study": "", "id": "", "direction": "", "population": "", "design": "", "year": None,
                          "place": "", "approach": "",
                          # only for a study that is not in findings/ yet
                          "study_title": "", "study_organisation": "", "study_authors": "", "study_year": None,
                          "study_url": "", "study_kind": ""}


def review_data(result: ExtractResult) -> dict:
    """The candidates file's content: every candidate with keep: false, its
    duplicate_of, occurrences, and the fields the curator fills before add."""
    def story(i: int, c: Candidate) -> dict:
        d = {"candidate": f"story-{i}", "keep": False, "duplicate_of": c.duplicate_of,
             "occurrences": c.occurrences, "merged": c.merged or None, **c.fields, "passage": c.text}
        cur = dict(STORY_CURATOR_FIELDS, approach=c.fields.get("approach", ""),
                   organisation=(c.fields.get("organisations") or [""])[0],
                   place=(c.fields.get("places") or [""])[0],
                   people=[{"name": str(p), "role": ""} for p in c.fields.get("people") or []])
        d["add"] = cur
        return d

    def finding(i: int, c: Candidate) -> dict:
        return {"candidate": f"finding-{i}", "keep": False, "duplicate_of": c.duplicate_of,
                "occurrences": c.occurrences, "merged": c.merged or None, **c.fields,
                "add": dict(FINDING_CURATOR_FIELDS)}

    return {
        "extracted": _dt.date.today().isoformat(),
        "files": result.files,
        "embedder": result.embedder,
        "thresholds": NEAR_THRESHOLD,
        "instructions": "Set keep: true on the candidates to add, fill their 'add' fields (stories need "
                        "title, approach, the consent fields and each person's role; findings need a study "
                        "id, and study_title for a new study), then run 'evidence add --from-review THIS_FILE'. "
                        "Nothing is added unless every kept candidate can be; each one added is marked "
                        "'added: <id>', so running the file again adds nothing twice.",
        "stories": [story(i + 1, c) for i, c in enumerate(result.stories)],
        "findings": [finding(i + 1, c) for i, c in enumerate(result.findings)],
    }


def write_review(result: ExtractResult, out: Path) -> Path:
    """Write the candidates file (YAML) atomically; returns its path."""
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(yaml.safe_dump(review_data(result), sort_keys=False, allow_unicode=True, width=100), encoding="utf-8")
    tmp.replace(out)
    return out
