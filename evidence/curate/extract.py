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

from evidence.curate.extract_figures import figure_fields, is_heading, sample_sizes
from evidence.curate.extract_input import DEFAULT_MAX_MB, paragraphs, read_document, titled
from evidence.curate.extract_people import TITLES, find_people, segment, story_people
from evidence.enrich.gazetteer import places
from evidence.enrich.nlp_components import quotations
from evidence.content.records import content_hash, normalise_text
from evidence.content.tree import write_atomic
from evidence.content.yamldoc import plain_yaml

# Measured by tests/benchmarks/bench_extract.py (all-MiniLM-L6-v2): the cosine
# at which a reworded or truncated copy counts as the same passage/sentence.
NEAR_THRESHOLD = {"story": 0.668, "finding": 0.766}

_CHANGE = re.compile(r"\b(now|moved|became|become|no longer|started|began|helped|gave|changed|able to|"
                     r"meant|reduce[ds]?|improved|less|more like|back to|since)\b", re.I)
# 'Dennis, 91, from Kings Heath': where a person is from, as local news writes it (a
# neighbourhood no gazetteer lists)
_AGE_FROM = re.compile(r"\b\d{1,3},? (?:from|of) ((?:[A-Z][a-z]+)(?:[ -](?:[A-Z][a-z]+|upon|on|under)){0,3})\b")
_RESULT_CUES = re.compile(
    r"\b(found|findings? show|show(s|ed)?|survey(ed)?|associated with|more likely|less likely|compared (with|to)|"
    r"improv\w+|increase[ds]?|reduction|reduc\w+|savings?|outcomes?|value for money|better|worse|average|"
    r"research|report|evidence|benefit\w*|impact\w*|shown|reduced|lost|led to|achieved|no longer|outweigh\w*|"
    r"offered|more flexible)\b", re.I)
# a comparison ('more flexible than larger providers') counts as two signs
_COMPARISON = re.compile(r"\b(more|less|fewer|better|worse|greater|lower|higher|larger|smaller)\b[^.;]{0,60}\bthan\b", re.I)
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


def _approach_counts(ents, org_approaches: dict) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in ents:
        a = e.ent_id_ if e.label_ == "APPROACH" else org_approaches.get((e.start_char, e.end_char)) if e.label_ == "ORG" else None
        if a:
            counts[a] = counts.get(a, 0) + 1
    return counts


def _approach_organisations(doc, approach_ids: set[str]) -> None:
    """An organisation named as its approach is ('a Creative Minds group' is
    ORG, the approach's own organisation) counts as that approach."""
    for e in doc.ents:
        if e.label_ == "ORG" and e.ent_id_ in approach_ids:
            doc.user_data.setdefault("org_approaches", {}).setdefault((e.start_char, e.end_char), e.ent_id_)


def _ranked(counts: dict[str, int]) -> list[str]:
    return sorted(counts, key=lambda k: -counts[k])


def _doc_entities(pairs) -> tuple[dict, dict]:
    """Approach and place mention counts of a whole document."""
    approaches: dict[str, int] = {}
    places: dict[str, int] = {}
    for _, doc in pairs:
        for a, c in _approach_counts(doc.ents, doc.user_data.get("org_approaches", {})).items():
            approaches[a] = approaches.get(a, 0) + c
        for e in doc.ents:
            if e.label_ == "PLACE":
                places[e.text] = places.get(e.text, 0) + 1
    return approaches, places


