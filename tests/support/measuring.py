"""The measuring corpus for search relevance: the repository's content (the
seven seed stories and every finding) plus the 234 invented stories of
tests/corpus/stories/ (280 items, many alike), copied into a folder and
built with the real model.

Only the embedding steps run (search needs passages, vectors, the search
model and the FTS indexes, not tags or links), as `evidence build` runs
them: the bundled model's vectors, then the search model trained on the
stories' own pairs (evidence/enrich/search_model.py) and its vectors. About
five minutes on two idle cores, and as many again for the training.
"""
from __future__ import annotations

from pathlib import Path

from support.content import ROOT, copy_base

CASES = ROOT / "tests" / "relevance.yml"


def copy_measuring_base(dest: Path) -> Path:
    """Copy the repository's content and the corpus stories into dest."""
    return copy_base(dest, corpus_stories=True)


def build_measuring(base: Path, embedder=None, tune: bool = True):
    """Build the content under `base` as the measuring corpus is built:
    embeddings and (with `tune`) the search model; the build's summary.
    `embedder` defaults to the real bundled model."""
    from evidence.build import BuildOptions, build
    from evidence.enrich import embeddings
    from evidence.models.embedder import get_embedder

    embedder = embedder if embedder is not None else get_embedder(name="all-MiniLM-L6-v2")
    # the search model is a late step (after the checks), which runs by default
    return build(base, options=BuildOptions(embedder=embedder, enrich_steps=(embeddings.enrich,),
                                            tune_search=tune, root=base))


def build_measuring_base(dest: Path, embedder=None, tune: bool = True) -> Path:
    """Copy and build the measuring corpus; the public database's path."""
    base = copy_measuring_base(dest)
    build_measuring(base, embedder, tune)
    return base / "public.db"
