"""One SQL call cannot hold the server.

Datasette's time limit stops a query between steps of SQLite's virtual
machine; it cannot stop one function call that runs for minutes. Every
connection the server opens is therefore guarded (`guard`):

- SQLite's length limit (`MAX_LENGTH`): no string, blob or row a query makes
  may exceed 10 MB, so `hex(zeroblob(150000000))` or `randomblob(3e8)` fail
  at once with "string or blob too big" instead of holding a thread and
  gigabytes. The pattern of LIKE and GLOB is capped too (`MAX_PATTERN`),
  since matching is about text length x pattern length.
- SQLite's instr(), replace() and trim()/ltrim()/rtrim() compare naively:
  a 10 MB text and a 5 MB needle take hours inside one call. They are
  replaced, on these connections, by versions with the same results that
  run in linear time (Python's string search), refusing a result over the
  length limit before building it.
- printf()/format() with a huge width or precision (`printf('%.*c',
  400000000, 'x')`) loops for seconds before the length limit stops it:
  widths and precisions over `MAX_WIDTH` are refused; the rest is SQLite's
  own printf, run on a private in-memory connection.
"""
from __future__ import annotations

import re
import sqlite3
import threading

# the longest string, blob or row a query may make: far above any value in
# public.db (a story's narrative is at most a few MB), far below what hurts
MAX_LENGTH = 10_000_000
MAX_PATTERN = 1_000
MAX_WIDTH = 100_000

_local = threading.local()


def _helper() -> sqlite3.Connection:
    """A private in-memory connection with SQLite's own functions, per thread."""
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = _local.conn = sqlite3.connect(":memory:", check_same_thread=False)
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_LENGTH)
    return conn


def _builtin(name: str, *args):
    """SQLite's own function `name` on these (small) arguments."""
    return _helper().execute(f"SELECT {name}({', '.join('?' * len(args))})", args).fetchone()[0]


def _text(value) -> str:
    """A value as SQLite would read it as text."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return _helper().execute("SELECT CAST(? AS TEXT)", [value]).fetchone()[0]


def _too_big() -> OverflowError:
    return OverflowError("string or blob too big")  # Python's sqlite3 reports it as SQLite's own error


def instr(haystack, needle):
    if haystack is None or needle is None:
        return None
    if isinstance(haystack, bytes) and isinstance(needle, bytes):
        return haystack.find(needle) + 1
    return _text(haystack).find(_text(needle)) + 1


def replace(text, old, new):
    if text is None or old is None or new is None:
        return None
    text, old, new = _text(text), _text(old), _text(new)
    if old == "":
        return text
    count = text.count(old)
    if count and len(text) + count * (len(new) - len(old)) > MAX_LENGTH:
        raise _too_big()
    return text.replace(old, new)


def _trimmer(left: bool, right: bool):
    def trim(text, chars=" "):
        if text is None or chars is None:
            return None
        text, chars = _text(text), _text(chars)
        keep = set(chars)
        if len(keep) <= 64:  # str.strip is fast for a few characters (and quadratic for many)
            chars = "".join(keep)
            return text.strip(chars) if left and right else text.lstrip(chars) if left else text.rstrip(chars)
        start, end = 0, len(text)
        if left:
            while start < end and text[start] in keep:
                start += 1
        if right:
            while end > start and text[end - 1] in keep:
                end -= 1
        return text[start:end]
    return trim


_SPEC = re.compile(r"%([-+ 0#,!]*)(\*|\d+)?(?:\.(\*|\d+))?(ll|l)?([a-zA-Z%])")


def printf(fmt=None, *args):
    """SQLite's printf, refusing widths and precisions over MAX_WIDTH."""
    if fmt is None:
        return None
    text = _text(fmt)
    i = 0
    for m in _SPEC.finditer(text):
        if m.group(5) == "%":
            continue
        for part in (m.group(2), m.group(3)):
            if part == "*":
                value = args[i] if i < len(args) else 0
                i += 1
                try:
                    number = abs(int(float(_text(value)))) if value is not None else 0
                except (ValueError, OverflowError):
                    number = 0
            else:
                number = int(part) if part else 0
            if number > MAX_WIDTH:
                raise _too_big()  # reported as SQLite's "string or blob too big"
        i += 1  # the value itself
    return _builtin("printf", text, *args)


def guard(conn: sqlite3.Connection) -> sqlite3.Connection:
    """Apply every limit above to `conn` (see the module docstring)."""
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_LENGTH)
    conn.setlimit(sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH, MAX_PATTERN)
    det = {"deterministic": True}
    conn.create_function("instr", 2, instr, **det)
    conn.create_function("replace", 3, replace, **det)
    for name, left, right in (("trim", True, True), ("ltrim", True, False), ("rtrim", False, True)):
        fn = _trimmer(left, right)
        conn.create_function(name, 1, fn, **det)
        conn.create_function(name, 2, fn, **det)
    for name in ("printf", "format"):
        conn.create_function(name, -1, printf, **det)
    return conn
