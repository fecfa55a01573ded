"""Writing an index folder safely: read-only data, one commit at a time, old data cleared."""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import time
from collections.abc import Iterator
from pathlib import Path


def make_read_only(directory: Path) -> None:
    """Make a finished data folder's files read-only (the folder itself stays readable)."""
    for path in directory.rglob("*"):
        path.chmod(0o444 if path.is_file() else 0o555)
    directory.chmod(0o755)  # mkdtemp makes it private; replicas and other users must read it


@contextlib.contextmanager
def commit_lock(index_dir: Path) -> Iterator[None]:
    """Hold the index folder's lock: one build commits at a time."""
    with open(index_dir / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def remove_old_data(index_dir: Path, keep: str, stale_after: float = 24 * 3600) -> None:
    """Remove every data folder but ``keep``, and staging folders older than ``stale_after`` s."""
    for old in index_dir.glob("data-*"):
        if old.name != keep and old.is_dir():
            remove_tree(old)
    # Staging folders of builds killed mid-way; a day's wait spares any build still running.
    for staging in index_dir.glob(".data-*"):
        if staging.is_dir() and time.time() - staging.stat().st_mtime > stale_after:
            remove_tree(staging)


def remove_tree(path: Path) -> None:
    """Remove a folder, read-only parts included."""
    for part in [path, *path.rglob("*")]:
        if part.is_dir():
            part.chmod(0o755)  # read-only folders cannot be emptied by a non-root user
    shutil.rmtree(path, ignore_errors=True)
