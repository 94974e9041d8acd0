"""Story narratives cannot carry script (evidence/web/plugin/render.py): every
payload of tests/xss_payloads.yml renders to HTML with no event handler, no
script-capable tag and no URL outside http, https, mailto and #fragments,
as a browser would read it; ordinary Markdown still renders. The same in
the real browser: tests/test_web_xss.py."""
from __future__ import annotations

import html
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from evidence.web.plugin.render import render_markdown, safe_url

PAYLOADS = yaml.safe_load((Path(__file__).parent / "xss_payloads.yml").read_text(encoding="utf-8"))
DANGEROUS_TAGS = {"script", "svg", "math", "iframe", "object", "embed", "meta", "style", "details", "base", "form",
                  "input", "link", "template"}


class Collect(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def parsed(out: str) -> list[tuple[str, dict]]:
    c = Collect()
    c.feed(out)
    c.close()
    return c.tags


def unsafe(tags: list[tuple[str, dict]]) -> list[str]:
    """What in these tags could run script."""
    bad = []
    for tag, attrs in tags:
        if tag in DANGEROUS_TAGS:
            bad.append(f"<{tag}>")
        for name, value in attrs.items():
            if name.startswith("on") or name in ("style", "formaction", "srcdoc", "xlink:href", "autofocus"):
                bad.append(f"{tag}[{name}]")
            if name in ("href", "src", "action", "data", "poster", "background"):
                v = "".join(ch for ch in (value or "") if ch not in "\t\n\r").strip("\x00- ").lower()
                if not (v.startswith(("http://", "https://", "mailto:", "#"))):
                    bad.append(f"{tag}[{name}={value!r}]")
    return bad


@pytest.mark.parametrize("payload", PAYLOADS["body"], ids=lambda p: p["kind"])
def test_no_payload_renders_anything_that_runs(payload):
    out = str(render_markdown(payload["text"]))
    assert unsafe(parsed(out)) == [], out


def test_the_corpus_is_large_and_varied():
    kinds = {p["kind"] for p in PAYLOADS["body"]}
    assert len(PAYLOADS["body"]) >= 20 and {"attribute", "scheme", "encoding", "svg", "nested", "html"} <= kinds


@pytest.mark.parametrize("url", PAYLOADS["url"])
def test_url_fields_allow_only_http_https_mailto(url):
    assert safe_url(html.unescape(url)) is None and safe_url(url) is None


@pytest.mark.parametrize("url", ["https://example.org/a?b=1&c=2", "http://example.org", "mailto:team@example.org",
                                 "#fn:1", "HTTPS://EXAMPLE.ORG/X"])
def test_good_urls_pass(url):
    assert safe_url(url) == url


def test_ordinary_markdown_still_renders():
    text = ("Rita *found* **a home** with [Homeshare](https://example.org/homeshare \"the scheme\").\n\n"
            "- one\n- two\n\n> a quote\n\n| a | b |\n|:--|--:|\n| 1 | 2 |\n\nNote[^1]\n\n[^1]: A footnote.\n\n"
            "![a photo](https://example.org/p.png) and mail [us](mailto:team@example.org). 3 < 4 & 5 > 2.")
    out = str(render_markdown(text))
    tags = [t for t, _ in parsed(out)]
    for tag in ("em", "strong", "a", "ul", "li", "blockquote", "table", "th", "td", "sup", "img"):
        assert tag in tags, (tag, out)
    assert '<a href="https://example.org/homeshare" title="the scheme">Homeshare</a>' in out
    assert '<img src="https://example.org/p.png" alt="a photo">' in out or \
        '<img alt="a photo" src="https://example.org/p.png">' in out
    assert '<th align="left">' in out and 'href="#fn:1"' in out
    assert "3 &lt; 4 &amp; 5 &gt; 2" in out
    assert unsafe(parsed(out)) == []


def test_attribute_lists_are_text_not_attributes():
    out = str(render_markdown("Para\n{: onmouseover=\"alert(1)\" }"))
    assert "onmouseover" in html.unescape(out) and parsed(out) == [("p", {})]
