"""NLP: the spaCy pipeline that splits items into sentences and extracts
entities (people, approaches, organisations, places, numbers with units).

The pipeline is defined by `pipelines/nlp.cfg` (spacy.blank("en") plus rule
components); its EntityRuler reads `pipelines/patterns.jsonl`, and patterns
for every approach are generated from approaches/*.yml when it is loaded, so
a new approach file is recognised without editing the patterns. The custom
components are registered factories in evidence/enrich/nlp_components.py.
If a trained pipeline (en_core_web_sm) is installed its named entities are
added; nothing is ever downloaded. spaCy is imported by this module, so only
the stages that need it import it.
"""
from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Iterable

from evidence.models.torchfree import spacy_cli_deferred, torch_hidden

# thinc would import torch (seconds) for wrappers the pipeline never uses, and
# spaCy its command line (half a second) for spacy.info
with torch_hidden(), spacy_cli_deferred():
    import spacy
import srsly
from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import load_config, load_model_from_config, registry

from evidence.errors import EvidenceError
from evidence.content.settings import nlp_version, pipeline_files, read_approaches
from evidence.enrich import nlp_components  # noqa: F401  (registers the factories nlp.cfg names)

@registry.readers("evidence.read_patterns.v1")
def read_patterns(path: str | None) -> list[dict]:
    """EntityRuler patterns from a jsonl file (a list, as spaCy requires)."""
    return list(srsly.read_jsonl(path)) if path else []


# ---------------------------------------------------------------------------
# Loading, once per process per configuration

_lock = threading.Lock()
_cache: dict[str, Language] = {}


def approach_patterns(approaches: Iterable[dict], tokenizer=None) -> list[dict]:
    """EntityRuler patterns for approaches ({id, name, organisation, aliases}):
    the name and each alias as APPROACH, in any case, in the singular and the
    plural ('Local Area Coordinators', 'Gig Buddy'); an abbreviation alias
    ('LAC') case-sensitively, with its plural ('LACs'); the organisation as ORG.
    `tokenizer` is the pipeline's own (building a second English tokenizer
    costs a second on a busy machine); default a blank English one."""
    out: list[dict] = []
    for a in approaches:
        for phrase in approach_forms(a):
            words = [t.text for t in tokenizer(phrase)] if tokenizer is not None else _words(phrase)
            if phrase.isupper() and len(words) == 1:
                pattern = [{"ORTH": phrase}]
            else:
                pattern = [{"LOWER": t.lower()} for t in words]
            out.append({"label": "APPROACH", "pattern": pattern, "id": a["id"]})
        org = (a.get("organisation") or "").strip()
        if org:
            out.append({"label": "ORG", "pattern": org, "id": re.sub(r"[^a-z0-9]+", "-", org.lower()).strip("-")})
    return out


def approach_forms(approach: dict) -> list[str]:
    """The ways a document writes an approach: its name and aliases, each in
    the singular and plural of its last word; an abbreviation with an 's'."""
    out: list[str] = []
    for phrase in [approach.get("name") or ""] + list(approach.get("aliases") or []):
        phrase = phrase.strip()
        if not phrase:
            continue
        head, _, last = phrase.rpartition(" ")
        pre = head + " " if head else ""
        forms = [phrase]
        if phrase.isupper():
            forms.append(phrase + "s")
        elif last[-1:].isalpha():
            low = last.lower()
            if low.endswith("ies"):
                forms.append(pre + last[:-3] + "y")
            elif low.endswith("s") and not low.endswith("ss"):
                forms.append(pre + last[:-1])
            elif low.endswith("y") and low[-2:-1] not in "aeiou":
                forms.append(pre + last[:-1] + "ies")
            else:
                forms.append(pre + last + "s")
        out += [f for f in forms if f not in out]
    return out


def _words(text: str) -> list[str]:
    return [t.text for t in _blank().tokenizer(text)]


_blank_nlp: Language | None = None


def _blank() -> Language:
    global _blank_nlp
    if _blank_nlp is None:
        _blank_nlp = spacy.blank("en")
    return _blank_nlp


