"""Codebooks: the outcome domains of one or more frameworks as the tagger
sees them (keys, labels, descriptions, examples), and labelled data (CSV of
text and domain keys) read against them."""
from __future__ import annotations

import csv
import difflib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from evidence.enrich.tagger import Label
from evidence.errors import EvidenceError


@dataclass
class Codebook:
    name: str
    labels: list[Label]
    aliases: dict[str, str] = field(default_factory=dict)  # lower-cased label/id/key -> key


def read_codebooks(paths: Sequence[Path]) -> Codebook:
    """One or more codebook YAML files (name, domains with label and optional
    id, description, examples; other keys ignored) as one label set. With one
    codebook labels are keyed by their label; with several, by
    <framework>/<domain-id>."""
    from evidence.content.parsers import parse_framework

    if not paths:
        raise EvidenceError("no codebook given; pass --codebook CODEBOOK.yml")
    frameworks = []
    for p in paths:
        p = Path(p)
        try:
            text = p.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise EvidenceError(f"codebook not found: {p}; check the path") from None
        except UnicodeDecodeError:
            raise EvidenceError(f"codebook {p} is not UTF-8 text; save it as UTF-8") from None
        if not text.strip():
            raise EvidenceError(f"codebook {p} is empty; it needs 'name' and 'domains'")
        frameworks.append(parse_framework(str(p), text))
    several = len(frameworks) > 1
    labels, aliases = [], {}
    for fw in frameworks:
        for d in fw.domains:
            key = d.key if several else d.label
            labels.append(Label(key=key, label=d.label, description=d.description, examples=list(d.examples)))
            for alias in (d.key, d.label, d.id) if several else (d.label, d.id, d.key):
                aliases.setdefault(alias.lower().strip(), key)
    if len({lab.key for lab in labels}) != len(labels):
        raise EvidenceError("two domains share a label; give each domain a distinct label")
    return Codebook(name="+".join(fw.id for fw in frameworks), labels=labels, aliases=aliases)


def _rows(reader, path: Path):
    """The rows of a csv.DictReader, a malformed or oversized cell as a one-line error."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "field larger" in str(exc):
                raise EvidenceError(f"{path}:{reader.line_num}: a cell (field 'text' or 'labels') is over "
                                    f"{csv.field_size_limit():,} characters; shorten the text or split it into "
                                    "several rows") from None
            raise EvidenceError(f"{path}:{reader.line_num}: not readable as CSV ({exc}); fix the quoting "
                                "of the 'text' and 'labels' fields") from None
        yield row


def read_labelled(path: Path, codebook: Codebook, what: str, unknown: str = "error") -> tuple[list[str], list[list[str]]]:
    """(texts, label lists) of a CSV with columns text and labels ('|'-separated).
    A label that is not a domain of the codebook is an error, or left out
    (the row stays, with the labels it has here): with unknown="drop" any
    such label, with unknown="other-frameworks" one whose framework (the
    part before '/') has no domain in the codebook (a label of a framework
    that is there but no domain of it is still an error: a typo)."""
    frameworks = {k.split("/", 1)[0].lower() for k in codebook.aliases.values() if "/" in k}
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise EvidenceError(f"{what} file not found: {path}; check the path") from None
    try:
        data = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise EvidenceError(f"{path} is not UTF-8 text; save the CSV as UTF-8") from None
    if not data.strip():
        raise EvidenceError(f"{path} is empty; a {what} CSV needs a header 'text,labels' and at least one row")
    reader = csv.DictReader(io.StringIO(data))
    columns = [c.strip() for c in (reader.fieldnames or [])]
    missing = [c for c in ("text", "labels") if c not in columns]
    if missing:
        raise EvidenceError(f"{path} has no '{missing[0]}' column (columns: {', '.join(columns) or 'none'}); "
                            "a labelled CSV needs the columns text and labels")
    texts, labels = [], []
    for n, row in enumerate(_rows(reader, path), start=2):
        n = reader.line_num
        row = {(k or "").strip(): v for k, v in row.items()}
        text = (row.get("text") or "").strip()
        if not text:
            continue
        keys = []
        for lab in (row.get("labels") or "").split("|"):
            lab = lab.strip()
            if not lab:
                continue
            key = codebook.aliases.get(lab.lower())
            if key is None and (unknown == "drop" or (unknown == "other-frameworks" and "/" in lab
                                                       and lab.split("/", 1)[0].lower() not in frameworks)):
                continue
            if key is None:
                close = difflib.get_close_matches(lab.lower(), list(codebook.aliases), n=1)
                hint = f" (did you mean '{codebook.aliases[close[0]]}'?)" if close else ""
                raise EvidenceError(f"{path}:{n}: unknown label '{lab}'{hint}; labels must be domains of the codebook {codebook.name}")
            if key not in keys:
                keys.append(key)
        texts.append(text)
        labels.append(keys)
    if not texts:
        raise EvidenceError(f"{path} has no rows with text; add labelled rows under the header")
    return texts, labels
