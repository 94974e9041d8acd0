"""Codebooks: the outcome domains of one or more frameworks as the tagger
sees them (keys, labels, descriptions, examples), and labelled data (CSV of
text and domain keys) read against them."""
from __future__ import annotations

import csv
import difflib
import hashlib
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
    where: dict[str, str] = {}
    for fw in frameworks:
        for d in fw.domains:
            key = d.key if several else d.label
            if key in where:
                raise EvidenceError(f"{fw.path}: the domain '{d.id}' has the label '{d.label}', as a domain of "
                                    f"{where[key]} has{' (two codebooks with the same name)' if several else ''}; "
                                    "give each domain a distinct label")
            where[key] = fw.path
    return Codebook(name="+".join(fw.id for fw in frameworks), labels=labels, aliases=aliases)


_EXTRA = "\x00extra"  # DictReader's key for the fields of a row beyond the header's


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
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise EvidenceError(f"{what} file not found: {path}; check the path") from None
    # every build reads the shipped training CSV (1,300+ rows): the rows of
    # the same bytes read with the same codebook are kept for this process
    key = (hashlib.sha256(raw).hexdigest(), str(path), what, unknown, tuple(sorted(codebook.aliases.items())), codebook.name)
    read = _READ.get(key)
    if read is None:
        read = _read_labelled(path, raw, codebook, what, unknown)
        _READ.clear()  # one file kept: the training CSV a build reads
        _READ[key] = read
    texts, labels = read
    return list(texts), [list(labs) for labs in labels]


_READ: dict[tuple, tuple[list[str], list[list[str]]]] = {}


def _read_labelled(path: Path, raw: bytes, codebook: Codebook, what: str, unknown: str) -> tuple[list[str], list[list[str]]]:
    frameworks = {k.split("/", 1)[0].lower() for k in codebook.aliases.values() if "/" in k}
    try:
        data = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise EvidenceError(f"{path} is not UTF-8 text; save the CSV as UTF-8") from None
    if not data.strip():
        raise EvidenceError(f"{path} is empty; a {what} CSV needs a header 'text,labels' and at least one row")
    reader = csv.DictReader(io.StringIO(data), restkey=_EXTRA)
    try:
        header = reader.fieldnames or []
    except csv.Error as exc:
        raise EvidenceError(f"{path}:1: the header is not readable as CSV ({exc}); write it as: text,labels") from None
    # column names as people write them: 'Text', ' labels ' (a BOM is gone already)
    columns = [c.strip().lower() for c in header]
    reader.fieldnames = columns
    twice = sorted({c for c in columns if c and columns.count(c) > 1})
    if twice:
        raise EvidenceError(f"{path}:1: the column '{twice[0]}' appears twice in the header; keep one (which would "
                            "count is not guessed)")
    missing = [c for c in ("text", "labels") if c not in columns]
    if missing:
        sep = next((name for ch, name in ((";", "semicolons"), ("\t", "tabs")) if len(columns) == 1 and ch in header[0]), "")
        hint = (f"; the columns are separated by {sep}: save it with commas" if sep else
                "; a labelled CSV needs the columns text and labels")
        raise EvidenceError(f"{path} has no '{missing[0]}' column (columns: {', '.join(columns) or 'none'}){hint}")
    texts, labels = [], []
    for row in _rows(reader, path):
        extra = row.pop(_EXTRA, None)
        # the row's first line: it ends on line_num, and spans the line breaks quoted in its fields
        n = max(2, reader.line_num - sum(str(v).count("\n") for v in [*row.values(), *(extra or [])] if v))
        if extra is not None and any((v or "").strip() for v in extra):
            raise EvidenceError(f"{path}:{n}: the row has {len(columns) + len(extra)} fields but the header has "
                                f"{len(columns)}; put a text that holds commas in double quotes, and separate "
                                "labels with '|' (not ',')")
        if any(v is None for v in row.values()):
            given = sum(v is not None for v in row.values())
            raise EvidenceError(f"{path}:{n}: the row has {given} field(s) but the header has {len(columns)} "
                                "(a quote left open swallows the rows after it); close the quotes, or add the "
                                "missing field")
        text = (row.get("text") or "").strip()
        if not text:
            if (row.get("labels") or "").strip():
                raise EvidenceError(f"{path}:{n}: the row has labels but no text in the 'text' field; add the "
                                    "text or remove the row")
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
                if any(sep in lab for sep in ",;"):
                    hint = "; separate several labels with '|', not ',' or ';'"
                raise EvidenceError(f"{path}:{n}: unknown label '{lab}'{hint}; labels must be domains of the codebook {codebook.name}")
            if key not in keys:
                keys.append(key)
        texts.append(text)
        labels.append(keys)
    if not texts:
        raise EvidenceError(f"{path} has no rows with text; add labelled rows under the header")
    return texts, labels
