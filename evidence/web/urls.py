"""Where a search result lives on the site: the web pages and the CLI both
build result URLs here (search itself returns ids and scores)."""
from __future__ import annotations

TABLES = {"story": "stories", "finding": "findings"}


def tilde_encode(value: str) -> str:
    """Datasette's URL encoding of a primary key value (no datasette import)."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "_-") else
                   "".join(f"~{b:02X}" for b in c.encode("utf-8")) for c in value)


def row_path(db_name: str, item_type: str, item_id: str) -> str:
    """The path of an item's row page in the served database `db_name`."""
    return f"/{db_name}/{TABLES[item_type]}/{tilde_encode(item_id)}"


def with_url(hit, url: str) -> dict:
    """A result's JSON shape with its URL."""
    return {**hit.to_dict(), "url": url}
