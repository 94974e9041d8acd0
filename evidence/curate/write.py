"""The one way curators' actions change the evidence base: write one content
file, then run the incremental build, under the writer lock."""
from __future__ import annotations

from pathlib import Path

from evidence.build import BuildOptions, BuildSummary, build
from evidence.content.tree import write_atomic


def curator_lock(root: Path, db_path=None, public_path=None):
    """The writer lock over the content tree and both databases' folders."""
    from evidence.store.paths import default_paths
    from evidence.store.lock import writer_lock

    return writer_lock(root, extra=[p.parent for p in default_paths(Path(root), db_path, public_path)])


def write_and_build(root: Path, path: Path, text: str, old_text: str | None, db_path=None, public_path=None,
                    options: BuildOptions | None = None) -> BuildSummary:
    """Write one content file atomically and run the incremental build. If
    the build fails, the file is put back as it was (removed when it is new),
    so the files and both databases agree; if only publishing failed, the
    working database already holds the new records and the file is kept."""
    from evidence.store.publish import PublishError

    write_atomic(path, text)
    try:
        return build(root, db_path, public_path, options=options)
    except PublishError:
        raise  # the working database holds the new file's records: keep the file
    except BaseException:
        if old_text is None:
            path.unlink(missing_ok=True)
        else:
            write_atomic(path, old_text)
        raise


def write_all_and_build(root: Path, changes: list[tuple[Path, str, str | None]], db_path=None, public_path=None,
                        options: BuildOptions | None = None) -> BuildSummary:
    """Write several content files ((path, new text, old text or None when
    new)) and run one incremental build. If writing or the build fails,
    every file is put back as it was (new ones removed), so an import is all
    or nothing; if only publishing failed, the files are kept (the working
    database holds their records)."""
    from evidence.store.publish import PublishError

    done: list[tuple[Path, str | None]] = []
    try:
        for path, text, old in changes:
            write_atomic(path, text)
            done.append((path, old))
        return build(root, db_path, public_path, options=options)
    except PublishError:
        raise
    except BaseException:
        for path, old in reversed(done):
            if old is None:
                path.unlink(missing_ok=True)
            else:
                write_atomic(path, old)
        raise
