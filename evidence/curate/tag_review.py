"""Tag review (`evidence tags`, `evidence review`): list an item's outcome tags, and record a curator's decision
(confirm or reject a tag) in the item's content file.

A decision is written into the `tags:` list of the story's front matter, or
of the finding in its study's file, as one line
`- {domain: ascot/occupation, status: confirmed, sentence: "...", by: ..., date: ...}`.
Only that list's lines change; every other byte of the file is kept. The
new text is validated exactly as the build validates, written atomically,
and the databases are rebuilt (incrementally); if that fails the old file
is put back. Because the decision lives in the file, every later build
applies it: a confirmed tag stays, a rejected one is never suggested again.
"""
from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

import yaml

from evidence.store.paths import default_paths
from evidence.errors import EvidenceError
from evidence.content.parsers import DOMAIN_KEY_RE, parse_framework, parse_story, parse_study
from evidence.content.yamldoc import split_front_matter

DECISIONS = ("confirmed", "rejected")


def _open_db(root: Path, db_path):
    from evidence.store import schema as store

    path, _ = default_paths(root, db_path, None)
    if not Path(path).exists():
        raise EvidenceError(f"{path} not found; run 'evidence build' first")
    return store.open_db(path)


def list_tags(root: Path, item_id: str, db_path=None) -> dict:
    """The item (story or finding) and its tags, best first, rejected last."""
    db = _open_db(root, db_path)
    try:
        kind = _kind(db, item_id)
        tags = list(db.query(
            "SELECT domain, framework, score, status, methods, via_crosswalk, via_domain, sentence, "
            "sentence_start, sentence_end, run_date, model_id, codebook_version FROM tags "
            "WHERE item_type = ? AND item_id = ? ORDER BY status = 'rejected', framework, score DESC",
            [kind, item_id]))
        support: dict[str, list[dict]] = {}
        if db["tag_sentences"].exists():
            for r in db.query("SELECT domain, sentence, start, end, score FROM tag_sentences WHERE item_type = ? AND item_id = ? "
                              "ORDER BY domain, rank", [kind, item_id]):
                support.setdefault(r["domain"], []).append(
                    {"text": r["sentence"], "start": r["start"], "end": r["end"], "score": r["score"]})
        for t in tags:  # every supporting sentence, best first (the tag's own sentence leads)
            t["sentences"] = support.get(t["domain"]) or (
                [{"text": t["sentence"], "start": t["sentence_start"], "end": t["sentence_end"], "score": t["score"]}]
                if t["sentence"] else [])
    finally:
        db.close()
    return {"item_type": kind, "item_id": item_id, "tags": tags}


def _kind(db, item_id: str) -> str:
    if db.execute("SELECT 1 FROM stories WHERE id = ?", [item_id]).fetchone():
        return "story"
    if db.execute("SELECT 1 FROM findings WHERE id = ?", [item_id]).fetchone():
        return "finding"
    raise EvidenceError(f"no story or finding has the id '{item_id}'; see 'evidence build' output or the stories/ and findings/ files")


def known_domains(root: Path) -> list[str]:
    """Every <framework>/<domain> key of the codebooks in pipelines/frameworks/."""
    keys = []
    for p in sorted((Path(root) / "pipelines" / "frameworks").glob("*.yml")):
        fw = parse_framework(str(p), p.read_text(encoding="utf-8"))
        keys += [d.key for d in fw.domains]
    return keys


def review(root: Path, item_id: str, domain: str, decision: str, *, sentence: str | None = None,
           by: str = "", db_path=None, public_path=None, rebuild: bool = True) -> tuple[Path, str]:
    """Write a curator's decision on (item, domain) into the item's file and
    rebuild. Returns (file changed, the sentence recorded with it)."""
    import difflib

    root = Path(root)
    if decision not in DECISIONS:
        raise EvidenceError(f"decision must be one of {', '.join(DECISIONS)}")
    keys = known_domains(root)
    if not DOMAIN_KEY_RE.match(domain) or domain not in keys:
        close = difflib.get_close_matches(domain, keys, n=1) or [k for k in keys if k.endswith("/" + domain)][:1]
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise EvidenceError(f"unknown domain '{domain}'{hint}; write it as <framework>/<domain-id>, e.g. {keys[0] if keys else 'ascot/occupation'}")
    db = _open_db(root, db_path)
    try:
        kind = _kind(db, item_id)
        if kind == "story":
            rel = db.execute("SELECT file FROM stories WHERE id = ?", [item_id]).fetchone()[0]
        else:
            rel = db.execute("SELECT s.file FROM findings f JOIN studies s ON s.id = f.study_id WHERE f.id = ?", [item_id]).fetchone()[0]
        if sentence is None:
            row = db.execute("SELECT sentence FROM tags WHERE item_type = ? AND item_id = ? AND domain = ?",
                             [kind, item_id, domain]).fetchone()
            sentence = row[0] if row else ""
    finally:
        db.close()
    path = root / rel
    old = path.read_text(encoding="utf-8")
    entry = {"domain": domain, "status": decision}
    if sentence:
        entry["sentence"] = sentence
    if by:
        entry["by"] = by
    entry["date"] = _dt.date.today().isoformat()
    new = set_decision(old, kind, item_id, entry, str(rel))
    if kind == "story":
        parse_story(str(rel), new)
    else:
        parse_study(str(rel), new)
    if not rebuild:
        from evidence.content.tree import write_atomic

        write_atomic(path, new)
        return path, sentence or ""
    from evidence.curate.write import write_and_build

    write_and_build(root, path, new, old, db_path, public_path)
    return path, sentence or ""


