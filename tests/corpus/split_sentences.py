"""Split the corpus stories (tests/corpus/stories) and the seed stories
(stories/) into sentences for labelling: tests/corpus/sentences.csv with
sid (story#n), story and text. Sentences are cut by the same spaCy
sentencizer as the tagger's pipeline, so labels line up with tags.

    python tests/corpus/split_sentences.py
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from evidence.content.parsers import parse_story  # noqa: E402


def story_files() -> list[Path]:
    return sorted((ROOT / "stories").glob("*.md")) + sorted((HERE / "stories").glob("*.md"))


def main() -> None:
    import spacy

    import evidence.enrich.nlp_components  # noqa: F401  (registers the tagger's sentence-boundary component)

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("evidence_paragraph_breaks")  # as the tagger: an opening quote starts its sentence
    rows = []
    for path in story_files():
        story = parse_story(str(path.relative_to(ROOT)), path.read_text(encoding="utf-8"))
        n = 0
        for para in story.body.split("\n\n"):
            for sent in nlp(para.strip()).sents:
                text = " ".join(sent.text.split())
                if any(c.isalnum() for c in text):
                    n += 1
                    rows.append({"sid": f"{story.id}#{n}", "story": story.id, "text": text})
    with open(HERE / "sentences.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["sid", "story", "text"])
        w.writeheader()
        w.writerows(rows)
    print(f"{len(rows)} sentences from {len(story_files())} stories -> {HERE / 'sentences.csv'}")


if __name__ == "__main__":
    main()
