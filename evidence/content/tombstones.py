"""Tombstones: the record that a story was withdrawn, with no personal content.

A tombstone is (digest, date, reason code, text digest). The story id itself is not kept,
because an id is a slug of the title and often holds a first name. The
digest is an HMAC-SHA256 of the id under a secret key that the curators keep
outside git (ROOT/.tombstone.key, ignored by git, or the file named by
EVIDENCE_TOMBSTONE_KEY_FILE, or the hex key itself in EVIDENCE_TOMBSTONE_KEY).
Without the key nobody can test a guessed id against the file, so the file
can be committed and published: a dictionary of likely ids (names, slugs of
titles) gets nowhere. The key is created on first use (the first withdrawal);
when tombstones exist and the key is missing, every command that must check
them stops with a one-line error saying where to put the key.

Tombstones written before keys existed (`id_sha256`: a plain SHA-256) are
still honoured, but they can be reversed by dictionary; `evidence withdraw`
never writes them.

The tombstones live in `withdrawn.yml` at the root of the evidence base (a
content file: commit it, so every clone with the key refuses the story too)
and are mirrored into the working database's `tombstones` table on every
build. `build` refuses a story whose id is tombstoned (one line naming the
file); `add` refuses it unless given --override-tombstone, which lifts the
tombstone on purpose (for example when the person gives consent again).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import yaml

from evidence.content.tree import write_atomic
from evidence.errors import EvidenceError, ValidationError

WITHDRAWN_FILE = "withdrawn.yml"
KEY_FILE = ".tombstone.key"
KEY_ENV, KEY_FILE_ENV = "EVIDENCE_TOMBSTONE_KEY", "EVIDENCE_TOMBSTONE_KEY_FILE"
REASONS = ("consent-withdrawn", "person-request", "safeguarding", "legal", "inaccurate", "duplicate", "other")
HEADER = """\
# Withdrawn stories, written by `evidence withdraw` (commit this file).
# A tombstone holds no personal content: HMAC-SHA256s of the story id and of
# its narrative under the curators' secret key (kept outside git, see
# docs/privacy.md), the date and a reason code. build and add refuse a story
# whose id or narrative matches one;
# `evidence add --override-tombstone` lifts it on purpose.
"""
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Tombstone:
    digest: str  # HMAC-SHA256 of the id (hex); for a legacy tombstone, its plain SHA-256
    date: str
    reason: str
    legacy: bool = False
    text: str = ""  # HMAC-SHA256 of the narrative, normalised (text_key); '' when not known


def key_path(root: str | Path) -> Path:
    """Where the tombstone key is read from (and created)."""
    return Path(os.environ.get(KEY_FILE_ENV) or Path(root) / KEY_FILE)


def load_key(root: str | Path, create: bool = False) -> bytes | None:
    """The secret key (None when there is none and `create` is false)."""
    env = os.environ.get(KEY_ENV, "").strip()
    if env:
        if not re.fullmatch(r"[0-9a-fA-F]{64}", env):
            raise EvidenceError(f"{KEY_ENV} must be 64 hex digits (the content of the key file)")
        return bytes.fromhex(env)
    path = key_path(root)
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        if not create:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_bytes(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(key.hex() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        return key
    except (OSError, UnicodeDecodeError) as exc:
        raise EvidenceError(f"cannot read the tombstone key {path} ({exc}); fix its permissions or restore it") from None
    if not re.fullmatch(r"[0-9a-fA-F]{64}", text):
        raise EvidenceError(f"the tombstone key {path} is not 64 hex digits; restore it from a curator's copy")
    return bytes.fromhex(text)


def id_key(story_id: str, key: bytes) -> str:
    """The tombstone digest of a story id under `key`."""
    return hmac.new(key, f"evidence-withdrawn:{story_id}".encode("utf-8"), hashlib.sha256).hexdigest()


def text_key(body: str, key: bytes) -> str:
    """The tombstone digest of a narrative under `key`: the same account
    added again under another id (a new title, a renamed file) is the
    withdrawn story too. The text is normalised first (case, quotes, spacing
    and punctuation: records.normalise_text), as add's duplicate check does."""
    from evidence.content.records import normalise_text

    return hmac.new(key, b"evidence-withdrawn-text:" + normalise_text(body or "").encode("utf-8"),
                    hashlib.sha256).hexdigest()


def legacy_key(story_id: str) -> str:
    """The unkeyed digest of tombstones written before keys (reversible by dictionary)."""
    return hashlib.sha256(f"evidence-withdrawn:{story_id}".encode("utf-8")).hexdigest()


