"""The measuring corpus for search relevance: the repository's content (the
seven seed stories and every finding) plus the 234 invented stories of
tests/corpus/stories/ (280 items, many alike), copied into a folder and
built with the real model.

Only the embedding step runs (search needs passages, vectors and the FTS
indexes, not tags or links): about five minutes on two idle cores.
"""
from __future__ import annotations

from pathlib import Path

from support.content import ROOT, copy_base

CASES = ROOT / "tests" / "relevance.yml"


def copy_measuring_base(dest: Path) -> Path:
    """Copy the repository's content and the corpus stories into dest."""
    return copy_base(dest, corpus_stories=True)


def build_measuring_base(dest: Path, embedder=None) -> Path:
    """Copy and build the measuring corpus (embeddings only); the public
    database's path. `embedder` defaults to the real bundled model."""
    from evidence.build import BuildOptions, build
    from evidence.enrich import embeddings
    from evidence.models.embedder import get_embedder

    base = copy_measuring_base(dest)
    embedder = embedder if embedder is not None else get_embedder(name="all-MiniLM-L6-v2")
    build(base, options=BuildOptions(embedder=embedder, enrich_steps=(embeddings.enrich,), root=base))
    return base / "public.db"
