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
# an image's caption repeats the story beside it and credits a photographer; a button or a form is the page's;
# a navigation bar is not the article
_SKIP_TAGS = {"script", "style", "head", "noscript", "template", "figcaption", "button", "select", "form", "nav"}
# nor a page's sidebar: an aside outside the article (inside it, an aside is a fact box or a case study), or
# an element a site names as a sidebar, related-stories teasers (which name other people), a breadcrumb or a
# cookie banner (a class or id word that starts so: 'related-stories', 'sidebar', not 'has-sidebar')
_ASIDE_CLASS = re.compile(r"^(related|sidebar|side-bar|breadcrumbs?|cookies?|teasers?|more-stories|share|sharing|"
                          r"social-share|newsletter-signup)(?:$|[_-])", re.I)
_VOID_TAGS = {"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "source", "track", "wbr"}
_CELL_TAGS = {"td", "th"}


class _TextParser(HTMLParser):
    """Collects the visible text; block elements become paragraph breaks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        # open elements, the language each declares (None: none; the innermost declared one is the
        # text's; a page's own lang, on html or body, is a template's default, not the paragraph's) and
        # whether its text is left out (a script, the navigation, a sidebar)
        self._open: list[tuple[str, str | None, bool]] = []

    @property
    def _skip(self) -> bool:
        return any(skip for _, _, skip in self._open)

    @property
    def other_language(self) -> bool:
        """Inside an element that declares a language other than English ('<p lang="cy">')."""
        lang = next((x for _, x, _ in reversed(self._open) if x is not None), "")
        return bool(lang) and not lang.startswith("en")

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag not in _VOID_TAGS:
            a = dict(attrs)
            lang = (a.get("lang") or "").strip().lower() or None
            in_article = any(t in ("article", "main") for t, _, _ in self._open)
            names = f"{a.get('class') or ''} {a.get('id') or ''}".split()
            skip = tag in _SKIP_TAGS or (tag == "aside" and not in_article) or (
                tag not in ("html", "body", "main", "article") and any(_ASIDE_CLASS.match(x) for x in names))
            self._open.append((tag, None if tag in ("html", "body", "head") else lang, skip))
        if tag in _BLOCK_TAGS | _SKIP_TAGS:
            self.parts.append("\n\n")
        elif tag in _CELL_TAGS:
            self.parts.append(_CELL_SEP)  # a table's cells stay apart, as a plain-text table writes them

    def handle_endtag(self, tag: str) -> None:
        if tag not in _VOID_TAGS and any(t == tag for t, _, _ in self._open):
            while self._open:  # close what HTML leaves open ('<li>' without '</li>') up to this element
                if self._open.pop()[0] == tag:
                    break
        if tag in _BLOCK_TAGS | _SKIP_TAGS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skip and not self.other_language:
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


# a column that is a time or a benchmark, not a measure: 'Q1', '2024/25', 'Year 2', 'Target', 'Baseline'
_PERIOD_CELL = re.compile(r"^(?:Q[1-4]|Quarter [1-4]|(?:19|20)\d\d(?:\s*[-/–]\s*\d{2,4})?|(?:Year|Month|Wave|Phase) \d+|"
                          r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*(?: \d{2,4})?|Target|Baseline|Actual|"
                          r"Total|Change|Last year|This year|Previous year|YTD|Year to date|Forecast|Plan)$", re.I)


def _period_header(cells: list[str]) -> bool:
    """A header whose columns are periods ('Measure | Q1 | Q2 | Target'): each
    row's label, not the column, says what is counted."""
    return len(cells) >= 2 and not any(ch.isdigit() for ch in cells[0]) and all(_PERIOD_CELL.match(c) for c in cells[1:])


def _tables(lines: list[str]) -> list[str]:
    """A table's rows as sentences a reader of figures reads: under the header
    'Service  Carers supported  Hours of support', the row 'Carers' breaks  311
    6,220' is 'Carers' breaks: 311 carers supported, 6,220 hours of support.'
    (the numbers alone have no unit). Every row is a paragraph of its own."""
    out: list[str] = []
    header: list[str] | None = None
    periods = False
    for line in lines:
        cells = _cells(line) if _GAP.search(line.strip()) else []
        data = len(cells) >= 2 and any(_NUMBER_CELL.match(c) for c in cells[1:])
        if _period_header(cells) and not any(_NUMBER_CELL.match(c) for c in cells[1:]) or \
                (len(cells) >= 3 and not any(ch.isdigit() for ch in cells[0])
                 and all(re.match(r"^(?:19|20)\d\d(?:\s*[-/–]\s*\d{2,4})?$", c) for c in cells[1:])):
            header, periods = cells, True  # 'Measure  Q1  Q2  Target', 'Service  2023  2024'
            out += ["", "  ".join(cells), ""]
        elif data and header and periods and len(header) == len(cells):
            # 'Referrals received | 176 | 214': '176 referrals received (Q1), 214 referrals received (Q2)'
            what = cells[0][:1].lower() + cells[0][1:]
            row = f"{cells[0]}: " + ", ".join(f"{c} {what} ({h})" for c, h in zip(cells[1:], header[1:])
                                              if _NUMBER_CELL.match(c)) + "."
            out += ["", row, ""]
        elif data and header and len(header) == len(cells):
            row = f"{cells[0]}: " + ", ".join(f"{c} {h[:1].lower() + h[1:]}" for c, h in zip(cells[1:], header[1:])
                                              if _NUMBER_CELL.match(c)) + "."  # an empty cell ('-') says nothing
            out += ["", row, ""]
        elif data:
            out += ["", "  ".join(cells), ""]
        elif _header(cells):
            header, periods = cells, False
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


# a word processor's marks exported with the text: tracked changes and comments as pandoc writes them
# ('[old words]{.deletion author=...}', '[new words]{.insertion ...}', '[note]{.comment-start ...}') and
# Word's comment anchors ('Hicks.[MH1]'), with the comments listed at the foot ('[MH1]Morwenna Hicks: ...')
_DELETION = re.compile(r"\[[^\[\]]*\]\{\.(?:deletion|comment-start|comment-end)\b[^{}]*\}")
_INSERTION = re.compile(r"\[([^\[\]]*)\]\{\.(?:insertion|paragraph-insertion)\b[^{}]*\}")
_ANCHOR = r"\[[A-Z]{1,4}\d{1,3}\]"
_COMMENT_LINE = re.compile(rf"^\s*{_ANCHOR}.*$", re.M)


def _unmarked(text: str) -> str:
    """The text as the document now reads: deletions and comments out, insertions in."""
    text = _DELETION.sub("", text)
    text = _INSERTION.sub(r"\1", text)
    text = _COMMENT_LINE.sub("", text)
    return re.sub(_ANCHOR, "", text)


# a PDF's page furniture: a page number alone ('Page 6', '6 of 12', '- 6 -') and a running header or
# footer, a line the document repeats with only its numbers changed ('Annual Report 2024-25    Page 6')
_PAGE_NUMBER = re.compile(r"^\s*(?:(?:page|p\.)\s*\d+(?:\s*(?:of|/)\s*\d+)?|\d+\s*(?:of|/)\s*\d+|[-–]\s*\d+\s*[-–])\s*$", re.I)


def _page_furniture(lines: list[str]) -> set[str]:
    """Lines repeated as a running header or footer: twice or more (numbers
    aside), with a number or a gap of columns in them, and no sentence end."""
    def key(line: str) -> str:
        return re.sub(r"\s+", " ", re.sub(r"\d+", "#", line.strip()))

    counts: dict[str, int] = {}
    for line in lines:
        if line.strip():
            counts[key(line)] = counts.get(key(line), 0) + 1
    return {line for line in lines if line.strip() and counts[key(line)] >= 2 and len(line.strip()) <= 120
            and (re.search(r"\d", line) or re.search(r"\S {3,}\S", line.strip()))
            and not _SENTENCE_END.search(line) and sum(c.isalpha() for c in line) >= 4}


# a word hyphenated at a line's end ('arrange-' / 'ments'): one word, unless its first part is a word
# that makes compounds ('long-' / 'term') or the document writes the word with its hyphen elsewhere
_COMPOUND_FIRST = {"self", "well", "long", "short", "non", "co", "ex", "part", "full", "half", "one", "two", "three",
                   "four", "five", "six", "seven", "eight", "nine", "ten", "first", "second", "third", "day", "night",
                   "year", "week", "month", "high", "low", "multi", "anti", "pre", "post", "cross", "face", "mid",
                   "all", "life", "time", "home", "family", "person", "community", "user", "peer", "small", "large",
                   "older", "young", "hard", "good", "child", "age", "over", "under", "out", "top", "end", "re"}
_HYPHEN_END = re.compile(r"(\w+)-$")


def _dehyphenated(text: str) -> str:
    """Lines ending in a word hyphenated across the break get the word whole."""
    low = text.lower()
    lines = text.split("\n")
    out: list[str] = []
    k = 0
    while k < len(lines):
        line = lines[k].rstrip()
        m = _HYPHEN_END.search(line)
        nxt = lines[k + 1].strip() if k + 1 < len(lines) else ""
        if m and nxt[:1].islower() and not line.lstrip().startswith(("-", "*")):
            word, rest = (nxt.split(None, 1) + [""])[:2]
            a, b = m.group(1), re.match(r"\w+", word).group(0) if re.match(r"\w+", word) else word
            joined = f"{a}-{word}" if a.lower() in _COMPOUND_FIRST or f"{a}-{b}".lower() in low else f"{a}{word}"
            out.append(line[: m.start()] + joined)
            if rest:
                lines[k + 1] = rest
                k += 1
            else:
                k += 2
            continue
        out.append(lines[k])
        k += 1
    return "\n".join(out)


def _other_language(paragraph: str) -> bool:
    """A sentence or more in Welsh or Gaelic (the other half of a bilingual
    page): six words or more, none of English's commonest words, and two of
    the other language's own (a table's row 'Referrals received: 176 ...' has
    neither)."""
    words = set(re.findall(r"[^\W\d_]+", paragraph.lower()))
    return len(words) >= 6 and not words & _ENGLISH and len(words & _CELTIC) >= 2


# function words of Welsh and of Scottish and Irish Gaelic that English does not write
_CELTIC = {"yn", "yr", "ac", "ei", "eu", "gyda", "mae", "roedd", "wedi", "bod", "ddim", "fel", "ond", "hefyd", "gan",
           "ein", "eich", "hyn", "hwn", "sydd", "bydd", "nhw", "ni", "chi", "ar", "dros", "rydym", "ydy", "oedd",
           "agus", "tha", "bha", "ann", "aig", "gu", "leis", "seo", "sin", "bhi", "ag", "nach", "agam"}


_ENGLISH = {"the", "and", "of", "is", "was", "are", "were", "he", "she", "his", "her", "they", "we", "our", "you",
            "for", "with", "that", "this", "have", "has", "had", "on", "by", "from", "it", "in", "not", "be", "will",
            "who", "what", "my", "me", "there", "as", "but", "or", "so", "if", "to", "can", "said", "says", "their",
            "them", "him", "its", "been", "do", "does", "did", "all", "about", "when", "would", "which", "your"}


def _page_breaks_joined(blocks: list[str]) -> list[str]:
    """A paragraph broken by a page's end (its footer gone, blank lines left):
    a block whose last line is prose without a sentence end, followed by one
    that starts in lower case, is one paragraph."""
    out: list[str] = []
    for block in blocks:
        last = out[-1].rstrip().rsplit("\n", 1)[-1].strip() if out else ""
        if last and len(last) >= 40 and not _SENTENCE_END.search(last) and block.strip()[:1].islower():
            out[-1] = out[-1].rstrip() + "\n" + block.strip()
        else:
            out.append(block)
    return out


def _prose(part: str) -> bool:
    words = re.findall(r"[A-Za-z][a-z'’-]*", part)
    return len(words) >= 3 and sum(c.isdigit() for c in part) <= len(part) // 8


def _two_columns(text: str) -> str:
    """A page laid out in two columns and exported line by line (pdftotext
    -layout) interleaves them: 'Nadia Hussain is 67 and lives in Rochdale.
    "I feel like myself again," Nadia says.' The lines where the right
    column starts at one position after a gap, with prose on both sides,
    are read as the left column and then the right one."""
    lines = text.split("\n")
    starts: dict[int, int] = {}
    for line in lines:
        for m in re.finditer(r"\S {3,}(?=\S)", line):
            starts[m.end()] = starts.get(m.end(), 0) + 1
    for x, count in sorted(starts.items(), key=lambda kv: -kv[1]):
        if count < 4:
            break

        def split(line: str) -> tuple[str, str] | None:
            """(left, right) of a line in the columns' run, or None where the run ends."""
            if not line.strip() or len(line.rstrip()) <= x - 2:
                return line.rstrip(), ""
            if len(line) > x and line[x - 2: x] == "  " and line[x] != " ":
                return line[:x].rstrip(), line[x:].rstrip()
            return None

        out: list[str] = []
        k, changed = 0, False
        while k < len(lines):
            run: list[tuple[str, str]] = []
            j = k
            while j < len(lines) and split(lines[j]) is not None:
                run.append(split(lines[j]))
                j += 1
            both = [(a, b) for a, b in run if a.strip() and b.strip()]
            if len(both) >= 4 and sum(_prose(a) and _prose(b) for a, b in both) >= 0.75 * len(both) \
                    and sum(len(a.strip()) >= 25 for a, _ in both) >= 0.75 * len(both):
                out += [a for a, _ in run] + [""] + [b for _, b in run]
                changed = True
            else:
                out += lines[k:j]
            if j < len(lines):
                out.append(lines[j])
            k = j + 1
        if changed:
            return "\n".join(out)
    return text


def paragraphs(text: str) -> list[str]:
    """Paragraphs of a text: blocks between blank lines (or drawn rules); inside
    a block, a line ending a sentence (or a short heading) ends a paragraph,
    while hard-wrapped lines are joined (a wrapped line that ends a sentence
    too, when the text has a wrap width). Markdown markers and emphasis, box
    sides and odd spaces are dropped; so are a word processor's tracked
    changes and comments, a PDF's page numbers and running headers, and
    paragraphs in another language; a word hyphenated at a line's end is
    joined, and a paragraph broken by a page's end is one."""
    out: list[str] = []
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ")
    text = _unmarked(text)
    lines = text.split("\n")
    furniture = _page_furniture(lines)
    text = "\n".join("" if (x in furniture or _PAGE_NUMBER.match(x)) else x for x in lines)
    text = _dehyphenated(_two_columns(text))
    text = _ODD_SPACES.sub(" ", "\n".join(_tables(_clean_lines(text))))
    width = _wrap_width([x.strip() for x in text.split("\n")])
    for block in _page_breaks_joined(re.split(r"\n\s*\n", text)):
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
            line = _IMAGE.sub(_IMAGE_MARK, line)  # an image's alt text is no text (its mark drops its caption)
            line = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", line)  # [text](url) -> text
            if not line:
                continue
            current.append(line)
            # a short line is a heading or a list's line, unless the next goes on in lower case (a line
            # broken after 'service,' in a narrow column or a de-hyphenated word)
            short = len(line) < 60 and not (following[:1].islower() and not _SENTENCE_END.search(line))
            if (_SENTENCE_END.search(line) or short) and not _wrapped(line, following, min(local, width) or width):
                out.append(" ".join(current))
                current = []
        if current:
            out.append(" ".join(current))
    out = [p for p in out if any(c.isalpha() for c in p) and not _other_language(p)]
    return [piece for p in _without_repeats_and_captions(out) for piece in _bounded(p)]


_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_IMAGE_MARK = "\x00image\x00"
# a photographer's credit ('... in the garden. Photo: Tom Reddy', 'Picture: Jane Lee/Echo')
_CREDIT = re.compile(r"\b(?:Photo|Photograph|Picture|Image|Credit|Photography)\s*(?:by|:)\s*[A-Z][\w.'’ -]{1,40}\W*$")
_QUOTE_MARK = re.compile(r"^\s*[\"“‘']")


def _without_repeats_and_captions(paras: list[str]) -> list[str]:
    """Leave out a pull quote, a quote the page repeats from the story ('"I'd be in bed by seven..."'
    set apart in the middle of it), an image ('![Photo of Ivor](...)') and the caption under it,
    and a photographer's credit: none is a paragraph of the story."""
    keyed = [re.sub(r"[^\w ]", "", p.lower()).split() for p in paras]
    flat = [" ".join(k) for k in keyed]
    out: list[str] = []
    after_image = False
    for n, p in enumerate(paras):
        image = _IMAGE_MARK in p
        rest = p.replace(_IMAGE_MARK, "").strip()
        if image and not any(c.isalpha() for c in rest):
            after_image = True
            continue
        if after_image and len(p) < 200 and not re.search(r"[.!?][\"”’)]*\s+[A-Z]", p.strip()[:-1]) or _CREDIT.search(p):
            after_image = False  # the caption under an image (one sentence), or a credit
            continue
        after_image = False
        if _QUOTE_MARK.match(p) and len(flat[n]) >= 25 and any(
                j != n and len(flat[j]) > len(flat[n]) and flat[n] in flat[j] for j in range(len(paras))):
            continue  # a pull quote: its words are a longer paragraph's
        out.append(rest if image else p)
    return [p for p in out if p]


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
