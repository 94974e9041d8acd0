"""Datasette's own pages, made to lead somewhere: how cells of the public
tables render (a story's id, story_id and path lead to its page /-/story/<id>;
the stories table shows an excerpt and people's names, not the whole
narrative or JSON), the values offered for canned-query parameters, and the
order of tables on the index. No Datasette imports here."""
from __future__ import annotations

import sqlite3

from markupsafe import Markup, escape

from evidence.web.formatting import excerpt, format_value, people_names
from evidence.web.urls import story_path

# the tables people start from, in this order; the rest follow
FIRST_TABLES = ("stories", "findings", "approaches", "studies")
STORY_ID_COLUMNS = {"story_id"}

# the columns the stories table page shows when the visitor chose none: the
# rest (summary, organisation and the source's details) are on each story's
# row and page and in the JSON and CSV. Fewer cells also keep the page fast:
# 9 of 17 columns took the p99 of 16 clients at 10,000 stories under 500 ms.
DEFAULT_COLUMNS = {"stories": ("title", "body", "people", "approach", "place", "area_of_work", "source_title", "added")}


def with_default_columns(path: str, query: bytes, db_names) -> bytes:
    """The query string of an HTML table page with the default columns
    added when the visitor chose none (no _col or _nocol)."""
    parts = path.strip("/").split("/")
    if len(parts) != 2 or parts[0] not in db_names or parts[1] not in DEFAULT_COLUMNS:
        return query
    if b"_col=" in query or b"_nocol=" in query:
        return query
    extra = "&".join(f"_col={c}" for c in DEFAULT_COLUMNS[parts[1]]).encode()
    return (query + b"&" + extra) if query else extra
PATH_COLUMNS = {"path", "story_path", "finding_path"}


def story_link(story_id: str, label: str | None = None, prefix: str = "") -> Markup:
    return Markup('<a href="{}">{}</a>').format(prefix + story_path(story_id), label or story_id)


def render_cell(value, column: str, table: str | None, prefix: str = "") -> Markup | None:
    """The HTML of one cell, or None to leave it to Datasette."""
    if table == "stories" and column == "body" and isinstance(value, str):
        return Markup('<span class="ev-excerpt">{}</span>').format(excerpt(value))
    if table == "stories" and column == "people" and isinstance(value, str):
        return Markup(escape(", ".join(people_names(value)) or "–"))
    if column in STORY_ID_COLUMNS and value:
        if isinstance(value, dict):  # an expanded foreign key: {value, label}
            return story_link(str(value.get("value")), str(value.get("label") or value.get("value")), prefix)
        return story_link(str(value), None, prefix)
    if column in PATH_COLUMNS and isinstance(value, str) and value.startswith("/"):
        label = "story page" if value.startswith("/-/story/") else "row"
        return Markup('<a href="{}">{}</a>').format(prefix + value, label)
    return None


def query_choices(path: str) -> dict[str, list[tuple[str, str]]]:
    """Known values of the canned queries' parameters, by parameter name:
    approach ids, outcome domains, and the places, organisations and
    approaches the texts mention."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        def rows(sql: str) -> list[tuple[str, str]]:
            try:
                return [(str(a), str(b)) for a, b in conn.execute(sql)]
            except sqlite3.Error:
                return []

        return {
            "approach": rows("SELECT id, name FROM approaches ORDER BY name"),
            "domain": rows("SELECT d.id, d.label || ' (' || f.title || ')' FROM domains d JOIN frameworks f "
                           "ON f.id = d.framework_id ORDER BY f.id, d.position"),
            "mention": rows("SELECT norm, min(text) || ' (' || lower(label) || ')' FROM entities "
                            "WHERE label IN ('PLACE', 'ORG', 'APPROACH') AND norm != '' "
                            "GROUP BY norm ORDER BY norm"),
        }
    finally:
        conn.close()


def cell_value(value, unit) -> str:
    """A finding's value with its unit, for templates."""
    return format_value(value, unit)


async def index_tables(datasette) -> list[dict]:
    """For each served database: the tables people start from (stories,
    findings, approaches, studies, in that order), then the other tables and
    views, each with its title, description and row count; hidden tables
    (internal, still queryable with SQL) only counted."""
    out = []
    for name, db in datasette.databases.items():
        if name == "_internal":
            continue
        hidden = set(await db.hidden_table_names())
        names = [t for t in await db.table_names() if t not in hidden]
        views = await db.view_names()
        counts = await db.table_counts(limit=50)
        order = {t: i for i, t in enumerate(FIRST_TABLES)}

        def entry(t: str, kind: str) -> dict:
            meta = datasette.table_metadata(name, t) or {}
            return {"name": t, "kind": kind, "title": meta.get("title") or t, "description": meta.get("description") or "",
                    "count": counts.get(t), "url": datasette.urls.table(name, t)}

        first = [entry(t, "table") for t in sorted((t for t in names if t in order), key=order.get)]
        rest = [entry(t, "table") for t in sorted(t for t in names if t not in order)]
        rest += [entry(v, "view") for v in sorted(views)]
        out.append({"name": name, "url": datasette.urls.database(name), "first": first, "rest": rest,
                    "hidden": sorted(t for t in hidden if not t.endswith(("_fts", "_fts_data", "_fts_idx", "_fts_docsize", "_fts_config")))})
    return out
