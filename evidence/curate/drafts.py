"""Drafts of an interactive `evidence add`: every answer is saved as it is
given, so a failure or Ctrl-C loses nothing, and `evidence add --resume`
continues from the answers already given.

Drafts live in ROOT/.evidence-drafts/ (ignored by git and by the build:
they may hold a narrative without consent yet), one YAML file each, written
atomically; a draft is removed when its story is added.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import asdict, fields
from pathlib import Path

import yaml

from evidence.content.tree import write_atomic
from evidence.errors import EvidenceError
from evidence.content.yamldoc import plain_yaml

FOLDER = ".evidence-drafts"


def folder(root: Path) -> Path:
    return Path(root) / FOLDER


def new_path(root: Path) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    return folder(root) / f"add-{stamp}.yml"


def save(path: Path, inp, answered: list[str]) -> None:
    """Write the answers so far (a StoryInput and the names of the fields
    answered) atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ignore = path.parent / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n", encoding="utf-8")
    data = asdict(inp)
    data["people"] = [{"name": n, "role": r} for n, r in inp.people]
    write_atomic(path, yaml.safe_dump({"answered": answered, "story": data}, sort_keys=False, allow_unicode=True,
                                      width=100))


def latest(root: Path) -> Path | None:
    found = sorted(folder(root).glob("add-*.yml"))
    return found[-1] if found else None


def load(path: Path, cls):
    """(StoryInput, answered field names) from a draft file."""
    try:
        data = plain_yaml(Path(path).read_text(encoding="utf-8")) or {}
        story = dict(data["story"])
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise EvidenceError(f"{path}: not a readable draft ({type(exc).__name__}); delete it and start again") from None
    known = {f.name for f in fields(cls)}
    people = [(str(p.get("name", "")), str(p.get("role", ""))) for p in story.pop("people", None) or [] if isinstance(p, dict)]
    inp = cls(**{k: ("" if v is None else v) for k, v in story.items() if k in known})
    inp.people = people
    return inp, [str(a) for a in data.get("answered") or []]


def remove(path: Path) -> None:
    Path(path).unlink(missing_ok=True)
