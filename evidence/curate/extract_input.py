"""Reading a document for `evidence extract`: size limit, encoding, binary
check, HTML stripped with the stdlib html.parser, Markdown markers dropped,
and the text split into paragraphs. Raises EvidenceError with one line."""
from __future__ import annotations

import codecs
import math
import re
from html.parser import HTMLParser
from pathlib import Path

from evidence.errors import EvidenceError

DEFAULT_MAX_MB = 5.0
_BLOCK_TAGS = {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
               "section", "article", "header", "footer", "tr", "table", "pre", "hr"}
# an image's caption repeats the story beside it and credits a photographer; a button or a form is the page's
_SKIP_TAGS = {"script", "style", "head", "noscript", "template", "figcaption", "button", "select", "form"}
_CELL_TAGS = {"td", "th"}


class _TextParser(HTMLParser):
    """Collects the visible text; block elements become paragraph breaks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in _SKIP_TAGS:
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")
        elif tag in _CELL_TAGS:
            self.parts.append(_CELL_SEP)  # a table's cells stay apart, as a plain-text table writes them

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(re.sub(r"\s+", " ", data))


_CELL_SEP = "    "


def html_to_text(html: str) -> str:
    """The visible text of an HTML document, one paragraph per block."""
    parser = _TextParser()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    return "\n\n".join(p.strip() for p in re.split(r"\n\s*\n", text) if p.strip())


# documents that are not text, told apart by their first bytes (a PDF made of
# plain ASCII has no NUL byte, so the binary check alone lets it through)
_FORMATS = (
    (b"%PDF-", "a PDF", "convert it to text first (e.g. pdftotext FILE out.txt, or save it as text)"),
    (b"PK\x03\x04", "a zip archive (a .docx, .odt or .xlsx document is one)",
     "save it as plain text (.txt) or HTML from the program that made it"),
    (b"\xd0\xcf\x11\xe0", "an old Office document (.doc, .xls)",
     "save it as plain text (.txt) or HTML from the program that made it"),
)


def decode(raw: bytes, name: str) -> str:
    """Bytes to text: a BOM picks UTF-8 or UTF-16; else UTF-8; else an error."""
    if raw.startswith(codecs.BOM_UTF8):
        return raw[len(codecs.BOM_UTF8):].decode("utf-8", errors="strict")
    if raw.startswith(codecs.BOM_UTF16_LE) or raw.startswith(codecs.BOM_UTF16_BE):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            raise EvidenceError(f"{name}: has a UTF-16 byte-order mark but is not valid UTF-16; re-save it as UTF-8") from None
    for magic, kind, how in _FORMATS:
        if raw.startswith(magic):
            raise EvidenceError(f"{name}: is {kind}, not text; {how}, then extract that file")
    if b"\x00" in raw[:8192]:
        head = raw[:8192]
        if head[1::2].count(0) > len(head) // 4 or head[0::2].count(0) > len(head) // 4:
            raise EvidenceError(f"{name}: looks like UTF-16 text without a byte-order mark; re-save it as UTF-8")
        raise EvidenceError(f"{name}: looks like a binary file, not text; give a plain text, Markdown or HTML file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EvidenceError(f"{name}: unknown text encoding (not UTF-8 or UTF-16 with a BOM, bad byte at {exc.start}); "
                            "convert it, e.g. iconv -f latin1 -t utf-8") from None


def read_document(path: Path, max_mb: float = DEFAULT_MAX_MB) -> str:
    """The text of a plain text, Markdown or HTML file, checked and decoded."""
    path = Path(path)
    if not (max_mb > 0 and math.isfinite(max_mb)):
        raise EvidenceError(f"--max-mb {max_mb:g} is not a size; give a number of megabytes above 0, e.g. --max-mb 20")
    if path.is_dir():
        raise EvidenceError(f"{path}: is a folder; give the documents in it, e.g. {path}/*.html")
    if not path.is_file():
        raise EvidenceError(f"{path}: no such file; check the path")
    size = path.stat().st_size
    if size == 0:
        raise EvidenceError(f"{path}: the file is empty; give a document with some text")
    if size > max_mb * 1024 * 1024:
        raise EvidenceError(f"{path}: {size / 1024 / 1024:.1f} MB is over the {max_mb:g} MB limit; "
                            "split the document or pass --max-mb with a larger limit")
    text = decode(path.read_bytes(), str(path))
    if path.suffix.lower() in (".html", ".htm") or re.match(r"\s*<(!doctype|html|body|p|div|article)\b", text, re.I):
        m = re.search(r"<h1[^>]*>(.*?)</h1>|<title[^>]*>(.*?)</title>", text, re.I | re.S)
        heading = html_to_text(m.group(1) or m.group(2)).strip() if m else ""
        text = html_to_text(text)
        if heading:
            text = f"{_TITLE_MARK}{heading}\n" + text
    if not any(c.isalpha() for c in text):
        raise EvidenceError(f"{path}: the file has no text; give a document with some words")
    return text


_TITLE_MARK = "\x00title:"
_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)


def titled(text: str, path: Path | None = None) -> tuple[str, str]:
    """(title, text): the title of an HTML page (its h1 or title), of a
    Markdown file (front matter 'title:' or the first '# ' heading), else the
    first line; YAML front matter is not part of the text."""
    title = ""
    if text.startswith(_TITLE_MARK):
        first, _, text = text.partition("\n")
        title = first[len(_TITLE_MARK):]
    m = _FRONT.match(text)
    if m:
        t = re.search(r"^title:\s*[\"']?(.*?)[\"']?\s*$", m.group(1), re.M)
        title = title or (t.group(1) if t else "")
        text = text[m.end():]
    if not title:
        h = re.search(r"^#\s+(.+)$", text, re.M)
        first = next((x.strip() for x in text.splitlines() if x.strip()), "")
        title = h.group(1).strip() if h else re.sub(r"^[#>*\s]+", "", first)
    return title.strip(), text


_MD_PREFIX = re.compile(r"^\s*(#{1,6}\s+|>\s?|[*+•·▪–-]\s+|\d+\.\s+)")
_SENTENCE_END = re.compile(r"[.!?:\"”’')\]]\s*$")
# spaces a word processor or a PDF writes that are not ' ': 'Creative\u00a0Minds' is no approach for the EntityRuler
_ODD_SPACES = re.compile(r"[\u00a0\u2000-\u200a\u202f\u205f\u3000\t]")
# a line drawn with characters ('+-----+', '=====', '-----  -----' under a table's header) separates
# paragraphs; a box's side ('| text |', '│ text │') is no part of its text
_RULE_LINE = re.compile(r"^[\s+\-=_:|│┃─━┌┐└┘├┤┬┴┼╔╗╚╝║═~*.#]*$")
_BOX_SIDES = re.compile(r"^\s*[|│┃║]\s?|\s*[|│┃║]\s*$")


def _wrap_width(lines: list[str]) -> int:
    """The width a hard-wrapped text was wrapped at (most of its long lines
    end within a few characters of it, and it is at most 100), else 0: a text
    with a paragraph per line has no wrap width."""
    long = sorted(len(x) for x in lines if len(x) >= 40)
    if len(long) < 4:
        return 0
    width = long[int(0.9 * (len(long) - 1))]
    near = sum(width - 20 <= n <= width + 2 for n in long)
    return width if width <= 100 and near >= 0.7 * len(long) else 0


def _wrapped(line: str, following: str, width: int) -> bool:
    """A line broken only because the next word did not fit: a hard wrap in
    the middle of a paragraph, even where the line happens to end a sentence."""
    nxt = following.split(" ", 1)[0]
    return bool(width and nxt and len(line) + 1 + len(nxt) > width)


_GAP = re.compile(r" {2,}|\t+|\s*[|│]\s*")  # columns: spaces, tabs, or a Markdown table's pipes
_NUMBER_CELL = re.compile(r"^[£$€]?\d[\d,.]*\s?%?$")


def _cells(line: str) -> list[str]:
    return [c.strip() for c in _GAP.split(line.strip()) if c.strip()]


def _header(cells: list[str]) -> bool:
    return len(cells) >= 2 and all(len(c) <= 40 and not any(ch.isdigit() for ch in c) and not c.endswith(".") for c in cells)


def _tables(lines: list[str]) -> list[str]:
    """A table's rows as sentences a reader of figures reads: under the header
    'Service  Carers supported  Hours of support', the row 'Carers' breaks  311
    6,220' is 'Carers' breaks: 311 carers supported, 6,220 hours of support.'
    (the numbers alone have no unit). Every row is a paragraph of its own."""
    out: list[str] = []
    header: list[str] | None = None
    for line in lines:
        cells = _cells(line) if _GAP.search(line.strip()) else []
        data = len(cells) >= 2 and any(_NUMBER_CELL.match(c) for c in cells[1:])
        if data and header and len(header) == len(cells):
            row = f"{cells[0]}: " + ", ".join(f"{c} {h[:1].lower() + h[1:]}" for c, h in zip(cells[1:], header[1:])) + "."
            out += ["", row, ""]
        elif data:
            out += ["", "  ".join(cells), ""]
        elif _header(cells):
            header = cells
            out += ["", "  ".join(cells), ""]
        else:
            if line.strip():
                header = None
            out.append(line)
    return out


def _clean_lines(block: str) -> list[str]:
    """A block's lines with a box's sides dropped; a drawn rule becomes a blank line."""
    out = []
    for line in block.split("\n"):
        if _RULE_LINE.match(line):
            out.append("")
            continue
        out.append(_BOX_SIDES.sub("", line).rstrip() if _BOX_SIDES.search(line) else line.rstrip())
    return out


def paragraphs(text: str) -> list[str]:
    """Paragraphs of a text: blocks between blank lines (or drawn rules); inside
    a block, a line ending a sentence (or a short heading) ends a paragraph,
    while hard-wrapped lines are joined (a wrapped line that ends a sentence
    too, when the text has a wrap width). Markdown markers and emphasis, box
    sides and odd spaces are dropped."""
    out: list[str] = []
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ")
    text = _ODD_SPACES.sub(" ", "\n".join(_tables(_clean_lines(text))))
    width = _wrap_width([x.strip() for x in text.split("\n")])
    for block in re.split(r"\n\s*\n", text):
        current: list[str] = []
        lines = [x for x in block.split("\n") if x.strip()]
        # a box or a quoted block has a narrower wrap width of its own
        local = max((len(x.strip()) for x in lines), default=0) if width and len(lines) >= 3 else width
        for n, line in enumerate(lines):
            if _MD_PREFIX.match(line) and current:  # a list item or heading starts a paragraph
                out.append(" ".join(current))
                current = []
            following = lines[n + 1].strip() if n + 1 < len(lines) and not _MD_PREFIX.match(lines[n + 1]) else ""
            line = _MD_PREFIX.sub("", line).strip()
            line = re.sub(r"(\*\*|__|\*|`)", "", line)
            line = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", line)  # [text](url) -> text
            if not line:
                continue
            current.append(line)
            if (_SENTENCE_END.search(line) or len(line) < 60) and not _wrapped(line, following, min(local, width) or width):
                out.append(" ".join(current))
                current = []
        if current:
            out.append(" ".join(current))
    return [piece for p in out if any(c.isalpha() for c in p) for piece in _bounded(p)]


MAX_PARAGRAPH = 10_000  # characters: a text saved as one line (a PDF export) is one "paragraph" otherwise


def _bounded(paragraph: str, limit: int = MAX_PARAGRAPH) -> list[str]:
    """A paragraph over `limit` characters cut into pieces at sentence ends
    (else at spaces, else anywhere), so spaCy never gets a whole document as
    one text (over its max_length it refuses it; below, its memory grows with it)."""
    out: list[str] = []
    rest = paragraph
    while len(rest) > limit:
        window = rest[:limit]
        ends = [m.end() for m in re.finditer(r"[.!?][\"'”’)]*\s", window)]
        cut = ends[-1] if ends else (window.rfind(" ") + 1 or limit)
        out.append(rest[:cut].strip())
        rest = rest[cut:]
    out.append(rest.strip())
    return [p for p in out if p]
