"""The plugin's pages: /-/evidence (home), /-/story/<id>, /-/approach/<id>
(the evidence card, also .json), /-/gaps (the gap map, also .json),
/-/gaps/<approach>/<domain> (the evidence behind one cell) and the
stylesheet they share, /-/evidence.css. Logic is in pages.py."""
from __future__ import annotations

from pathlib import Path

from datasette.utils import tilde_decode
from datasette.utils.asgi import Response

from evidence.web.plugin import pages
from evidence.web.plugin.search_views import _in_thread, search_database

CSS = Path(__file__).parent / "static" / "evidence.css"


def _database(datasette) -> tuple[str, str]:
    found = search_database(datasette)
    if not found:
        raise pages.NotFound("no evidence database is served here; run 'evidence build' and serve its public.db")
    return found


def _run(path: str, fn, *args):
    conn = pages.connect(path)
    try:
        return fn(conn, *args)
    finally:
        conn.close()


async def _page(request, datasette, template: str, fn, *args, json_ok: bool = False, extra=None):
    try:
        name, path = _database(datasette)
        data = await _in_thread(_run, path, fn, *args)
    except pages.NotFound as exc:
        if json_ok and request.url_vars.get("format") == ".json":
            return Response.json({"ok": False, "error": str(exc)}, status=404)
        html = await datasette.render_template("evidence_not_found.html", {"error": str(exc)}, request=request)
        return Response.html(html, status=404)
    if json_ok and request.url_vars.get("format") == ".json":
        return Response.json({"ok": True, **data}, default=str)
    data["db"] = name
    if extra is not None:
        data.update(await extra(name))
    data["db_url"] = datasette.urls.database(name)
    data["css_url"] = datasette.urls.path("/-/evidence.css")
    return Response.html(await datasette.render_template(template, data, request=request))


async def databases_view(request, datasette):
    """/-/databases(.json) as Datasette has it, with each file's name instead
    of its absolute path on the server."""
    import json

    await datasette.ensure_permissions(request.actor, ["view-instance"])
    data = [{**d, "path": Path(d["path"]).name if d.get("path") else d.get("path")}
            for d in datasette._connected_databases()]
    if request.url_vars.get("format"):
        return Response.json(data)
    html = await datasette.render_template("show_json.html", {"filename": "databases.json",
                                                              "data_json": json.dumps(data, indent=4)},
                                           request=request)
    return Response.html(html)


async def css_view(request, datasette):
    """The pages' stylesheet (served here: no CDN)."""
    return Response(CSS.read_text(encoding="utf-8"), content_type="text/css; charset=utf-8",
                    headers={"Cache-Control": "max-age=3600"})


async def home_view(request, datasette):
    return await _page(request, datasette, "evidence_home.html", pages.home_page)


async def story_view(request, datasette):
    from evidence.web.plugin.search_views import more_like_this

    async def more(name: str) -> dict:
        return await more_like_this(datasette, name, request.url_vars["id"])

    if request.url_vars.get("format") == ".json":
        return await _page(request, datasette, "evidence_story.html", pages.story_json,
                           tilde_decode(request.url_vars["id"]), json_ok=True)
    return await _page(request, datasette, "evidence_story.html", pages.story_page,
                       tilde_decode(request.url_vars["id"]), extra=more)


async def approach_view(request, datasette):
    return await _page(request, datasette, "evidence_approach.html", pages.approach_page,
                       tilde_decode(request.url_vars["id"]), json_ok=True)


async def gaps_view(request, datasette):
    return await _page(request, datasette, "evidence_gaps.html", pages.gap_map,
                       pages.GapFilters.from_args(request.args), json_ok=True)


async def cell_view(request, datasette):
    approach = tilde_decode(request.url_vars["approach"])
    domain = tilde_decode(request.url_vars["framework"]) + "/" + tilde_decode(request.url_vars["domain"])
    fmt = request.url_vars.get("format")
    if fmt in (".csv", ".ris"):
        try:
            name, path = _database(datasette)
            data = await _in_thread(_run, path, pages.cell_page, approach, domain)
        except pages.NotFound as exc:
            return Response.text(str(exc) + "\n", status=404)
        body = pages.cell_csv(data) if fmt == ".csv" else pages.cell_ris(data)
        stem = f"{approach}--{domain.replace('/', '-')}"
        kind = "text/csv" if fmt == ".csv" else "application/x-research-info-systems"
        return Response(body, content_type=f"{kind}; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{stem}{fmt}"'})
    return await _page(request, datasette, "evidence_cell.html", pages.cell_page, approach, domain, json_ok=True)


async def charts_view(request, datasette):
    """/-/charts: evidence by approach, by outcome domain, and findings'
    values by approach and design, as server-drawn SVG (charts.py); .json
    gives the numbers."""
    from evidence.web.plugin import charts

    if request.url_vars.get("format") == ".json":
        return await _page(request, datasette, "evidence_charts.html", pages.charts, json_ok=True)

    def build(conn):
        return charts.page(pages.charts(conn))

    return await _page(request, datasette, "evidence_charts.html", build)


async def about_view(request, datasette):
    """/-/about: how the evidence base is built, what is published, and the
    ways to take the data away (the index page's "About" link)."""
    return await _page(request, datasette, "evidence_about.html", pages.about_page)
