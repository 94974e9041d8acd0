"""Helpers for the search tests: write a story file, count what an
embedder is asked to embed, query a database."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from evidence.models.embedder import FakeEmbedder


def write_story(base: Path, story_id: str, title: str, body: str, *, approach: str = "shared-lives",
                summary: str = "", scope: str = "public", status: str = "published", place: str = "",
                people: str = "  - {name: Rosa, role: person supported}\n", identity: str = "named",
                pseudonym: str = "") -> Path:
    """A valid story file in base/stories/<id>.md."""
    pseudo = f"  pseudonym: {pseudonym}\n" if pseudonym else ""
    text = f"""---
id: {story_id}
title: "{title}"
summary: "{summary}"
people:
{people}approach: {approach}
organisation: ""
place: "{place}"
source:
  title: "A test source"
  author: Test Author
  organisation: Test Organisation
  url: ""
  date: ""
consent:
  basis: given-by-person
  scope: {scope}
  identity: {identity}
{pseudo}  date: 2026-11-22
  recorded_by: tests
  wording: "Consent form v1"
status: {status}
added: 2026-11-22
---
{body}
"""
    path = base / "stories" / f"{story_id}.md"
    path.write_text(text, encoding="utf-8")
    return path


class CountingEmbedder(FakeEmbedder):
    """The fake embedder, remembering every text it was asked to embed."""

    def __init__(self, model_id: str = FakeEmbedder.model_id):
        self.model_id = model_id
        self.texts: list[str] = []

    def encode(self, texts, batch_size=64, progress=False):
        self.texts.extend(texts)
        return super().encode(texts, batch_size, progress)


class FailingEmbedder(FakeEmbedder):
    """Fails on the first text it is asked to embed."""

    def encode(self, texts, batch_size=64, progress=False):
        raise RuntimeError("the model fell over")


def rows(db: Path, sql: str, params=()) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()
