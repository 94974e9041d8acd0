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
    frameworks: dict[str, str] = field(default_factory=dict)  # key -> the id of its framework
    ambiguous: dict[str, list[str]] = field(default_factory=dict)  # a label or id several domains share -> keys

    def covered(self, label_lists: Sequence[Sequence[str]]) -> set[str]:
        """The keys a labelled file speaks for: every domain of each
        framework it labels at least one domain of. A row says 'not this
        domain' only for these: coders who labelled another codebook never
        looked for the domains of this one."""
        named = {self.frameworks.get(k, "") for labs in label_lists for k in labs}
        return {k for k in (lab.key for lab in self.labels) if self.frameworks.get(k, "") in named}


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
    labels, names, owner = [], [], {}
    for fw in frameworks:
        for d in fw.domains:
            key = d.key if several else d.label
            labels.append(Label(key=key, label=d.label, description=d.description, examples=list(d.examples)))
            names.append((key, [d.key, d.label, d.id]))
            owner[key] = fw.id
    where: dict[str, str] = {}
    for fw in frameworks:
        for d in fw.domains:
            key = d.key if several else d.label
            if key in where:
                raise EvidenceError(f"{fw.path}: the domain '{d.id}' has the label '{d.label}', as a domain of "
                                    f"{where[key]} has{' (two codebooks with the same name)' if several else ''}; "
                                    "give each domain a distinct label")
            where[key] = fw.path
    aliases, ambiguous = _aliases(names)
    return Codebook(name="+".join(fw.id for fw in frameworks), labels=labels, aliases=aliases,
                    frameworks=owner, ambiguous=ambiguous)


def codebook_of_domains(name: str, domains: Sequence[tuple[str, str, str]]) -> Codebook:
    """The domains an evidence base loads, (key, framework, label) each, as
    a Codebook keyed by <framework>/<domain-id>: a labelled CSV may name a
    domain by its key, its label or its id, as `evidence eval` reads it."""
    names = [(key, [key, label, key.split("/", 1)[-1]]) for key, _, label in domains]
    aliases, ambiguous = _aliases(names)
    return Codebook(name=name, labels=[Label(key=key, label=label) for key, _, label in domains], aliases=aliases,
                    frameworks={key: fw for key, fw, _ in domains}, ambiguous=ambiguous)


def _aliases(names: Sequence[tuple[str, Sequence[str]]]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """(alias -> key, alias -> keys) for domains named by several names
    each, compared lower-case: a key is always itself; a label or id that two
    domains share (two codebooks with a domain 'Safety') names neither, and
    is kept as ambiguous, so a CSV using it is an error, not a guess."""
    keys = {key.lower().strip(): key for key, _ in names}
    seen: dict[str, list[str]] = {}
    for key, forms in names:
        for form in forms:
            alias = str(form).lower().strip()
            if alias and key not in seen.setdefault(alias, []):
                seen[alias].append(key)
    aliases, ambiguous = {}, {}
    for alias, owners in seen.items():
        if alias in keys:
            aliases[alias] = keys[alias]
        elif len(owners) == 1:
            aliases[alias] = owners[0]
        else:
            ambiguous[alias] = owners
    return aliases, ambiguous


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
    """(texts, label lists) of a CSV with columns text and labels ('|'-separated);
    see read_labelled_stories for the details."""
    texts, labels, _ = read_labelled_stories(path, codebook, what, unknown)
    return texts, labels


def read_labelled_stories(path: Path, codebook: Codebook, what: str, unknown: str = "error"
                          ) -> tuple[list[str], list[list[str]], list[str]]:
    """(texts, label lists, stories) of a CSV with columns text and labels ('|'-separated),
    and optionally story: rows with the same story, one after another, are
    that story's sentences in order, so each has neighbours (the tagger's
    context); '' where the column is absent or empty.
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
    key = (hashlib.sha256(raw).hexdigest(), str(path), what, unknown, tuple(sorted(codebook.aliases.items())), codebook.name,
           tuple(sorted(codebook.frameworks.items())), tuple(sorted((a, tuple(k)) for a, k in codebook.ambiguous.items())))
    read = _READ.get(key)
    if read is None:
        read = _read_labelled(path, raw, codebook, what, unknown)
        _READ.clear()  # one file kept: the training CSV a build reads
        _READ[key] = read
    texts, labels, stories = read
    return list(texts), [list(labs) for labs in labels], list(stories)


_READ: dict[tuple, tuple[list[str], list[list[str]], list[str]]] = {}


def _read_labelled(path: Path, raw: bytes, codebook: Codebook, what: str, unknown: str
                   ) -> tuple[list[str], list[list[str]], list[str]]:
    frameworks = {f.lower() for f in codebook.frameworks.values()} or \
        {k.split("/", 1)[0].lower() for k in codebook.aliases.values() if "/" in k}
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
    texts, labels, stories = [], [], []
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
            if key is None and lab.lower() in codebook.ambiguous:
                raise EvidenceError(f"{path}:{n}: the label '{lab}' names {len(codebook.ambiguous[lab.lower()])} "
                                    f"domains ({', '.join(codebook.ambiguous[lab.lower()])}); write the one meant as "
                                    "<framework>/<domain-id>")
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
        stories.append((row.get("story") or "").strip())
    if not texts:
        raise EvidenceError(f"{path} has no rows with text; add labelled rows under the header")
    return texts, labels, stories