def read(root: str | Path) -> dict[str, Tombstone]:
    """Tombstones in ROOT/withdrawn.yml, by digest ({} when there is no file)."""
    from evidence.content.yamldoc import load_yaml

    path = Path(root) / WITHDRAWN_FILE
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return {}
    except UnicodeDecodeError:
        raise ValidationError(WITHDRAWN_FILE, None, "is not UTF-8 text; restore it from git") from None
    try:
        data = load_yaml(text) or {}
    except yaml.YAMLError:
        raise ValidationError(WITHDRAWN_FILE, None, "is not valid YAML; restore it from git") from None
    items = data.get("tombstones") if isinstance(data, dict) else None
    if items is None:
        items = []
    if not isinstance(items, list):
        raise ValidationError(WITHDRAWN_FILE, None, "'tombstones' must be a list; restore the file from git")
    out = {}
    for i, t in enumerate(items):
        digest = t.get("id_hmac") if isinstance(t, dict) else None
        legacy = isinstance(t, dict) and digest is None
        if legacy:
            digest = t.get("id_sha256")
        if not isinstance(digest, str) or not _HEX64.match(digest):
            raise ValidationError(WITHDRAWN_FILE, None, f"tombstone {i + 1} needs 'id_hmac' (64 hex digits); restore the file from git")
        text = t.get("text_hmac") or ""
        if not isinstance(text, str) or (text and not _HEX64.match(text)):
            raise ValidationError(WITHDRAWN_FILE, None, f"tombstone {i + 1}: 'text_hmac' must be 64 hex digits; "
                                  "restore the file from git")
        out[digest] = Tombstone(digest, str(t.get("date") or ""), str(t.get("reason") or "other"), legacy, text)
    return out


def missing_key_error(root: str | Path, count: int) -> EvidenceError:
    return EvidenceError(
        f"{WITHDRAWN_FILE} holds {count} tombstone(s), but the tombstone key {key_path(root)} is missing, so withdrawn "
        f"stories cannot be recognised; copy the key from another curator to that path (or set {KEY_FILE_ENV} or "
        f"{KEY_ENV}); never commit it")


class Matcher:
    """Tests story ids against the tombstones of an evidence base."""

    def __init__(self, root: str | Path, stones: dict[str, Tombstone] | None = None):
        self.stones = read(root) if stones is None else stones
        keyed = [t for t in self.stones.values() if not t.legacy]
        self.key = load_key(root) if keyed else None
        if keyed and self.key is None:
            raise missing_key_error(root, len(keyed))
        self.texts = {t.text: t for t in keyed if t.text}

    def find_text(self, body: str) -> Tombstone | None:
        """The tombstone of a withdrawn story with this narrative, whatever its id."""
        if not self.texts or self.key is None or not (body or "").strip():
            return None
        return self.texts.get(text_key(body, self.key))

    def find_story(self, story_id: str, body: str) -> Tombstone | None:
        """The tombstone of a story by its id or its narrative."""
        return self.find(story_id) or self.find_text(body)

    def find(self, story_id: str) -> Tombstone | None:
        if not self.stones:
            return None
        if self.key is not None:
            hit = self.stones.get(id_key(story_id, self.key))
            if hit is not None:
                return hit
        hit = self.stones.get(legacy_key(story_id))
        return hit if hit is not None and hit.legacy else None


def write(root: str | Path, tombstones: dict[str, Tombstone]) -> None:
    """Write ROOT/withdrawn.yml atomically."""
    items = [{("id_sha256" if t.legacy else "id_hmac"): t.digest, "date": t.date, "reason": t.reason,
              **({"text_hmac": t.text} if t.text else {})}
             for t in sorted(tombstones.values(), key=lambda t: (t.date, t.digest))]
    body = yaml.safe_dump({"tombstones": items}, sort_keys=False, default_flow_style=None, width=200)
    write_atomic(Path(root) / WITHDRAWN_FILE, HEADER + body)


def find(root: str | Path, story_id: str) -> Tombstone | None:
    """The tombstone of a story id, if it was withdrawn."""
    return Matcher(root).find(story_id)


def add(root: str | Path, story_id: str, reason: str, date: str | None = None, body: str = "") -> Tombstone:
    """Add (or keep) the tombstone of a story id, with the digest of its
    narrative when `body` is given; creates the key on first use."""
    if reason not in REASONS:
        raise EvidenceError(f"unknown reason '{reason}'; use one of: {', '.join(REASONS)}")
    stones = read(root)
    if any(not t.legacy for t in stones.values()) and load_key(root) is None:
        raise missing_key_error(root, sum(not t.legacy for t in stones.values()))
    existing = Matcher(root, stones).find(story_id)
    key = load_key(root, create=True)
    text = text_key(body, key) if (body or "").strip() else ""
    if existing is not None:
        if text and not existing.text and not existing.legacy:  # an older tombstone: add the narrative's digest
            stones[existing.digest] = existing = Tombstone(existing.digest, existing.date, existing.reason, False, text)
            write(root, stones)
        return existing
    digest = id_key(story_id, key)
    stones[digest] = Tombstone(digest, date or _dt.date.today().isoformat(), reason, text=text)
    write(root, stones)
    return stones[digest]


def lift(root: str | Path, story_id: str, body: str = "") -> Tombstone | None:
    """Remove the tombstone of a story, found by its id or its narrative;
    returns it (None if there was none)."""
    stones = read(root)
    gone = Matcher(root, stones).find_story(story_id, body)
    if gone is not None:
        stones.pop(gone.digest)
        write(root, stones)
    return gone


def restore(root: str | Path, stone: Tombstone) -> None:
    """Put back a tombstone that was lifted (an add that failed)."""
    stones = read(root)
    stones[stone.digest] = stone
    write(root, stones)


def refusal(path: str, stone: Tombstone) -> str:
    """The one-line reason a tombstoned story file is refused."""
    return (f"this story was withdrawn on {stone.date} ({stone.reason}) and may not come back by accident; "
            f"delete {path} (run 'evidence withdraw <id>' to finish a withdrawal), or re-add it on purpose with "
            "'evidence add --file FILE --override-tombstone'")
