"""Named exceptions. The library raises these; only cli.py turns them into
one-line messages and exit statuses."""
from __future__ import annotations


class EvidenceError(Exception):
    """Something the user can fix. The message says what is wrong and how."""


class ValidationError(EvidenceError):
    """A content file is invalid. Carries the file and line it points at."""

    def __init__(self, path: str, line: int | None, message: str):
        self.path = path
        self.line = line
        # one line, whatever value the message quotes ('block\n' of a YAML block scalar)
        self.message = message = message.replace("\r", "\\r").replace("\n", "\\n")
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}")


class ValidationErrors(EvidenceError):
    """Several content files are invalid; one line per problem."""

    def __init__(self, errors: list[ValidationError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))
