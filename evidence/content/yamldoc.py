"""YAML with line numbers: the reader every content file goes through.

`YamlDoc` parses once and finds the line of any key path only when an error
needs it; `Fields` gives typed access to one mapping with errors that name
the file, the line and the field, and a did-you-mean where a value is close.
"""
from __future__ import annotations

import datetime as _dt
import difflib
import math
import re
import unicodedata
from typing import Any

import yaml

from evidence.errors import ValidationError

try:  # the C parser is ~10x faster; fall back where libyaml is missing
    _Base = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Base = yaml.SafeLoader


class InputError(yaml.YAMLError):
    """A value YAML itself accepts but content files refuse (a duplicate key,
    an impossible date), with the line and the key it was found at."""

    def __init__(self, problem: str, mark, key: str | None = None):
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = mark
        self.key = key


class _Loader(_Base):
    """The safe loader, refusing what it would otherwise guess: a key given
    twice in one mapping (the last would win silently), an impossible date
    (2026-13-45), and NaN or infinity."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for key_node, value_node in node.value:
                try:
                    key = self.construct_object(key_node, deep=True)
                    hash(key)
                except (TypeError, ValueError, OverflowError, yaml.constructor.ConstructorError):
                    raise InputError("a mapping key must be plain text", key_node.start_mark) from None
                if key in seen and key_node.tag != "tag:yaml.org,2002:merge":
                    raise InputError(f"key '{key}' appears twice in the same mapping (line {seen[key] + 1} "
                                     "and here); keep one", key_node.start_mark, str(key))
                seen[key] = key_node.start_mark.line
                if isinstance(value_node, yaml.ScalarNode):
                    try:
                        self.construct_object(value_node, deep=deep)
                    except InputError as exc:
                        if exc.key is None:
                            exc.key = str(key)
                            exc.problem = f"'{key}': {exc.problem}"
                        raise
                    except (ValueError, OverflowError, TypeError) as exc:
                        raise InputError(f"'{key}' has the value '{value_node.value[:40]}', which cannot be read "
                                         f"({_reason(exc)})", value_node.start_mark, str(key)) from None
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_float(self, node):
        value = super().construct_yaml_float(node)
        if value != value or value in (float("inf"), float("-inf")):
            raise InputError(f"'{node.value}' is not a finite number; write a number, or null",
                             node.start_mark)
        return value

    def construct_yaml_timestamp(self, node):
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError) as exc:
            raise InputError(f"'{node.value}' is not a real date ({_reason(exc)}); write it as YYYY-MM-DD",
                             node.start_mark) from None


_Loader.add_constructor("tag:yaml.org,2002:float", _Loader.construct_yaml_float)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def _reason(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:80]


def load_yaml(text: str):
    """Parse YAML text with the strict loader (raises yaml.YAMLError)."""
    return yaml.load(text, Loader=_Loader)


def compose_yaml(text: str):
    """The node tree of YAML text (with line marks), from the parser that
    load_yaml uses: the C parser reads what the Python one refuses ('key:' and
    a tab before the value), so a file read by one is composed by the same."""
    return yaml.compose(text, Loader=_Base)


def plain_yaml(text: str):
    """Parse YAML text as yaml.safe_load does, with the C parser where
    libyaml is there (about ten times faster): for the readers that need
    neither line numbers nor the strict checks (an index of ids, names or
    settings). Raises yaml.YAMLError."""
    return yaml.load(text, Loader=_Base)


# Control characters (other than tab, line feed and carriage return) and the
# bidirectional overrides that make text read differently from what it holds.
CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def control_char(text: str) -> str | None:
    """A description of the first control character in `text`, or None."""
    m = CONTROL_RE.search(text)
    return f"U+{ord(m.group(0)):04X}" if m else None


# URL schemes allowed in any URL field (and, by the web layer, in links).
URL_SCHEMES = ("http", "https", "mailto")
_URL_RE = re.compile(r"^(?:https?://[^\s/?#@]+[^\s]*|mailto:[^\s@]+@[^\s@]+)$", re.IGNORECASE)

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


# letters that Unicode decomposition does not turn into ASCII ones
_FOLD = str.maketrans({"ł": "l", "ø": "o", "æ": "ae", "œ": "oe", "ß": "ss", "đ": "d", "ð": "d", "þ": "th", "ı": "i"})


def slugify(text: str) -> str:
    """Lower-case ASCII slug of `text` ('Pearl & the kettle' -> 'pearl-the-kettle');
    accented letters keep their base letter ('Zoë and Łukasz' -> 'zoe-and-lukasz',
    not 'zo-and-ukasz')."""
    text = unicodedata.normalize("NFKD", text.lower().translate(_FOLD))
    text = "".join(c for c in text if not unicodedata.combining(c)).replace("’", "").replace("'", "")
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


class YamlDoc:
    """Parsed YAML plus lazy access to the line of any key path."""

    def __init__(self, path: str, text: str, line_offset: int = 0):
        self.path = path
        self.text = text
        self.line_offset = line_offset
        try:
            self.data = load_yaml(text)
        except InputError as exc:
            line = exc.problem_mark.line + 1 + line_offset if exc.problem_mark else None
            raise ValidationError(path, line, exc.problem) from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 + line_offset if mark else None
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ValidationError(path, line, f"invalid YAML ({problem}); check indentation and quoting") from None
        except RecursionError:
            raise ValidationError(path, None, "YAML nested too deeply; flatten it") from None
        if "&" in text:
            anchor = _anchor_line(text)
            if anchor:
                raise ValidationError(path, anchor + line_offset, "YAML anchors and aliases (&name, *name) are not "
                                      "allowed in content files (a few can expand to billions of values); write each value out")
        self._node = None
        bad = _find_control(self.data, ())
        if bad:
            keys, code = bad
            raise self.error(f"'{'.'.join(str(k) for k in keys) or 'value'}' holds the control character {code}; "
                             "remove it (only tab and line breaks are allowed)", *keys)

    def line(self, *keys: str | int) -> int | None:
        """1-based line of the value at `keys` (or of its nearest existing parent)."""
        if self._node is None:
            try:
                self._node = yaml.compose(self.text, Loader=yaml.SafeLoader)
            except yaml.YAMLError:  # the C loader accepted what the Python one rejects
                return None
        node = self._node
        best = node.start_mark.line if node is not None else 0
        for key in keys:
            if isinstance(node, yaml.MappingNode):
                nxt = None
                for k, v in node.value:
                    if k.value == key:
                        best = k.start_mark.line
                        nxt = v
                        break
                if nxt is None:
                    break
                node = nxt
            elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
                node = node.value[key]
                best = node.start_mark.line
            else:
                break
        return best + 1 + self.line_offset

    def error(self, message: str, *keys: str | int) -> ValidationError:
        return ValidationError(self.path, self.line(*keys) if keys else None, message)


def _find_control(data, keys: tuple):
    """(key path, character) of the first string holding a control character."""
    if isinstance(data, str):
        code = control_char(data)
        return (keys, code) if code else None
    if isinstance(data, dict):
        for k, v in data.items():
            found = _find_control(k, keys) or _find_control(v, keys + (k,))
            if found:
                return found
    elif isinstance(data, list):
        for i, v in enumerate(data):
            found = _find_control(v, keys + (i,))
            if found:
                return found
    return None


def _anchor_line(text: str) -> int | None:
    """1-based line of the first YAML anchor in `text`, if any."""
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if isinstance(token, yaml.AnchorToken):
                return token.start_mark.line + 1
    except yaml.YAMLError:
        return None
    return None


def suggest(word: str, choices: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


_DATE_RE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


class Fields:
    """Typed access to one mapping of a YamlDoc with precise error lines."""

    def __init__(self, doc: YamlDoc, data: Any, keys: tuple, what: str, allowed: tuple[str, ...]):
        self.doc, self.keys, self.what = doc, keys, what
        if not isinstance(data, dict):
            raise doc.error(f"{what} must be a mapping of 'key: value' lines", *keys)
        for k in data:
            if k not in allowed:
                raise doc.error(f"unknown field '{k}' in {what}{suggest(str(k), allowed)}; allowed: {', '.join(allowed)}", *keys, k)
        self.data = data

    def _err(self, key: str, message: str) -> ValidationError:
        return self.doc.error(message, *self.keys, key)

    def str(self, key: str, required: bool = False, default: str = "") -> str:
        value = self.data.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):  # blanks are no value either
            if required:
                raise self._err(key, f"{self.what} needs '{key}'; add a line '{key}: ...'")
            return default
        if isinstance(value, (_dt.date, int, float)) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            raise self._err(key, f"'{key}' in {self.what} must be text, not {type(value).__name__}")
        return value.strip()

    def choice(self, key: str, choices: tuple[str, ...], required: bool = True, default: str = "") -> str:
        value = self.str(key, required=required, default=default)
        if value and value not in choices:
            raise self._err(key, f"'{key}' is '{value}'{suggest(value, choices)}; use one of: {', '.join(choices)}")
        return value

    def slug(self, key: str, required: bool = True) -> str:
        value = self.str(key, required=required)
        if value and not SLUG_RE.match(value):
            raise self._err(key, f"'{key}' is '{value}'; use a lower-case slug such as '{slugify(value) or 'my-id'}'")
        return value

    def date(self, key: str, required: bool = False, partial: bool = False) -> str:
        """A calendar date written YYYY-MM-DD (`partial`: YYYY or YYYY-MM too),
        returned as that text. Only that form: Python's fromisoformat alone
        would also take 20260304 and 2026-W10-3, stored as written, and a
        date with a time would be stored with its time."""
        value = self.data.get(key)
        forms = "YYYY, YYYY-MM or YYYY-MM-DD" if partial else "YYYY-MM-DD"
        if isinstance(value, _dt.datetime):
            raise self._err(key, f"'{key}' is {value}, a date and a time; write the date alone as {forms}")
        if isinstance(value, _dt.date):
            return value.isoformat()
        text = self.str(key, required=required)
        if not text:
            return text
        m = _DATE_RE.fullmatch(text)
        if not m or (not partial and not m.group(3)):
            raise self._err(key, f"'{key}' is '{text[:40]}'; write the date as {forms}")
        year, month, day = int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1)
        try:
            _dt.date(year, month, day)
        except ValueError as exc:
            raise self._err(key, f"'{key}' is '{text}', not a real date ({exc}); write it as {forms}") from None
        return text

    def number(self, key: str, integer: bool = False, low: float = -1e15, high: float = 1e15) -> float | int | None:
        """A number between `low` and `high` (finite; whole when `integer`)."""
        value = self.data.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._err(key, f"'{key}' must be a number (or null), not '{str(value)[:40]}'")
        if isinstance(value, float) and not math.isfinite(value):
            raise self._err(key, f"'{key}' must be a finite number, not {value}")
        if not low <= value <= high:
            raise self._err(key, f"'{key}' is {str(value)[:30]}, outside {low:g} to {high:g}; check the number")
        if integer and not float(value).is_integer():
            raise self._err(key, f"'{key}' must be a whole number, not {value}")
        return int(value) if integer else value

    def url(self, key: str) -> str:
        """A URL with an allowed scheme (http, https or mailto), or ''."""
        value = self.str(key)
        if value and not _URL_RE.match(value):
            raise self._err(key, f"'{key}' is '{value[:60]}'; a URL must start with http://, https:// or mailto: "
                            "and hold no spaces")
        return value

    def str_list(self, key: str) -> list[str]:
        value = self.data.get(key) or []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._err(key, f"'{key}' must be a list of text items")
        return [v.strip() for v in value]


# ---------------------------------------------------------------------------
# Record types


def split_front_matter(path: str, text: str) -> tuple[str, str, int]:
    """Return (yaml text, body, line of the first YAML line) of a Markdown file.
    A byte-order mark before the first '---' (Windows editors write one) is
    not part of it: the build reads such a file, so review, add and extract
    must too."""
    text = text[1:] if text.startswith("\ufeff") else text
    if not text.startswith("---"):
        raise ValidationError(path, 1, "a story starts with '---' then YAML front matter, then '---' and the narrative")
    lines = text.split("\n")
    for i in range(1, len(lines)):
        if lines[i].rstrip() == "---":
            return "\n".join(lines[1:i]), "\n".join(lines[i + 1:]).strip("\n"), 1
    raise ValidationError(path, 1, "front matter is not closed; add a line '---' after the YAML fields")

