"""The labelled story corpus (tests/corpus): stories, their sentences with
both coders' and the resolved labels, and the development / held-out split.
Used by tests/benchmarks/bench_story_tagging.py and the tagging tests.

A sentence of the corpus (tests/corpus/sentences.csv, cut paragraph by
paragraph) is matched to the tagger's units of the same story by its text,
so the tagger's scores line up with the coders' labels.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from evidence.enrich.nlp_components import item_mark_end

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "corpus"
LABEL_SETS = ("resolved", "coder_a", "coder_b")


@dataclass
class Sentence:
    sid: str
    text: str
    labels: dict[str, set[str]]  # label set name -> domain keys


@dataclass
class CorpusStory:
    id: str
    approach: str
    split: str  # dev | held-out
    text: str  # the public narrative, as the build tags it
    people: list[str]
    roles: list[str]
    narrator: str
    sentences: list[Sentence] = field(default_factory=list)

    def domains(self, which: str = "resolved") -> set[str]:
        return set().union(*(s.labels[which] for s in self.sentences)) if self.sentences else set()


def _labels(name: str) -> dict[str, set[str]]:
    with open(CORPUS / "labels" / f"{name}.csv", encoding="utf-8") as fh:
        return {r["sid"]: {x for x in r["labels"].split("|") if x} for r in csv.DictReader(fh)}


def load(split: str | None = None) -> list[CorpusStory]:
    """Every labelled story (or those of one split), in file order."""
    from evidence.content.parsers import parse_story
    from evidence.content.privacy import public_people, public_texts

    with open(CORPUS / "split.csv", encoding="utf-8") as fh:
        which = {r["story"]: r["split"] for r in csv.DictReader(fh)}
    labels = {name: _labels(name) for name in LABEL_SETS}
    paths = sorted((ROOT / "stories").glob("*.md")) + sorted((CORPUS / "stories").glob("*.md"))
    stories: dict[str, CorpusStory] = {}
    for path in paths:
        st = parse_story(str(path.relative_to(ROOT)), path.read_text(encoding="utf-8"))
        pp = [p for p in public_people(st) if p["name"]]
        stories[st.id] = CorpusStory(st.id, st.approach, which[st.id], public_texts(st)["public_body"],
                                     [p["name"] for p in pp], [p["role"] or "" for p in pp], st.source.author or "")
    with open(CORPUS / "sentences.csv", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            stories[r["story"]].sentences.append(
                Sentence(r["sid"], r["text"], {name: labels[name][r["sid"]] for name in LABEL_SETS}))
    return [s for s in stories.values() if split is None or s.split == split]


def norm(text: str) -> str:
    return " ".join(text.split())


def match_units(story: CorpusStory, units: list[tuple[int, int, str]]) -> list[int | None]:
    """For each corpus sentence, the index of the tagger unit with the same
    text (None when the tagger did not score it, e.g. a source line)."""
    out, u = [], 0
    texts = [norm(t) for _, _, t in units]
    for s in story.sentences:
        want = norm(s.text)
        want = want[item_mark_end(want):]  # units leave a list item's bullet out
        found = None
        for j in list(range(u, len(texts))) + list(range(0, u)):
            if texts[j] == want or (want and want in texts[j]):
                found = j
                break
        out.append(found)
        if found is not None:
            u = found
    return out
