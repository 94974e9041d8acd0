"""Rendering helpers for the plugin (no Datasette imports here)."""
from __future__ import annotations

import functools
import threading

import markdown
from markupsafe import Markup

# One Markdown converter per thread, reused (building one per call cost more
# than the conversion itself), and recent results cached: a table page shows
# the same narratives to every visitor.
_local = threading.local()


def _converter() -> markdown.Markdown:
    md = getattr(_local, "md", None)
    if md is None:
        md = _local.md = markdown.Markdown(extensions=["extra"], output_format="html")
    return md


@functools.lru_cache(maxsize=4096)
def render_markdown(text: str) -> Markup:
    """Markdown to HTML with any raw HTML in the source escaped first, so a
    story cannot inject markup or scripts into the page."""
    return Markup(_converter().reset().convert(text.replace("<", "&lt;")))
