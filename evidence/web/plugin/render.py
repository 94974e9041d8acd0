"""Rendering helpers for the plugin (no Datasette imports here).

Story narratives are Markdown written by curators from other people's words,
so they are treated as hostile: nothing in them may run script in a browser.

- Markdown without attribute lists (`{: onmouseover=... }`) and without raw
  HTML: every `<` in the source is escaped before conversion, and the
  extensions that read attributes or HTML (attr_list, md_in_html) are left
  out.
- The HTML that comes out is then rebuilt through an allow-list of tags and
  attributes (`sanitize_html`), with every link and image URL checked the
  way a browser reads it (entities decoded, tabs and newlines removed):
  only http, https and mailto URLs, and in-page `#fragments`, are kept.
- `safe_url` applies the same rule to URL fields (a study's `url`, an
  approach's `website`, a story's `source.url`) in the plugin's templates.
"""
from __future__ import annotations

import functools
import re
import threading
from html import escape
from html.parser import HTMLParser

import markdown
from markupsafe import Markup

# "extra" without attr_list and md_in_html
EXTENSIONS = ["abbr", "def_list", "fenced_code", "footnotes", "tables"]
SCHEMES = ("http", "https", "mailto")

# tag -> attributes it may keep; anything else is dropped (its text kept)
_PLAIN = ("p", "em", "strong", "b", "i", "code", "pre", "blockquote", "ul", "h1", "h2", "h3", "h4", "h5", "h6",
          "hr", "br", "table", "thead", "tbody", "tr", "dl", "dt", "dd", "del", "sub")
ALLOWED: dict[str, frozenset[str]] = {
    **{t: frozenset() for t in _PLAIN},
    "a": frozenset({"href", "title", "id", "class"}),
    "img": frozenset({"src", "alt", "title"}),
    "abbr": frozenset({"title"}),
    "th": frozenset({"align"}),
    "td": frozenset({"align"}),
    "ol": frozenset({"start"}),
    "li": frozenset({"id"}),      # footnotes
    "sup": frozenset({"id"}),
    "div": frozenset({"class"}),
}
URL_ATTRS = {"href", "src"}
VOID = {"br", "hr", "img"}
# tags whose content is dropped with them (never produced by our Markdown)
DROP_CONTENT = {"script", "style", "iframe", "object", "embed", "svg", "math", "template", "noscript", "textarea",
                "title", "xmp", "noembed", "noframes", "plaintext"}
_TOKEN = re.compile(r"^[A-Za-z0-9_:.\- ]*$")  # id, class, align, start values
_STRIP = re.compile(r"[\t\n\r]")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_NOT_IN_URL = re.compile(r"[\s\"<>`\x00-\x1f\x7f]")  # a real URL percent-encodes these


def safe_url(value) -> str | None:
    """`value` (already decoded, as a browser reads an attribute) when it is
    an http, https or mailto URL or an in-page #fragment, with no spaces,
    quotes or angle brackets in it; otherwise None."""
    if not isinstance(value, str):
        return None
    url = _STRIP.sub("", value).strip("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x11\x12\x13\x14"
                                       "\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f \u00a0")
    if not url or _NOT_IN_URL.search(url):
        return None
    if url.startswith("#"):
        return url
    m = _SCHEME.match(url)
    if not m or m.group(1).lower() not in SCHEMES:
        return None
    if m.group(1).lower() != "mailto" and not url[m.end():].startswith("//"):
        return None  # "http:foo" is a relative path to some browsers
    return url


class _Sanitizer(HTMLParser):
    """Rebuilds HTML keeping only ALLOWED tags and attributes, URLs checked."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.dropping = 0
        self.open: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in DROP_CONTENT:
            self.dropping += 1
            return
        if self.dropping or tag not in ALLOWED:
            return
        kept = []
        for name, value in attrs:
            if name not in ALLOWED[tag] or value is None:
                continue
            if name in URL_ATTRS:
                value = safe_url(value)
                if value is None:
                    continue
            elif name != "title" and name != "alt" and not _TOKEN.match(value):
                continue
            kept.append(f' {name}="{escape(value, quote=True)}"')
        if tag == "img" and not any(k.startswith(" src=") for k in kept):
            alt = dict(attrs).get("alt")
            if alt:
                self.out.append(escape(alt))
            return
        self.out.append(f"<{tag}{''.join(kept)}>")
        if tag not in VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag in self.open and tag not in VOID and self.open[-1] == tag:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if tag in DROP_CONTENT:
            self.dropping = max(0, self.dropping - 1)
            return
        if self.dropping or tag not in ALLOWED or tag in VOID or tag not in self.open:
            return
        while self.open:
            top = self.open.pop()
            self.out.append(f"</{top}>")
            if top == tag:
                break

    def handle_data(self, data):
        if not self.dropping:
            self.out.append(escape(data, quote=False))

    def close(self) -> str:
        super().close()
        self.out.extend(f"</{t}>" for t in reversed(self.open))
        self.open = []
        return "".join(self.out)


def sanitize_html(html: str) -> str:
    """`html` with only allowed tags, attributes and URLs (see ALLOWED)."""
    parser = _Sanitizer()
    parser.feed(html)
    return parser.close()


# One Markdown converter per thread, reused (building one per call cost more
# than the conversion itself), and recent results cached: a table page shows
# the same narratives to every visitor.
_local = threading.local()


def _converter() -> markdown.Markdown:
    md = getattr(_local, "md", None)
    if md is None:
        md = _local.md = markdown.Markdown(extensions=EXTENSIONS, output_format="html",
                                           extension_configs={"tables": {"use_align_attribute": True}})
        # no raw HTML at all, even if a "<" got through
        for name in ("html_block",):
            if name in md.preprocessors:
                md.preprocessors.deregister(name)
        if "html" in md.inlinePatterns:
            md.inlinePatterns.deregister("html")
    return md


@functools.lru_cache(maxsize=4096)
def render_markdown(text: str) -> Markup:
    """Markdown to safe HTML: raw HTML in the source is escaped first, no
    attribute lists, and the output goes through the allow-list above, so a
    story cannot inject markup, handlers or script URLs into the page."""
    html = _converter().reset().convert(text.replace("<", "&lt;"))
    return Markup(sanitize_html(html))
