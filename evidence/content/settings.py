"""Pipelines' settings: where the declarative pipeline lives (pipelines/nlp.cfg,
pipelines/patterns.jsonl, approaches/*.yml for approach patterns) and a
version hash of it, computed without importing spaCy, so a build can tell
cheaply whether anything must be extracted again."""
from __future__ import annotations

import hashlib
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

from evidence.errors import EvidenceError


def read_approaches(root: Path) -> list[dict]:
    """id, name, organisation and aliases of each approaches/*.yml (tolerant: a file
    that does not parse is skipped; the build reports it)."""
    import yaml

    from evidence.content.yamldoc import plain_yaml

    out = []
    for p in sorted((Path(root) / "approaches").glob("*.yml")):
        try:
            data = plain_yaml(p.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError):
            continue
        if isinstance(data, dict):
            out.append({"id": str(data.get("id") or p.stem), "name": str(data.get("name") or ""),
                        "organisation": str(data.get("organisation") or ""),
                        "aliases": [str(x) for x in data.get("aliases") or [] if isinstance(x, (str, int))]
                        if isinstance(data.get("aliases"), list) else []})
    return out


@dataclass
class PipelineFiles:
    config: Path
    patterns: Path


def pipeline_files(root: Path) -> PipelineFiles:
    """pipelines/nlp.cfg and pipelines/patterns.jsonl under root (the
    package's own copies are not used: the evidence base defines its pipeline)."""
    root = Path(root)
    cfg = root / "pipelines" / "nlp.cfg"
    if not cfg.exists():
        raise EvidenceError(f"{cfg} not found; the NLP pipeline is defined there (copy it from the evidence repository)")
    return PipelineFiles(cfg, root / "pipelines" / "patterns.jsonl")


def source_version(*paths: Path) -> str:
    """A hash of source files' bytes, in order: a version that changes
    whenever that code does (the anonymiser's, the tagger's), so what it
    made before is made again."""
    h = hashlib.sha256()
    for path in paths:
        h.update(Path(path).read_bytes())
    return h.hexdigest()[:16]


def nlp_version(root: Path, approaches: list[dict]) -> str:
    """A hash of everything that decides what the pipeline extracts."""
    files = pipeline_files(root)
    h = hashlib.sha256(files.config.read_bytes())
    if files.patterns.exists():
        h.update(files.patterns.read_bytes())
    places = files.patterns.with_name("places.txt")
    if places.exists():
        h.update(places.read_bytes())
    h.update(json.dumps(sorted((a["id"], a["name"], a.get("organisation", ""), a.get("aliases") or []) for a in approaches)).encode())
    h.update(b"trained" if importlib.util.find_spec("en_core_web_sm") else b"rules")
    return h.hexdigest()[:16]


def read_settings(path: Path, allowed: tuple[str, ...] | list[str]) -> dict:
    """The `key: value` settings of a pipelines/*.yml file ({} when it does
    not exist), refusing invalid YAML and unknown keys in one line each."""
    import yaml

    if not path.exists():
        return {}
    from evidence.content.yamldoc import InputError, load_yaml

    try:
        data = load_yaml(path.read_text(encoding="utf-8")) or {}
    except InputError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise EvidenceError(f"{path}:{line}: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise EvidenceError(f"{path}: invalid YAML ({str(exc).splitlines()[0]}); check indentation and quoting") from None
    except UnicodeDecodeError:
        raise EvidenceError(f"{path}: not UTF-8 text; save it as UTF-8") from None
    if not isinstance(data, dict):
        raise EvidenceError(f"{path}: expected 'key: value' settings")
    unknown = set(data) - set(allowed)
    if unknown:
        raise EvidenceError(f"{path}: unknown setting '{sorted(unknown)[0]}'; allowed: {', '.join(allowed)}")
    return data


# ---------------------------------------------------------------------------
# Size limits of content and input (pipelines/limits.yml)

LIMITS_FILE = "pipelines/limits.yml"


@dataclass(frozen=True)
class Limits:
    """How big content files and inputs may be. Raise them in
    pipelines/limits.yml (`max_story_bytes: 2000000`); the NLP pipeline's own
    length limit follows max_story_bytes."""

    max_story_bytes: int = 500_000       # a story file (front matter and narrative); ~80,000 words
    max_yaml_bytes: int = 5_000_000      # a findings, approach, codebook or settings file
    max_findings_per_file: int = 2_000   # findings in one findings file


def read_limits(root: Path | str = ".") -> Limits:
    """The limits of an evidence base: the defaults, overridden by pipelines/limits.yml."""
    allowed = tuple(Limits.__dataclass_fields__)
    path = Path(root) / LIMITS_FILE
    data = read_settings(path, allowed)
    for key, value in data.items():
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 10**12:
            raise EvidenceError(f"{path}: '{key}' must be a whole number of at least 1, not {value!r}")
    return Limits(**data)


def read_bounded(path: Path | str, limit: int, what: str, setting: str) -> bytes:
    """The bytes of a file, reading at most `limit` + 1 of them: a file (or a
    device such as /dev/zero) over the limit is refused without being read."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except FileNotFoundError:
        raise EvidenceError(f"{what} not found: {path}; check the path") from None
    except IsADirectoryError:
        raise EvidenceError(f"{what} {path} is a folder; give a file") from None
    if len(data) > limit:
        raise EvidenceError(f"{what} {path} is over {limit:,} bytes; shorten or split it, or raise '{setting}' in "
                            f"{LIMITS_FILE}")
    return data
