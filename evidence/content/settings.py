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

    out = []
    for p in sorted((Path(root) / "approaches").glob("*.yml")):
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
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
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise EvidenceError(f"{path}: invalid YAML ({str(exc).splitlines()[0]}); check indentation and quoting") from None
    if not isinstance(data, dict):
        raise EvidenceError(f"{path}: expected 'key: value' settings")
    unknown = set(data) - set(allowed)
    if unknown:
        raise EvidenceError(f"{path}: unknown setting '{sorted(unknown)[0]}'; allowed: {', '.join(allowed)}")
    return data
