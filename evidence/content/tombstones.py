"""Tombstones: the record that a story was withdrawn, with no personal content.

A tombstone is (id_sha256, date, reason code). The story id itself is not
kept, because an id is a slug of the title and often holds a first name:
only its SHA-256 is, which is enough to recognise the same id again. The
tombstones live in `withdrawn.yml` at the root of the evidence base (a
content file: commit it, so every clone refuses the story too) and are
mirrored into the working database's `tombstones` table on every build.

`build` refuses a story whose id is tombstoned (one line naming the file);
`add` refuses it unless given --override-tombstone, which lifts the
tombstone on purpose (for example when the person gives consent again).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

import yaml

from evidence.content.tree import write_atomic
from evidence.errors import EvidenceError, ValidationError

WITHDRAWN_FILE = "withdrawn.yml"
REASONS = ("consent-withdrawn", "person-request", "safeguarding", "legal", "inaccurate", "duplicate", "other")
HEADER = """\
# Withdrawn stories, written by `evidence withdraw` (commit this file).
# A tombstone holds no personal content: the SHA-256 of the story id, the date
# and a reason code. build and add refuse a story whose id matches one;
# `evidence add --override-tombstone` lifts it on purpose.
"""


@dataclass(frozen=True)
class Tombstone:
    id_sha256: str
    date: str
    reason: str


def id_key(story_id: str) -> str:
    """The tombstone key of a story id."""
    return hashlib.sha256(f"evidence-withdrawn:{story_id}".encode("utf-8")).hexdigest()


def read(root: str | Path) -> dict[str, Tombstone]:
    """Tombstones in ROOT/withdrawn.yml, by key ({} when there is no file)."""
    path = Path(root) / WITHDRAWN_FILE
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return {}
    except UnicodeDecodeError:
        raise ValidationError(WITHDRAWN_FILE, None, "is not UTF-8 text; restore it from git") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError:
        raise ValidationError(WITHDRAWN_FILE, None, "is not valid YAML; restore it from git") from None
    items = data.get("tombstones") if isinstance(data, dict) else None
    if items is None:
        items = []
    if not isinstance(items, list):
        raise ValidationError(WITHDRAWN_FILE, None, "'tombstones' must be a list; restore the file from git")
    out = {}
    for i, t in enumerate(items):
        if not isinstance(t, dict) or not isinstance(t.get("id_sha256"), str) or len(t["id_sha256"]) != 64:
            raise ValidationError(WITHDRAWN_FILE, None, f"tombstone {i + 1} needs 'id_sha256' (64 hex digits); restore the file from git")
        out[t["id_sha256"]] = Tombstone(t["id_sha256"], str(t.get("date") or ""), str(t.get("reason") or "other"))
    return out


def write(root: str | Path, tombstones: dict[str, Tombstone]) -> None:
    """Write ROOT/withdrawn.yml atomically."""
    items = [{"id_sha256": t.id_sha256, "date": t.date, "reason": t.reason}
             for t in sorted(tombstones.values(), key=lambda t: (t.date, t.id_sha256))]
    body = yaml.safe_dump({"tombstones": items}, sort_keys=False, default_flow_style=None, width=200)
    write_atomic(Path(root) / WITHDRAWN_FILE, HEADER + body)


def find(root: str | Path, story_id: str) -> Tombstone | None:
    """The tombstone of a story id, if it was withdrawn."""
    return read(root).get(id_key(story_id))


def add(root: str | Path, story_id: str, reason: str, date: str | None = None) -> Tombstone:
    """Add (or keep) the tombstone of a story id."""
    if reason not in REASONS:
        raise EvidenceError(f"unknown reason '{reason}'; use one of: {', '.join(REASONS)}")
    stones = read(root)
    key = id_key(story_id)
    if key not in stones:
        stones[key] = Tombstone(key, date or _dt.date.today().isoformat(), reason)
        write(root, stones)
    return stones[key]


def lift(root: str | Path, story_id: str) -> Tombstone | None:
    """Remove the tombstone of a story id; returns it (None if there was none)."""
    stones = read(root)
    gone = stones.pop(id_key(story_id), None)
    if gone is not None:
        write(root, stones)
    return gone


def restore(root: str | Path, stone: Tombstone) -> None:
    """Put back a tombstone that was lifted (an add that failed)."""
    stones = read(root)
    stones[stone.id_sha256] = stone
    write(root, stones)


def refusal(path: str, stone: Tombstone) -> str:
    """The one-line reason a tombstoned story file is refused."""
    return (f"this story was withdrawn on {stone.date} ({stone.reason}) and may not come back by accident; "
            f"delete {path} (run 'evidence withdraw <id>' to finish a withdrawal), or re-add it on purpose with "
            "'evidence add --file FILE --override-tombstone'")


