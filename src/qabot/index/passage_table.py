"""A loaded index's passages, read from ``passages.jsonl`` when they are asked for.

An index may hold a million passages. As Python objects they cost about 2 KB each (2 GB at a
million: bench/results/scale.md), yet a question reads a few dozen of them. The table keeps two
byte offsets per passage and parses a line when it is asked for, keeping the last `KEPT`.

The file is read with ``os.pread``, not memory-mapped: its pages stay in the page cache, which
every process serving the same folder shares, and none of them counts in a process's resident
memory (a memory map of a file the kernel caches in large folios maps megabytes per touch).
"""

from __future__ import annotations

import functools
import json
import os
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import overload

import numpy as np

from qabot.documents.chunking import Passage
from qabot.documents.structure import Link
from qabot.errors import IndexCorruptError

KEPT = 4096
"""Parsed passages kept per table: a question reads a few dozen, so repeats are cheap."""
_CHUNK = 1 << 24  # bytes read at a time while the line offsets are found
_LINES_PER_READ = 4096  # lines read at a time when the table is iterated


def passage_from_dict(data: dict) -> Passage:
    """A `Passage` from one line of ``passages.jsonl`` (as `dataclasses.asdict` wrote it)."""
    data["sources"] = tuple(Link(**link) for link in data.get("sources") or ())
    data["alternates"] = tuple(data.get("alternates") or ())
    # Indexes written before `context` was folded into `section` still load: it held the
    # section heading, or a structured row's title where the section was empty.
    context = data.pop("context", "")
    data["section"] = data.get("section") or context
    return Passage(**data)


class PassageTable(Sequence[Passage]):
    """The passages of one ``passages.jsonl``, by passage number (its line order).

    Args:
        path: the file; it is opened once and read by offset (a replaced index's file stays
            readable through the open descriptor until the table is gone).
        ids: the passage ids in number order (the vector store's); each parsed passage is
            checked against its id, so a file that disagrees raises `IndexCorruptError`.
        kept: how many parsed passages to keep.
    """

    def __init__(self, path: Path | str, ids: Sequence[str], *, kept: int = KEPT) -> None:
        self.path = Path(path)
        self.ids = ids
        fd = os.open(self.path, os.O_RDONLY)
        weakref.finalize(self, os.close, fd)
        self._fd = fd
        self._starts, self._ends = _line_spans(fd)
        if len(self._starts) != len(ids):
            raise IndexCorruptError(
                f"{self.path} holds {len(self._starts)} passages for {len(ids)} ids."
            )
        # The cache wraps a function that does not hold the table: a bound method would make a
        # reference cycle, and the descriptor would stay open until the cycle collector ran.
        read = functools.partial(_read_line, fd, self._starts, self._ends, self.path, ids)
        self._read = functools.lru_cache(maxsize=kept)(read)

    def __len__(self) -> int:
        return len(self._starts)

    @overload
    def __getitem__(self, number: int) -> Passage: ...
    @overload
    def __getitem__(self, number: slice) -> list[Passage]: ...
    def __getitem__(self, number: int | slice) -> Passage | list[Passage]:
        if isinstance(number, slice):
            return [self._read(n) for n in range(*number.indices(len(self)))]
        number = int(number)
        if number < 0:
            number += len(self)
        if not 0 <= number < len(self):
            raise IndexError(f"passage number {number} outside 0..{len(self) - 1}")
        return self._read(number)

    def __iter__(self) -> Iterator[Passage]:
        """Every passage in order, read a block of lines at a time (not kept)."""
        for first in range(0, len(self), _LINES_PER_READ):
            numbers = range(first, min(first + _LINES_PER_READ, len(self)))
            base = int(self._starts[first])
            block = os.pread(self._fd, int(self._ends[numbers[-1]]) - base, base)
            for n in numbers:
                line = block[int(self._starts[n]) - base : int(self._ends[n]) - base]
                yield _checked(self.path, self.ids, n, line.decode("utf-8"))


def _read_line(
    fd: int, starts: np.ndarray, ends: np.ndarray, path: Path, ids: Sequence[str], number: int
) -> Passage:
    start, end = int(starts[number]), int(ends[number])
    return _checked(path, ids, number, os.pread(fd, end - start, start).decode("utf-8"))


def _checked(path: Path, ids: Sequence[str], number: int, line: str) -> Passage:
    """The passage on ``line``, which must be passage ``number`` (`IndexCorruptError` if not)."""
    try:
        passage = passage_from_dict(json.loads(line))
    except (ValueError, TypeError) as exc:
        raise IndexCorruptError(f"Passage {number} in {path} is unreadable: {exc}") from exc
    if passage.passage_id != ids[number]:
        raise IndexCorruptError(
            f"Passage {number} in {path} is {passage.passage_id!r}, "
            f"the vectors say {ids[number]!r}."
        )
    return passage


def _line_spans(fd: int) -> tuple[np.ndarray, np.ndarray]:
    """The byte start and end of each non-blank line of the file, read in chunks."""
    newlines, position = [], 0
    while chunk := os.pread(fd, _CHUNK, position):
        newlines.append(np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 10) + position)
        position += len(chunk)
    ends = np.concatenate([*newlines, np.array([position], dtype=np.int64)]).astype(np.int64)
    starts = np.r_[0, ends[:-1] + 1].astype(np.int64)
    # Blank lines (and a final newline's empty tail) are no passage; nor is a line of spaces.
    keep = ends > starts
    for n in np.flatnonzero(keep & (ends - starts < 8)):  # no passage is this short: look
        keep[n] = bool(os.pread(fd, int(ends[n] - starts[n]), int(starts[n])).strip())
    return starts[keep], ends[keep]
