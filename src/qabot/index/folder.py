"""The file-system side of an index folder: its locks, read-only data, and old data's clean-up.

Two locks, both `flock` on files in the index folder (so they hold across processes and
threads, and a killed holder releases them): ``.lock``, held briefly while a build commits,
and ``.build.lock``, held by `qabot.index.startup.ensure_index` for the whole of a start-up build so
that processes starting together build once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from qabot.errors import IndexCorruptError, IndexWriteError

# How long a replaced data folder stays on disk: a replica that read the previous manifest
# a moment before the swap must still find its files while it loads them.
DEFAULT_RETAIN_SECONDS = 15 * 60
RETIRED_PREFIX = ".retired-"
# Each data file's size and SHA-256, so that a damaged file is named, not guessed at.
CHECKSUMS_FILE = "checksums.json"


def write_checksums(data_dir: Path) -> None:
    """Record the size and SHA-256 of every file in a staged data folder."""
    sums = {
        path.relative_to(data_dir).as_posix(): _checksum(path)
        for path in sorted(data_dir.rglob("*"))
        if path.is_file()
    }
    (data_dir / CHECKSUMS_FILE).write_text(json.dumps(sums, indent=1), encoding="utf-8")


def verify_checksums(data_dir: Path, index_dir: Path) -> None:
    """Raise `IndexCorruptError` naming the first file that is missing, truncated or changed.

    A data folder without checksums (written by an older qabot) is not checked.
    """
    listing = data_dir / CHECKSUMS_FILE
    if not listing.is_file():
        return
    try:
        sums = json.loads(listing.read_text(encoding="utf-8"))
        expected = {str(name): (int(size), str(digest)) for name, (size, digest) in sums.items()}
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise IndexCorruptError(
            f"Index file {str(listing)!r} is unreadable ({exc}).", index_dir
        ) from exc
    for name, (size, digest) in expected.items():
        path = data_dir / name
        try:
            actual = _checksum(path)
        except OSError as exc:
            raise IndexCorruptError(
                f"Index file {str(path)!r} cannot be read ({exc.strerror}).", index_dir
            ) from exc
        if actual[0] != size:
            raise IndexCorruptError(
                f"Index file {str(path)!r} is truncated or damaged: {actual[0]} bytes, not {size}.",
                index_dir,
            )
        if actual[1] != digest:
            raise IndexCorruptError(f"Index file {str(path)!r} is damaged (checksum).", index_dir)


def _checksum(path: Path) -> tuple[int, str]:
    with open(path, "rb") as file:
        return path.stat().st_size, hashlib.file_digest(file, "sha256").hexdigest()


def make_read_only(directory: Path) -> None:
    """Make a finished data folder's files read-only and the folder readable by all."""
    for path in directory.rglob("*"):
        path.chmod(0o444 if path.is_file() else 0o555)
    directory.chmod(0o755)  # mkdtemp makes it private; replicas and other users must read it


def make_index_folder(index_dir: Path) -> None:
    """Create the index folder (and its parents) when missing.

    Raises:
        IndexWriteError: the path is a file, or cannot be created; the message says which.
    """
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise IndexWriteError(
            f"Index folder {str(index_dir)!r} is a file, not a folder: pass another --index-dir."
        ) from None
    except OSError as exc:
        raise IndexWriteError(
            f"Index folder {str(index_dir)!r} cannot be created ({exc.strerror or exc})."
        ) from exc


@contextlib.contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Held by `ensure_index` while it builds; separate from the commit lock (held briefly)."""
    make_index_folder(index_dir)
    with _file_lock(index_dir / ".build.lock"):
        yield


@contextlib.contextmanager
def commit_lock(index_dir: Path) -> Iterator[None]:
    """Held while a build renames its data in, swaps the manifest and retires old data."""
    with _file_lock(index_dir / ".lock"):
        yield


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def retire_old_data(
    index_dir: Path, keep: str, retain_seconds: float, stale_after: float = 24 * 3600
) -> None:
    """Retire the data folders ``keep`` replaced; remove those retired over the grace period."""
    now = time.time()
    for old in index_dir.glob("data-*"):
        if old.name == keep or not old.is_dir():
            continue
        # A marker's mtime says when its folder stopped being current (a folder's own mtime
        # is not reliable: renames and chmods touch it).
        marker = index_dir / f"{RETIRED_PREFIX}{old.name}"
        if not marker.exists():
            marker.touch()
        elif now - marker.stat().st_mtime >= retain_seconds:
            remove_tree(old)
            marker.unlink(missing_ok=True)
    for marker in index_dir.glob(f"{RETIRED_PREFIX}*"):
        if not (index_dir / marker.name.removeprefix(RETIRED_PREFIX)).exists():
            marker.unlink(missing_ok=True)
    # Staging folders of builds killed mid-way; a day's wait spares any build still running.
    for staging in index_dir.glob(".data-*"):
        if staging.is_dir() and now - staging.stat().st_mtime > stale_after:
            remove_tree(staging)


def remove_tree(path: Path) -> None:
    """Remove a folder, read-only parts included."""
    for part in [path, *path.rglob("*")]:
        if part.is_dir():
            part.chmod(0o755)  # read-only folders cannot be emptied by a non-root user
    shutil.rmtree(path, ignore_errors=True)
