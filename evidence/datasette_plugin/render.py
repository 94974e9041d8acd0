"""Rendering helpers for the plugin (no Datasette imports here)."""
from __future__ import annotations

import markdown
from markupsafe import Markup


def render_markdown(text: str) -> Markup:
    """Markdown to HTML with any raw HTML in the source escaped first, so a
    story cannot inject markup or scripts into the page."""
    return Markup(markdown.markdown(text.replace("<", "&lt;"), extensions=["extra"], output_format="html"))
