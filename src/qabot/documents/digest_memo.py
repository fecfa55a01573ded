"""Corpus files' digests remembered by size and mtime, so a freshness check need not re-read them.

`qabot.documents.corpus.corpus_fingerprint` hashes every byte of the corpus; `ask` and `serve` check
that fingerprint at each start. With a memo, a file whose size and mtime are those recorded is
taken at its recorded digest, and only new or touched files are read. The content hash stays
the tie-breaker: a file modified within `RACY_SECONDS` of when its digest was recorded could
have changed again without its mtime moving (coarse file-system clocks), so its entry is not
trusted and it is hashed again (git's "racy clean" rule).
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

from qabot.atomic import write_json_atomic
from qabot.documents.files import corpus_fingerprint, file_digest

MEMO_FILE = "corpus-files.json"
RACY_SECONDS = 2.0


class DigestMemo:
    """File digests by path, size and mtime, read from and saved to one JSON file.

    An unreadable memo is an empty one: it only costs hashing the files again.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._entries: dict[str, list] = {}
        self._changed = False
        with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self._entries = {str(k): list(v) for k, v in data.items() if len(v) == 4}

    def digest(self, file: Path) -> bytes:
        """The file's SHA-256: remembered when its size and mtime match a settled entry."""
        try:
            stat = file.stat()
        except OSError:
            return file_digest(file)
        key = str(file)  # corpus files come from a resolved corpus path already
        entry = self._entries.get(key)
        if entry is not None:
            size, mtime_ns, recorded, digest = entry
            settled = recorded - mtime_ns / 1e9 > RACY_SECONDS
            if settled and size == stat.st_size and mtime_ns == stat.st_mtime_ns:
                return bytes.fromhex(digest)
        digest = file_digest(file)
        self._entries[key] = [stat.st_size, stat.st_mtime_ns, time.time(), digest.hex()]
        self._changed = True
        return digest

    def save(self) -> None:
        """Write the memo if it changed; a memo that cannot be written is skipped."""
        if self._changed:
            with contextlib.suppress(OSError):
                write_json_atomic(self.path, self._entries)
            self._changed = False


def remembered_fingerprint(
    corpus_path: Path | str, memo_path: Path | str, *, follow_symlinks: bool = False
) -> str:
    """`corpus_fingerprint` of ``corpus_path``, reading only files the memo cannot vouch for."""
    memo = DigestMemo(memo_path)
    fingerprint = corpus_fingerprint(
        Path(corpus_path), digest=memo.digest, follow_symlinks=follow_symlinks
    )
    memo.save()
    return fingerprint


def memo_path(index_dir: Path | str, cache_dir: str) -> Path | None:
    """Where an index keeps its corpus-file memo: in its cache folder (None without one)."""
    return Path(index_dir) / cache_dir / MEMO_FILE if cache_dir else None
