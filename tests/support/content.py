"""The repository's content files (stories, findings, approaches, pipelines,
metadata) and copies of them: what the tests' fixtures (tests/conftest.py),
the measuring corpus (support/measuring.py) and the benchmarks build from."""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTENT = ("stories", "findings", "approaches", "pipelines", "metadata.yml")
CORPUS_STORIES = ROOT / "tests" / "corpus" / "stories"  # the invented stories (not in the evidence base)
# The search questions (tests/relevance.yml) are judged against every corpus
# story: those written for search (c-...) and those written for tagging
# (d-... to h-...), pooled and judged by two judges on 2026-11-30
# (tests/corpus/judgements/README.md), so the measuring corpus holds them all.
SEARCH_JUDGED = ""


def corpus_story_ids() -> set[str]:
    """The ids of the corpus stories the measuring corpus adds."""
    return {path.stem for path in CORPUS_STORIES.glob(f"{SEARCH_JUDGED}*.md")}


def copy_base(dest: Path, *, corpus_stories: bool = False) -> Path:
    """Copy the repository's content (not its databases) into dest; with
    `corpus_stories`, the invented stories of tests/corpus/stories/ that the
    search questions were judged against too."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in CONTENT:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name)
        elif src.exists():
            shutil.copy(src, dest / name)
    if corpus_stories:
        for path in sorted(CORPUS_STORIES.glob(f"{SEARCH_JUDGED}*.md")):
            shutil.copy(path, dest / "stories" / path.name)
    return dest


def content_digest(root: Path) -> str:
    """SHA-256 over the content files of an evidence base (names and bytes)."""
    h = hashlib.sha256()
    for name in CONTENT:
        src = root / name
        for path in sorted([src] if src.is_file() else src.rglob("*") if src.is_dir() else []):
            if path.is_file():
                h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def one_tag_per_framework(base: Path) -> None:
    """Cap the suggestions at one per item and framework, so that domains
    reach a story through the crosswalk (past the cap) in the seed build."""
    path = base / "pipelines" / "tagging.yml"
    text = path.read_text(encoding="utf-8")
    assert "max_tags_per_framework: 4" in text
    path.write_text(text.replace("max_tags_per_framework: 4", "max_tags_per_framework: 1"), encoding="utf-8")
