"""The story page marks tag sentences with private-use characters placed in
the narrative before Markdown (pages.highlight). The same characters typed
into a story must not receive a mark: the first mark would then land where
they are, inside a link's title or URL, and its quotes would break out of
the attribute (served over a real `evidence serve`)."""
from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import Server
from evidence.build import build

STORY = "agnes-and-lucia"
PAYLOAD = '[her poster](https://example.org/poster "\ue000 data-x=1 \ue001")\n\n'


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _tags(page: bytes) -> list[tuple[str, dict]]:
    p = _Tags()
    p.feed(page.decode("utf-8"))
    return p.tags


@pytest.mark.server
def test_marker_characters_in_a_story_cannot_break_an_attribute(base: Path):
    path = base / "stories" / f"{STORY}.md"
    head, sep, body = path.read_text(encoding="utf-8").partition("\n---\n")
    path.write_text(head + sep + PAYLOAD + body, encoding="utf-8")
    build(base)
    server = Server(base)
    try:
        status, _, page = server.get(f"/-/story/{STORY}")
    finally:
        server.stop()
    assert status == 200
    tags = _tags(page)
    links = [a for t, a in tags if t == "a" and a.get("href") == "https://example.org/poster"]
    assert len(links) == 1, links
    assert set(links[0]) == {"href", "title"}, links[0]  # no attribute made by a broken quote
    assert "mark" not in links[0]["title"] and "data-x=1" in links[0]["title"], links[0]
    marks = [a for t, a in tags if t == "mark"]
    assert any(a.get("id", "").startswith("mark-") for a in marks)  # the tag sentences are still marked
    assert b"\xee\x80\x80" not in page and b"\xee\x80\x81" not in page  # no marker character is served
