"""Where the working and public databases live by default."""
from __future__ import annotations

from pathlib import Path


def default_paths(root: Path, db_path: str | Path | None, public_path: str | Path | None) -> tuple[Path, Path]:
    """(working db, public db): the given paths, or evidence.db and public.db under `root`."""
    root = Path(root)
    return (Path(db_path) if db_path else root / "evidence.db",
            Path(public_path) if public_path else root / "public.db")
