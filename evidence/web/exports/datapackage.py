"""The Frictionless data package: datapackage.json and data/<table>.csv,
each table with its schema (types, descriptions from metadata.yml, primary
and foreign keys), the licence and the sources."""
from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

from evidence.web.exports.citations import sources as all_sources

# the public tables that make up the package, in the order people read them
# (passages and embeddings are search machinery; entities are derived)
TABLES = ("stories", "story_people", "findings", "studies", "approaches", "areas_of_work",
          "frameworks", "domains", "crosswalk", "tags", "links")
TYPES = {"INTEGER": "integer", "REAL": "number", "TEXT": "string", "": "string"}
LICENSE = {"name": "CC-BY-4.0", "title": "Creative Commons Attribution 4.0",
           "path": "https://creativecommons.org/licenses/by/4.0/"}


def _descriptions(metadata: Path | None) -> dict:
    if not metadata or not Path(metadata).exists():
        return {}
    import yaml

    from evidence.content.yamldoc import plain_yaml

    try:
        data = plain_yaml(Path(metadata).read_text(encoding="utf-8")) or {}
    except yaml.YAMLError:
        return {}
    dbs = data.get("databases") or {}
    return ((dbs.get("public") or {}).get("tables") or {}) if isinstance(dbs, dict) else {}


def write(conn, dest: Path, *, metadata: Path | None = None, base: str = "") -> dict:
    described = _descriptions(metadata)
    (dest / "data").mkdir(parents=True, exist_ok=True)
    present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    tables = [t for t in TABLES if t in present]
    resources, rows_total = [], 0
    for table in tables:
        info = conn.execute(f"PRAGMA table_info([{table}])").fetchall()
        meta = described.get(table) or {}
        notes = meta.get("columns") or {}
        fields = []
        for col in info:
            name, decl = col[1], (col[2] or "").upper()
            field = {"name": name, "type": TYPES.get(decl, "string")}
            if notes.get(name):
                field["description"] = notes[name]
            fields.append(field)
        pk = [c[1] for c in sorted(info, key=lambda c: c[5]) if c[5]]
        schema: dict = {"fields": fields, "missingValues": [""]}
        if pk:
            schema["primaryKey"] = pk
        fks = []
        for fk in conn.execute(f"PRAGMA foreign_key_list([{table}])").fetchall():
            other, col, other_col = fk[2], fk[3], fk[4]
            if other in tables:
                fks.append({"fields": [col], "reference": {"resource": other, "fields": [other_col or "id"]}})
        if fks:
            schema["foreignKeys"] = fks
        path = dest / "data" / f"{table}.csv"
        order = ", ".join(f"[{c}]" for c in pk) if pk else "rowid"
        n = 0
        with open(path, "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow([c[1] for c in info])
            for row in conn.execute(f"SELECT * FROM [{table}] ORDER BY {order}"):
                w.writerow(["" if v is None else _text(v) for v in row])
                n += 1
        rows_total += n
        resources.append({"name": table, "path": f"data/{table}.csv", "profile": "tabular-data-resource",
                          "title": meta.get("title") or table, "description": meta.get("description") or "",
                          "format": "csv", "mediatype": "text/csv", "encoding": "utf-8", "schema": schema})
    srcs = [{"title": s["title"], **({"path": s["url"]} if s["url"].startswith("http") else {})}
            for s in all_sources(conn)]
    package = {
        "profile": "tabular-data-package",
        "name": "evidence-community-centred-social-care",
        "title": "Evidence for community-centred social care",
        "description": ("People's stories (published with their consent) and research findings about "
                        "community-centred social care in the UK, tagged by outcome domain. Public data only."),
        "licenses": [LICENSE],
        "sources": srcs,
        "created": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "resources": resources,
    }
    if base:
        package["homepage"] = base + "/-/evidence"
    (dest / "datapackage.json").write_text(json.dumps(package, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return {"tables": len(resources), "rows": rows_total}


def _text(v) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v)) if abs(v) < 1e15 else repr(v)
    if isinstance(v, bytes):
        return v.hex()
    return str(v)