def _story_candidates(pairs, file: str, title: str, place_names) -> list[Candidate]:
    people, per_para = find_people(pairs, place_names)
    # a story that names no approach takes the document's when it names one only: a news piece
    # names the scheme at the top and tells the person's story below without naming it again
    doc_approaches = _ranked(_doc_entities(pairs)[0])
    only_approach = doc_approaches[0] if len(doc_approaches) == 1 else ""
    out: list[Candidate] = []
    for group in segment(pairs, people, per_para):
        passage = "\n\n".join(pairs[k][0] for k in group)
        ents = [e for k in group for e in pairs[k][1].ents]
        orgs = {}
        for k in group:
            orgs.update(pairs[k][1].user_data.get("org_approaches", {}))
        approaches = _ranked(_approach_counts(ents, orgs))
        named = story_people(group, people, per_para, passage)
        sents = [s.text.strip() for k in group for s in pairs[k][1].sents]
        # a place that is a person's name here ('Running to Stanley's', 'her son Martin') is the person
        name_words = {w for p in named for w in p["name"].split()}
        out.append(Candidate("story", passage, {
            "person": named[0]["name"] if named else "",
            "people": [p["name"] for p in named],
            "roles": named,
            "approach": approaches[0] if approaches else only_approach,
            "approaches_mentioned": approaches,
            "organisations": _unique(e.text for e in ents if e.label_ == "ORG"),
            "places": [x for x in _unique([e.text for e in ents if e.label_ == "PLACE"]
                                          + [m.group(1) for m in _AGE_FROM.finditer(passage)
                                             if not any(m.group(1) in e.text for e in ents if e.label_ in ("ORG", "PERSON"))])
                       if x not in name_words],
            "what_changed": [s for s in sents if _CHANGE.search(s)][:4],
            # a quote broken off by its attribution ('"She makes me laugh," he said') ends at its words
            "quotes": _unique(q.strip().rstrip(",;:").strip() for q in quotations(passage) if len(q.strip()) >= 3),
            "source_title": title,
        }, [{"file": file, "paragraph": group[0] + 1, "paragraphs": len(group)}]))
    return out


def _unique(items) -> list[str]:
    out: list[str] = []
    for x in items:
        if x and x not in out:
            out.append(x)
    return out


