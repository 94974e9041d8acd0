"""Web: `evidence serve` and the Datasette plugin (routes, pages, templates,
static files); result URLs are built here (urls.py).
"""
