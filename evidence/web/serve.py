"""Serve: the Datasette command line for the public database, with safe
settings (see README, "Serving safely")."""
from __future__ import annotations

import sys
from pathlib import Path

from evidence.errors import EvidenceError
from evidence.store.publish import check_public

# Safe defaults: SQL is allowed (the public database holds only public data)
# but time-limited and row-capped (and CSV streaming, which would bypass the
# cap, is off); no whole-database download; no SQL trace (?_trace=1) or
# template context (?_context=1); a short cache lifetime so a withdrawn story
# does not linger in caches (the plugin also caps ?_ttl= at this value).
# Suggested facets are off: they ran a query per column on every table page
# view (0.7 s of a 1 s page at 10,000 stories); the configured facets stay.
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
    "suggest_facets": "off",
}


def datasette_args(root: Path, public: Path | None, metadata: Path | None, port: int,
                   *, host: str = "127.0.0.1") -> list[str]:
    """The argv that runs `datasette serve` on the public database."""
    root = Path(root)
    public = Path(public) if public else root / "public.db"
    metadata = Path(metadata) if metadata else root / "metadata.yml"
    check_public(public)  # a damaged file is one line here, not a traceback from datasette
    if not metadata.exists():
        raise EvidenceError(f"{metadata} does not exist; pass --metadata FILE")
    if not (0 < port < 65536):
        raise EvidenceError(f"port {port} is out of range; pass --port between 1 and 65535")
    args = [sys.executable, "-m", "datasette", "serve", "-i", str(public), "--metadata", str(metadata),
            "-h", host, "-p", str(port)]
    for key, value in SETTINGS.items():
        args += ["--setting", key, value]
    return args


# ---------------------------------------------------------------------------
# Several worker processes (evidence serve --workers N): `datasette serve`
# runs one process, so one core renders every page. With N > 1 the same
# Datasette (same database, metadata, settings and plugin) runs under
# uvicorn's process manager, built in each worker by `asgi_app()`.

ENV_PUBLIC, ENV_METADATA = "EVIDENCE_SERVE_PUBLIC", "EVIDENCE_SERVE_METADATA"


def typed_settings() -> dict:
    """SETTINGS as Datasette(settings=...) wants them (ints and booleans)."""
    return {k: (v == "on") if v in ("on", "off") else int(v) for k, v in SETTINGS.items()}


def asgi_app():
    """ASGI app factory for `uvicorn --factory evidence.web.serve:asgi_app`: the
    public database (immutable) from $EVIDENCE_SERVE_PUBLIC with the metadata
    from $EVIDENCE_SERVE_METADATA and the safe settings."""
    import os

    from datasette.app import Datasette
    from datasette.utils import parse_metadata

    metadata = parse_metadata(Path(os.environ[ENV_METADATA]).read_text(encoding="utf-8"))
    ds = Datasette(immutables=[os.environ[ENV_PUBLIC]], metadata=metadata, settings=typed_settings())
    return ds.app()


def uvicorn_args(root: Path, public: Path | None, metadata: Path | None, port: int, workers: int,
                 *, host: str = "127.0.0.1") -> tuple[list[str], dict[str, str]]:
    """(argv, extra environment) that serve the public database with `workers` processes."""
    args = datasette_args(root, public, metadata, port, host=host)  # the same checks
    if not 1 < workers <= 16:
        raise EvidenceError(f"--workers {workers} is out of range; use 2 to 16 (1 runs plain datasette serve)")
    env = {ENV_PUBLIC: args[args.index("-i") + 1], ENV_METADATA: args[args.index("--metadata") + 1]}
    return ([sys.executable, "-m", "uvicorn", "--factory", "evidence.web.serve:asgi_app", "--host", host,
             "--port", str(port), "--workers", str(workers), "--lifespan", "on", "--no-access-log"], env)
