"""Tombstones that do not give the id away: a keyed hash (HMAC-SHA256) under
a secret kept outside git, created on first use; a clear error when the key
is missing and tombstones exist; a dictionary attack on the file fails."""
from __future__ import annotations

import hashlib
import itertools
import os
import stat
from pathlib import Path

import pytest

from evidence.build import build
from evidence.content import tombstones
from evidence.errors import EvidenceError
from storyfiles import write_story

FIRST = ["james", "andy", "mary", "pat", "rose", "zebedee", "agnes", "lucia"]
SECOND = ["and", "finds", "the", "a", "homeshare", "shared-lives", "andy", "home", "lucia"]


def _dictionary():
    """Likely ids: slugs of one to three words from names and common title words."""
    words = FIRST + SECOND
    for n in (1, 2, 3):
        for combo in itertools.product(words, repeat=n):
            yield "-".join(combo)


def test_the_key_is_created_on_first_use_outside_git_and_private(base: Path):
    assert not (base / tombstones.KEY_FILE).exists()
    tombstones.add(base, "james-and-andy", "consent-withdrawn")
    key_file = base / tombstones.KEY_FILE
    assert key_file.exists()
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    repo_ignore = (Path(__file__).resolve().parent.parent / ".gitignore").read_text().split()
    assert tombstones.KEY_FILE in repo_ignore


def test_a_dictionary_attack_without_the_key_recovers_nothing(base: Path):
    tombstones.add(base, "james-and-andy", "consent-withdrawn")
    text = (base / tombstones.WITHDRAWN_FILE).read_text()
    assert "id_sha256" not in text and "id_hmac" in text
    digests = set(tombstones.read(base))
    tried = 0
    for guess in _dictionary():
        tried += 1
        for prefix in ("evidence-withdrawn:", ""):
            assert hashlib.sha256(f"{prefix}{guess}".encode()).hexdigest() not in digests, guess
        # a guessed key does not help either
        assert tombstones.id_key(guess, b"\0" * 32) not in digests
    assert tried > 700  # 'james-and-andy' is in the dictionary: with the unkeyed hash it was found
    assert tombstones.legacy_key("james-and-andy") not in digests
    # with the key, the curators' tools recognise it
    assert tombstones.find(base, "james-and-andy") is not None
    assert tombstones.find(base, "james-and-lucia") is None


def test_a_missing_key_with_tombstones_is_a_clear_error_for_build_add_and_withdraw(base: Path, cli):
    tombstones.add(base, "james-and-andy", "consent-withdrawn")
    (base / tombstones.KEY_FILE).unlink()
    for args in (["build"], ["withdraw", "agnes-and-lucia"]):
        result = cli([*args, "--root", base])
        assert result.exit_code == 1, (args, result.output)
        lines = [l for l in result.stderr.splitlines() if l.strip()]
        assert len(lines) == 1 and "tombstone key" in lines[0] and "missing" in lines[0], lines
        assert "unexpected" not in result.stderr
    with pytest.raises(EvidenceError, match="tombstone key"):
        tombstones.find(base, "james-and-andy")


def test_the_key_can_come_from_the_environment(base: Path, monkeypatch, tmp_path: Path):
    key_file = tmp_path / "elsewhere" / "key"
    monkeypatch.setenv(tombstones.KEY_FILE_ENV, str(key_file))
    tombstones.add(base, "james-and-andy", "other")
    assert key_file.exists() and not (base / tombstones.KEY_FILE).exists()
    monkeypatch.delenv(tombstones.KEY_FILE_ENV)
    monkeypatch.setenv(tombstones.KEY_ENV, key_file.read_text().strip())
    assert tombstones.find(base, "james-and-andy") is not None


def test_build_still_refuses_a_withdrawn_story_with_the_key(base: Path):
    write_story(base, "canary-story")
    tombstones.add(base, "canary-story", "consent-withdrawn")
    with pytest.raises(EvidenceError, match="withdrawn"):
        build(base)


def test_legacy_unkeyed_tombstones_are_still_honoured(base: Path):
    write_story(base, "canary-story")
    (base / tombstones.WITHDRAWN_FILE).write_text(
        f"tombstones:\n- id_sha256: {tombstones.legacy_key('canary-story')}\n  date: '2026-01-01'\n  reason: other\n")
    with pytest.raises(EvidenceError, match="withdrawn"):
        build(base)  # no key needed for legacy ones
