"""Rows of a 2-D ``.npy`` file, read by row number with ``os.pread``.

A question reads the rows of a few dozen passages. Memory-mapping the file would be simplest,
but the kernel caches files in large folios and maps a whole folio on a touch: on this machine
800 scattered rows of a 180 MB file mapped all 180 MB into the process (bench/results/scale.md),
so a million-passage index's 1.6 GB of rows soon counted in every replica's resident memory.
Read by offset, the rows stay in the page cache, which every process serving the folder shares,
and a process holds only the rows it asked for. A file of up to `MAP_MAX_BYTES` is memory-mapped
all the same: mapping it whole costs little, and a gather from a map is faster than a read per
passage (about 0.5 ms a question at StackFAQ's size).
"""

from __future__ import annotations

import os
import weakref
from pathlib import Path

import numpy as np

MAP_MAX_BYTES = 256 * 2**20
"""Files up to this size are memory-mapped (at 384 dimensions, about 175,000 rows)."""


class RowFile:
    """The rows of one C-order 2-D ``.npy`` file (as `numpy.save` writes them).

    Args:
        path: the file.
        map_max_bytes: the largest file that is memory-mapped rather than read by offset.
    """

    def __init__(self, path: Path | str, *, map_max_bytes: int = MAP_MAX_BYTES) -> None:
        self.path = Path(path)
        with self.path.open("rb") as f:
            version = np.lib.format.read_magic(f)
            header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = header(f)
            self._data = f.tell()
        if len(shape) != 2 or fortran or dtype.hasobject:
            raise ValueError(f"{self.path} is not a C-order 2-D array (shape {shape})")
        self.shape: tuple[int, int] = (int(shape[0]), int(shape[1]))
        self.dtype = dtype
        self._row_bytes = self.shape[1] * dtype.itemsize
        size = os.path.getsize(self.path)
        if size < self._data + self.shape[0] * self._row_bytes:
            raise ValueError(f"{self.path} is shorter than its {self.shape} header says")
        self._map: np.ndarray | None = None
        self._fd = -1
        if size <= map_max_bytes:
            # A plain ndarray view of the map: no np.memmap overhead on each gather.
            self._map = np.asarray(np.load(self.path, mmap_mode="r", allow_pickle=False))
        else:
            self._fd = os.open(self.path, os.O_RDONLY)
            weakref.finalize(self, os.close, self._fd)

    @property
    def mapped(self) -> bool:
        """Whether the file is memory-mapped (else read by offset)."""
        return self._map is not None

    def __len__(self) -> int:
        return self.shape[0]

    def take(self, rows: np.ndarray) -> np.ndarray:
        """The given rows, in the given order: one read per run of consecutive row numbers."""
        rows = np.asarray(rows, dtype=np.int64)
        if not len(rows):
            return np.zeros((0, self.shape[1]), dtype=self.dtype)
        if not 0 <= int(rows.min()) <= int(rows.max()) < self.shape[0]:
            raise IndexError(f"row numbers outside 0..{self.shape[0] - 1}")
        if self._map is not None:
            return self._map[rows]
        breaks = np.flatnonzero(np.diff(rows) != 1) + 1
        starts = np.r_[0, breaks]
        ends = np.r_[breaks, len(rows)]
        size, base = self._row_bytes, self._data
        chunks = [
            os.pread(self._fd, int(end - start) * size, base + int(rows[start]) * size)
            for start, end in zip(starts.tolist(), ends.tolist(), strict=True)
        ]
        out = np.frombuffer(b"".join(chunks), dtype=self.dtype)
        return out.reshape(len(rows), self.shape[1])