def _finding_candidates(pairs, file: str, title: str) -> list[Candidate]:
    out: list[Candidate] = []
    doc_approaches, doc_places = _doc_entities(pairs)
    # the document's place (and approach) for a figure that names none: only
    # one the document is about (in its heading, or named more than once),
    # not one a paragraph mentions in passing ('her daughter lives in Leeds',
    # 'schemes such as Homeshare'); a long "title" is the first paragraph of
    # a document without a heading
    heading = title.lower() if len(title) <= 100 else ""
    in_heading = {e.ent_id_ for _, doc in pairs for e in doc.ents
                  if e.label_ in ("APPROACH", "ORG") and e.ent_id_ and e.text.lower() in heading}
    main_approach = next((a for a in _ranked(doc_approaches) if doc_approaches[a] >= 2 or a in in_heading), "")
    main_place = next((p for p in _ranked(doc_places) if doc_places[p] >= 2 or p.lower() in heading), "")
    section_approach = ""
    for pi, (ptext, doc) in enumerate(pairs):
        para_approaches = _ranked(_approach_counts(doc.ents, doc.user_data.get("org_approaches", {})))
        if is_heading(ptext) and not any(ch.isdigit() for ch in ptext):
            section_approach = para_approaches[0] if para_approaches else ""
            continue
        samples = sample_sizes(ptext)
        para_sample = samples[0] if samples else None
        para_places = [e.text for e in doc.ents if e.label_ == "PLACE"]
        for sent in doc.sents:
            text = sent.text.strip()
            if len(text) < 12 or not (text[0].isupper() or text[0] in "“\"(0123456789-+£$€"):
                continue
            fig = figure_fields(sent, para_sample)
            cues = {m.group(0).lower() for m in _RESULT_CUES.finditer(text)}
            signs = len(cues) + 2 * bool(_COMPARISON.search(text))
            if fig is None and (signs < 2 or len(text) < 25):
                continue
            if fig is not None and text.endswith(":") and all(x["kind"] == "count" for x in fig["numbers"]):
                continue  # a lead-in counts what follows ('Here are five key messages from the report:')
            fig = fig or {"value": None, "value_max": None, "unit": "", "period": "", "kind": "", "qualifier": "",
                          "numbers": [], "dates": [], "sample_size": sample_sizes(text)[0] if sample_sizes(text) else None}
            sent_approaches = _ranked(_approach_counts(sent.ents, doc.user_data.get("org_approaches", {})))
            sent_places = [e.text for e in sent.ents if e.label_ == "PLACE"]
            comp = _COMPARATOR.search(text)
            out.append(Candidate("finding", text, {
                "statement": text, **fig, "measure": fig["unit"],
                "comparator": comp.group(1).strip() if comp else "",
                "approach": (sent_approaches or para_approaches or [section_approach or main_approach])[0],
                "place": (sent_places or para_places or [main_place])[0],
                "study": title,
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
            data = plain_yaml(p.read_text(encoding="utf-8")) or {}
        except Exception:
            continue
        for f in data.get("findings") or []:
            if isinstance(f, dict) and f.get("id"):
                for key in ("statement", "source_sentence"):
                    if f.get(key):
                        findings.append((str(f["id"]), str(f[key])))
    return {"story": stories, "finding": findings}


def _numbers(c: Candidate) -> list:
    return sorted(float(x["value"]) for x in c.fields.get("numbers") or []) if c.kind == "finding" else []


def _same_people(people: list[str] | None, other_text: str) -> bool:
    """A story told again names its person again (or names nobody both times):
    the person it is about, not only someone else in it (two carers' pieces
    that both mention a volunteer called Doreen are two stories)."""
    if not people:
        return True
    return any(re.search(rf"(?<!\w){re.escape(w)}(?!\w)", other_text)
               for w in people[0].split() if w[:1].isupper() and len(w) > 2 and w.rstrip(".") not in TITLES)


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
            if _numbers(c) != _numbers(cands[k]):
                continue  # two figures whose numbers differ are never one finding
            if c.kind == "story" and (c.occurrences[0]["file"] == cands[k].occurrences[0]["file"]
                                      or not _same_people(c.fields.get("people"), cands[k].text)
                                      or not _same_people(cands[k].fields.get("people"), c.text)):
                continue  # two stories of one document, or about different people, are two stories
            if vecs is not None:
                sim = float(vecs[i] @ vecs[k])
                if sim >= threshold and sim > best_sim:
                    best, best_sim, how = k, sim, "near"
        if best is None:
            keep.append(i)
            continue
        merged += 1
        cands[best].occurrences += [dict(o) for o in c.occurrences]
        cands[best].merged.append({"how": how, "similarity": round(best_sim, 3), "occurrence": dict(c.occurrences[0]),
                                   "values": _numbers(c)})
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
                if float(sims[j]) >= threshold and (c.kind != "story" or _same_people(c.fields.get("people"), existing[j][1])):
                    c.duplicate_of = {"id": existing[j][0], "how": "near", "similarity": round(float(sims[j]), 3)}
    cands[:] = survivors
    return merged


def extract(root: Path, files: list[Path], embedder=None, max_mb: float = DEFAULT_MAX_MB,
            thresholds: dict | None = None, progress=None) -> ExtractResult:
    """Candidates from `files`, merged and checked against the evidence base."""
    from evidence.enrich.nlp import load_nlp

    thresholds = thresholds or NEAR_THRESHOLD
    texts = [(Path(f), titled(read_document(Path(f), max_mb), Path(f))) for f in files]  # all checked before any work
    t0 = time.perf_counter()
    nlp = load_nlp(root)
    stories: list[Candidate] = []
    findings: list[Candidate] = []
    words = 0
    place_names = places(str(Path(root) / "pipelines" / "places.txt"))
    approach_ids = {x["id"] for x in nlp.get_pipe("entity_ruler").patterns if x.get("label") == "APPROACH" and x.get("id")} \
        if "entity_ruler" in nlp.pipe_names else set()
    for n, (path, (title, text)) in enumerate(texts):
        paras = paragraphs(text)
        words += len(text.split())
        docs = list(nlp.pipe(paras, batch_size=64))
        for doc in docs:
            _approach_organisations(doc, approach_ids)
        pairs = list(zip(paras, docs))
        stories += _story_candidates(pairs, path.name, title, place_names)
        findings += _finding_candidates(pairs, path.name, title)
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


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


def review_data(result: ExtractResult) -> dict:
    """The candidates file's content: every candidate with keep: false, its
    duplicate_of, occurrences, and the fields the curator fills before add."""
    def story(i: int, c: Candidate) -> dict:
        d = {"candidate": f"story-{i}", "keep": False, "duplicate_of": c.duplicate_of,
             "occurrences": c.occurrences, "merged": c.merged or None, **c.fields, "passage": c.text}
        cur = dict(STORY_CURATOR_FIELDS, approach=c.fields.get("approach", ""),
                   organisation=(c.fields.get("organisations") or [""])[0],
                   place=(c.fields.get("places") or [""])[0],
                   people=[{"name": str(p["name"]), "role": str(p["role"])} for p in c.fields.get("roles") or []]
                   or [{"name": str(p), "role": ""} for p in c.fields.get("people") or []])  # guessed roles: correct them
        d["add"] = cur
        return d

    def finding(i: int, c: Candidate) -> dict:
        return {"candidate": f"finding-{i}", "keep": False, "duplicate_of": c.duplicate_of,
                "occurrences": c.occurrences, "merged": c.merged or None, **c.fields,
                "add": dict(FINDING_CURATOR_FIELDS, study=_slug(c.fields.get("study") or ""),
                            approach=c.fields.get("approach") or "", place=c.fields.get("place") or "")}

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


def check_output(root: Path, out: Path) -> None:
    """Refuse a candidates file path whose writing would lose something: a
    folder; a path in the content folders (the next build would read it, or
    it would replace a story, a study or a codebook); an existing file that
    is not a candidates file; or a candidates file with a curator's
    decisions in it (keep: true, or an 'added:' mark)."""
    from evidence.content.tree import KINDS
    from evidence.errors import EvidenceError

    out, root = Path(out), Path(root)
    if out.is_dir():
        raise EvidenceError(f"{out} is a folder; give the candidates file's name with -o, e.g. -o {out / 'review.yml'}")
    target = out.resolve()
    for _kind, folder, _pattern in KINDS:
        content = (root / folder).resolve()
        if target.parent == content or content in target.parents:
            raise EvidenceError(f"{out} is in the evidence base's {folder}/ folder, where the build reads content "
                                "files; write the candidates file elsewhere, e.g. -o review.yml")
    if not out.exists():
        return
    try:
        data = plain_yaml(out.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        data = None
    if not (isinstance(data, dict) and "instructions" in data and ("stories" in data or "findings" in data)):
        raise EvidenceError(f"{out} exists and is not a candidates file written by 'evidence extract'; "
                            "give another file with -o (nothing was overwritten)")
    decided = [c.get("candidate") or "?" for sec in ("stories", "findings") for c in (data.get(sec) or [])
               if isinstance(c, dict) and (c.get("keep") is True or c.get("added"))]
    if decided:
        raise EvidenceError(f"{out} holds your decisions ({len(decided)} candidate(s) kept or added, e.g. "
                            f"{decided[0]}); give another file with -o, or move it away first (nothing was overwritten)")


def write_review(result: ExtractResult, out: Path, root: Path | None = None) -> Path:
    """Write the candidates file (YAML) atomically, after check_output when
    `root` is given; returns its path."""
    out = Path(out)
    if root is not None:
        check_output(root, out)
    write_atomic(out, yaml.safe_dump(review_data(result), sort_keys=False, allow_unicode=True, width=100))
    return out
