"""`evidence export DIR`: the public database in the formats other tools read.

- a Frictionless data package (datapackage.json and one CSV per table, with
  table schemas, licence and sources): data portals, frictionless, pandas;
- the sources as RIS and CSL-JSON: reference managers (Zotero, EndNote,
  Mendeley) and citation processors;
- a REFI-QDA project (.qdpx: published stories as text sources, their
  curator-confirmed outcome tags as coded segments, the codebooks) and a
  codebook-only .qdc: NVivo, MAXQDA, ATLAS.ti, QualCoder (and Taguette for
  the codebook).

Everything is read from public.db, so nothing unpublished can leave: no
withdrawn story, no consent or curator column, no name of an anonymised
person. Files are written to a temporary folder and moved into DIR only when
all of them are complete."""
from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

from evidence.errors import EvidenceError
from evidence.web.exports import citations, datapackage, qda

FILES = ("datapackage.json", "data/", "sources.ris", "sources.csl.json", "evidence.qdpx", "codebooks.qdc")


def export(public: Path, dest: Path, *, base: str = "", metadata: Path | None = None) -> dict:
    """Write every export of `public` into `dest`; returns counts for the summary line."""
    public, dest = Path(public), Path(dest)
    if not public.exists():
        raise EvidenceError(f"{public} does not exist; run 'evidence build' first")
    if dest.exists() and not dest.is_dir():
        raise EvidenceError(f"{dest} is a file; give a folder to export into")
    if dest.exists() and any(dest.iterdir()) and not (dest / "datapackage.json").exists():
        raise EvidenceError(f"{dest} is not empty and holds no earlier export; give an empty or new folder")
    try:
        conn = sqlite3.connect(f"file:{public}?mode=ro", uri=True)
        conn.row_factory = sqlite3.Row
        conn.execute("SELECT 1 FROM stories LIMIT 1")
    except sqlite3.Error as exc:
        raise EvidenceError(f"{public} is not an evidence public database ({exc}); run 'evidence build' first") from None
    dest.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=dest))
    try:
        counts = {}
        counts.update(datapackage.write(conn, tmp, metadata=metadata, base=base))
        sources = citations.sources(conn)
        (tmp / "sources.ris").write_text(citations.ris(sources), encoding="utf-8")
        (tmp / "sources.csl.json").write_text(citations.csl_json(sources), encoding="utf-8")
        counts["sources"] = len(sources)
        counts.update(qda.write(conn, tmp / "evidence.qdpx", tmp / "codebooks.qdc"))
        for name in os.listdir(tmp):
            target = dest / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            os.replace(tmp / name, target)
    finally:
        conn.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return counts
