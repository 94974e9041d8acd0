"""The personal-data review: `evidence review-pii ID` records in a story's
front matter that a curator has looked at the personal data the scanner found
(`privacy: {reviewed: DATE, by: WHO, hash: H}`), so that it may be published,
then runs the build. The hash covers exactly the data reviewed.
"""
from __future__ import annotations

import datetime as _dt
import re
from pathlib import Path

import yaml

from evidence.content.pii import findings_hash, scan_story
from evidence.enrich.checks import held_messages, held_stories  # noqa: F401  (the listing of `evidence review-pii`)
from evidence.errors import EvidenceError, ValidationError


def set_privacy_block(text: str, review: dict) -> str:
    """The story file text with its front matter's `privacy:` entry replaced
    by `review` (added before the closing '---' when absent)."""
    lines = text.split("\n")
    close = next((i for i in range(1, len(lines)) if lines[i].rstrip() == "---"), -1)
    if not lines or lines[0].rstrip() != "---" or close < 0:
        raise EvidenceError("the story file has no front matter between '---' lines")
    front = lines[1:close]
    kept, skipping = [], False
    for line in front:
        if re.match(r"privacy\s*:", line):
            skipping = True
            continue
        if skipping and (line.startswith((" ", "\t", "-")) or not line.strip()):
            continue
        skipping = False
        kept.append(line)
    entry = "privacy: " + yaml.safe_dump(review, default_flow_style=True, sort_keys=False, width=1000).strip()
    return "\n".join([lines[0], *kept, entry, *lines[close:]])


def review(root: str | Path, story_id: str, by: str, db_path=None, public_path=None,
           today: str | None = None):
    """Record that a curator reviewed the personal data in a story (so it may
    be published), then build. Returns (hits, BuildSummary or None when there
    was nothing to review)."""
    from evidence.curate.write import write_and_build
    from evidence.store.lock import writer_lock
    from evidence.content.yamldoc import SLUG_RE
    from evidence.content.parsers import parse_story

    root = Path(root)
    if not SLUG_RE.match(story_id or ""):
        raise EvidenceError(f"'{story_id}' is not a story id; give the id (the file name without .md)")
    if not by.strip():
        raise EvidenceError("say who reviewed it; pass --by NAME")
    path = root / "stories" / f"{story_id}.md"
    with writer_lock(root):
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise EvidenceError(f"there is no story file stories/{story_id}.md; check the id") from None
        rel = f"stories/{story_id}.md"
        try:
            story = parse_story(rel, text)
        except ValidationError as exc:
            raise EvidenceError(f"{exc}; fix the file first") from None
        hits = scan_story(story, text)
        if not hits:
            return hits, None
        entry = {"reviewed": today or _dt.date.today().isoformat(), "by": by.strip(),
                 "hash": findings_hash(story.id, hits)}
        new_text = set_privacy_block(text, entry)
        parse_story(rel, new_text)  # still valid
        return hits, write_and_build(root, path, new_text, text, db_path, public_path)
