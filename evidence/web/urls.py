"""Where a search result lives on the site: the web pages and the CLI both
build result URLs here (search itself returns ids and scores).

A story's page is /-/story/<id> (the narrative with its outcomes, findings
and a "cite this" line); a finding's is its row page. With a base URL
(`--base-url`, or $EVIDENCE_BASE_URL, e.g. https://evidence.example.org)
the command line prints absolute URLs."""
from __future__ import annotations

import os

TABLES = {"story": "stories", "finding": "findings"}
BASE_URL_ENV = "EVIDENCE_BASE_URL"


def tilde_encode(value: str) -> str:
    """Datasette's URL encoding of a primary key value (no datasette import)."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "_-") else
                   "".join(f"~{b:02X}" for b in c.encode("utf-8")) for c in value)


def row_path(db_name: str, item_type: str, item_id: str) -> str:
    """The path of an item's row page in the served database `db_name`."""
    return f"/{db_name}/{TABLES[item_type]}/{tilde_encode(item_id)}"


def story_path(story_id: str) -> str:
    """The path of a story's own page."""
    return f"/-/story/{tilde_encode(story_id)}"


def item_path(db_name: str, item_type: str, item_id: str) -> str:
    """Where a result leads: a story's page, or a finding's row page."""
    return story_path(item_id) if item_type == "story" else row_path(db_name, item_type, item_id)


def base_url(explicit: str | None = None) -> str:
    """The configured base URL (no trailing slash), or '' when none is."""
    value = (explicit if explicit is not None else os.environ.get(BASE_URL_ENV, "")).strip()
    if value and not value.startswith(("http://", "https://")):
        from evidence.errors import EvidenceError

        raise EvidenceError(f"base URL '{value}' must start with http:// or https://; "
                            "pass e.g. --base-url https://evidence.example.org")
    return value.rstrip("/")


def absolute(path: str, base: str = "") -> str:
    """`path` under the base URL (unchanged when there is none)."""
    return f"{base}{path}" if base else path


def with_url(hit, url: str) -> dict:
    """A result's JSON shape with its URL."""
    return {**hit.to_dict(), "url": url}
