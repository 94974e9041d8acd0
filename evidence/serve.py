"""Serve: the Datasette command line for the public database, with safe
settings (see README, "Serving safely")."""
from __future__ import annotations

import sys
from pathlib import Path

from .errors import EvidenceError

# Safe defaults: SQL is allowed (the public database holds only public data)
# but time-limited and row-capped (and CSV streaming, which would bypass the
# cap, is off); no whole-database download; no SQL trace (?_trace=1) or
# template context (?_context=1); a short cache lifetime so a withdrawn story
# does not linger in caches (the plugin also caps ?_ttl= at this value).
SETTINGS = {
    "sql_time_limit_ms": "1000",
    "max_returned_rows": "1000",
    "allow_csv_stream": "off",
    "allow_download": "off",
    "default_cache_ttl": "60",
    "facet_time_limit_ms": "500",
    "num_sql_threads": "3",
    "trace_debug": "off",
    "template_debug": "off",
}


def datasette_args(root: Path, public: Path | None, metadata: Path | None, port: int,
                   *, host: str = "127.0.0.1") -> list[str]:
    """The argv that runs `datasette serve` on the public database."""
    root = Path(root)
    public = Path(public) if public else root / "public.db"
    metadata = Path(metadata) if metadata else root / "metadata.yml"
    if not public.exists():
        raise EvidenceError(f"{public} does not exist; run 'evidence build' first")
    if not metadata.exists():
        raise EvidenceError(f"{metadata} does not exist; pass --metadata FILE")
    if not (0 < port < 65536):
        raise EvidenceError(f"port {port} is out of range; pass --port between 1 and 65535")
    args = [sys.executable, "-m", "datasette", "serve", "-i", str(public), "--metadata", str(metadata),
            "-h", host, "-p", str(port)]
    for key, value in SETTINGS.items():
        args += ["--setting", key, value]
    return args