def load_nlp(root: Path = Path("."), approaches: list[dict] | None = None) -> Language:
    """The configured pipeline (cached per process and configuration)."""
    root = Path(root)
    approaches = read_approaches(root) if approaches is None else approaches
    key = nlp_version(root, approaches)
    with _lock:
        if key not in _cache:
            files = pipeline_files(root)
            try:
                config = load_config(files.config, overrides={
                    "paths.patterns": str(files.patterns) if files.patterns.exists() else None,
                    "paths.places": str(files.patterns.with_name("places.txt"))})
                nlp = load_model_from_config(config, auto_fill=True)
                nlp.initialize()
            except Exception as exc:  # config errors from confection/spaCy are long; keep the first line
                first = str(exc).strip().splitlines()
                raise EvidenceError(f"{files.config}: cannot build the spaCy pipeline ({first[0] if first else exc}); check the config and patterns.jsonl") from None
            if "entity_ruler" in nlp.pipe_names:
                nlp.get_pipe("entity_ruler").add_patterns(approach_patterns(approaches, nlp.tokenizer))
            _cache[key] = nlp
        # spaCy refuses texts over nlp.max_length (E088); the story size limit decides instead
        from evidence.content.settings import read_limits

        nlp = _cache[key]
        nlp.max_length = max(nlp.max_length, read_limits(root).max_story_bytes + 1)
        return nlp


def minimal_nlp() -> Language:
    """spacy.blank("en") with the sentencizer and stem norms only: for
    evaluating a codebook outside an evidence base (no pipelines/nlp.cfg)."""
    with _lock:
        if "minimal" not in _cache:
            nlp = spacy.blank("en")
            nlp.add_pipe("sentencizer")
            nlp.add_pipe("evidence_stem_norm", name="stem_norm")
            _cache["minimal"] = nlp
        return _cache["minimal"]


# ---------------------------------------------------------------------------
# Running it


def make_docs(nlp: Language, texts: list[str], people: list[list[str]] | None = None, batch_size: int = 64,
              roles: list[list[str]] | None = None, narrators: list[str] | None = None) -> list[Doc]:
    """Run the pipeline over texts (batched with nlp.pipe); `people` gives,
    per text, the names to mark as PERSON, `roles` their roles (in the same
    order) and `narrators` who tells it (a story's source author), for the
    sentence roles."""
    docs = []
    for i, t in enumerate(texts):
        d = nlp.make_doc(t)
        if people is not None:
            d.user_data["people"] = people[i]
        if roles is not None:
            d.user_data["roles"] = roles[i]
        if narrators is not None:
            d.user_data["narrator"] = narrators[i] or ""
        docs.append(d)
    return list(nlp.pipe(docs, batch_size=batch_size))


def entity_rows(doc: Doc) -> list[dict]:
    """One dict per entity: label, text, norm (an id or the lower-cased
    text), value and unit for numbers, start and end (character offsets)."""
    rows = []
    for e in doc.ents:
        q = e._.quantity
        rows.append({
            "label": e.label_, "text": e.text,
            "norm": e.ent_id_ or e.kb_id_ or e.text.lower(),
            "value": q[0] if q else None, "unit": q[1] if q else None,
            "qualifier": q[2] if q and q[2] else None,
            "start": e.start_char, "end": e.end_char,
        })
    return rows


def sentence_units(doc: Doc) -> list[tuple[int, int, str]]:
    """(start, end, text) of each non-empty sentence, offsets into doc.text;
    a list item's bullet or number is left out (a tag then quotes and marks
    "She walks with the group", not "- She walks with the group")."""
    out = []
    for s in doc.sents:
        text = s.text.strip()
        if not any(c.isalnum() for c in text):
            continue
        lead = len(s.text) - len(s.text.lstrip())
        cut = nlp_components.item_mark_end(text)  # a bullet is no part of what the item says
        lead, text = lead + cut, text[cut:]
        out.append((s.start_char + lead, s.start_char + lead + len(text), text))
    return out