# ---------------------------------------------------------------------------
# Editing the YAML text in place


def _flow(entry: dict) -> str:
    return yaml.safe_dump(entry, default_flow_style=True, width=1 << 20, allow_unicode=True, sort_keys=False).strip()


def _existing(node) -> list[dict]:
    data = yaml.safe_load(yaml.serialize(node)) if node is not None else None
    return data if isinstance(data, list) else []


def _render(entries: list[dict], indent: str) -> list[str]:
    if not entries:
        return [f"{indent}tags: []"]
    return [f"{indent}tags:"] + [f"{indent}  - {_flow(e)}" for e in entries]


def _merge(entries: list[dict], entry: dict) -> list[dict]:
    out = [e for e in entries if not (isinstance(e, dict) and e.get("domain") == entry["domain"])]
    return out + [entry]


def _end_line(node) -> int:
    """0-based line of a node's last character (a block collection's end
    mark points past it, at the next token)."""
    if isinstance(node, (yaml.SequenceNode, yaml.MappingNode)) and not node.flow_style and node.value:
        last = node.value[-1]
        return _end_line(last[1] if isinstance(last, tuple) else last)
    line = node.end_mark.line
    return line - 1 if node.end_mark.column == 0 and line > node.start_mark.line else line


def set_decision(text: str, kind: str, item_id: str, entry: dict, path: str) -> str:
    """`text` with the decision `entry` recorded for item_id (replacing an
    earlier decision on the same domain); only the tags list's lines change."""
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.split(newline)
    if kind == "story":
        fm, _, _ = split_front_matter(path, text.replace("\r\n", "\n"))
        root_node = yaml.compose(fm)
        offset = 1  # the front matter starts on line 2 (index 1)
        mapping, indent = root_node, ""
    else:
        root_node = yaml.compose(text.replace("\r\n", "\n"))
        offset = 0
        mapping = None
        for k, v in root_node.value:
            if k.value == "findings":
                for item in v.value:
                    if any(kk.value == "id" and vv.value == item_id for kk, vv in item.value):
                        mapping = item
        if mapping is None:
            raise EvidenceError(f"{path}: finding '{item_id}' not found in the file; rebuild with 'evidence build'")
        indent = " " * mapping.start_mark.column
    tags_key = next(((k, v) for k, v in mapping.value if k.value == "tags"), None)
    if tags_key is not None:
        k, v = tags_key
        first = k.start_mark.line + offset
        last = _end_line(v) + offset
        new = _render(_merge(_existing(v), entry), indent)
        lines[first:last + 1] = new
    else:
        end = _end_line(mapping.value[-1][1]) + offset
        lines[end + 1:end + 1] = _render([entry], indent)
    return newline.join(lines)


def describe(result: dict) -> list[str]:
    """Lines for the terminal: one per tag."""
    out = [f"{result['item_type']} {result['item_id']}: {len(result['tags'])} tags"]
    for t in result["tags"]:
        via = f" via {t['via_domain']}" if t["via_crosswalk"] else ""
        out.append(f"  {t['status']:9s} {t['score']:.2f} {t['domain']}{via} [{t['methods']}]")
        out.append(f"            \"{t['sentence']}\" ({t['sentence_start']}-{t['sentence_end']})")
        more = len(t.get("sentences") or []) - 1
        if more > 0:
            out.append(f"            and {more} more supporting sentence{'s' if more > 1 else ''} (--json lists them)")
    return out


def as_json(result: dict) -> str:
    return json.dumps(result, ensure_ascii=False, indent=2)
