"""FAISS, behind four functions: the only module that imports faiss.

Builds the search over the whole and question rows in one of `INDEX_TYPES`, writes and reads
it, and keeps FAISS's OpenMP threads from fighting the model's (`_faiss`, `_threads`). The
store (`qabot.index.store`) owns the rows and what a search means; this module owns how.
"""

from __future__ import annotations

import functools
import math
import os
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

INDEX_TYPES = ("auto", "flat", "hnsw", "ivf-sq8", "ivf-pq")
"""FAISS index kinds: exact ``flat``; approximate ``hnsw`` (a graph over float32 vectors) and
``ivf-sq8``/``ivf-pq`` (clusters of 8-bit / product-quantised codes, 4x / 16x smaller);
``auto`` picks ``flat`` up to `FLAT_MAX_ROWS` searchable rows and ``ivf-sq8`` beyond.
Approximate scores only choose the candidates; their evidence is scored exactly from the rows,
so only recall is approximate."""
FLAT_MAX_ROWS = 20_000
"""Searchable rows up to which an exact search is fast enough (bench/results/scale.md)."""
DEFAULT_NPROBE = 32
DEFAULT_EF_SEARCH = 128


@functools.cache
def _faiss() -> ModuleType:
    """Import faiss, its OpenMP searches limited to one thread.

    An exact search over a laptop-sized index needs no more, and a second pool of spinning
    OpenMP threads beside PyTorch's starves the model on a busy machine (measured under load:
    484 ms to encode one question instead of 12). When PyTorch was loaded first, both share one
    OpenMP runtime and the call above would cut the model to one thread too (halving batched
    encoding): PyTorch's own setting is then put back.
    """
    import faiss

    torch = sys.modules.get("torch")
    torch_threads = torch.get_num_threads() if torch is not None else None
    faiss.omp_set_num_threads(1)
    if torch is not None and torch.get_num_threads() != torch_threads:
        torch.set_num_threads(torch_threads)
    return faiss


def choose_index_type(rows: int, index_type: str = "auto") -> str:
    """The index kind for ``rows`` searchable rows: ``index_type`` unless it is ``auto``."""
    if index_type not in INDEX_TYPES:
        raise ValueError(f"index type {index_type!r} is not one of {', '.join(INDEX_TYPES)}")
    if index_type != "auto":
        return index_type
    return "flat" if rows <= FLAT_MAX_ROWS else "ivf-sq8"


def build_search(vectors: np.ndarray, index_type: str) -> tuple[object, dict]:
    """A FAISS index of ``index_type`` over ``vectors``, and its parameters."""
    faiss = _faiss()
    rows, dimension = vectors.shape
    kind = choose_index_type(rows, index_type)
    params: dict = {"index_type": kind, "rows": rows}
    if kind == "flat":
        index = faiss.IndexFlatIP(dimension)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dimension, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        params["ef_search"] = DEFAULT_EF_SEARCH
    else:
        # About 4 sqrt(n) clusters (FAISS's guidance), with the 39 training rows per cluster
        # (and per PQ code) that FAISS asks for.
        nlist = int(max(1, min(65536, 4 * math.sqrt(rows), rows // 39)))
        bits = 8 if rows >= 39 * 256 else 4
        codes = "SQ8" if kind == "ivf-sq8" else f"PQ{_pq_parts(dimension)}x{bits}"
        index = faiss.index_factory(dimension, f"IVF{nlist},{codes}", faiss.METRIC_INNER_PRODUCT)
        params |= {"nlist": nlist, "nprobe": min(nlist, DEFAULT_NPROBE)}
        # 40 rows per cluster and 10 k-means rounds: a million rows train in about a minute
        # here, and recall stays above 0.99 (bench/results/scale.md).
        faiss.extract_index_ivf(index).cp.niter = 10
        sample = np.random.default_rng(0).permutation(rows)[: 40 * nlist]
        with _threads():
            index.train(np.ascontiguousarray(vectors[np.sort(sample)]))
    with _threads():
        for start in range(0, rows, 65536):  # in slices: a memory-mapped input stays paged
            index.add(np.ascontiguousarray(vectors[start : start + 65536]))
    return index, params


def _pq_parts(dimension: int) -> int:
    """Sub-quantizers for product quantisation: 4 dimensions each where it divides (384-d: 96
    bytes a vector, a quarter of SQ8's 384)."""
    for width in (4, 2, 1):
        if dimension % width == 0:
            return dimension // width
    return dimension


def write_search(index: object, path: Path) -> None:
    """Write a FAISS index to ``path``."""
    _faiss().write_index(index, str(path))


def read_search(path: Path, index_type: str) -> object:
    """Read a FAISS index: a flat one memory-mapped, the compressed ones into memory.

    FAISS can map IVF lists too, but its memory-mapped lists searched 4x slower here (2.6 ms
    against 0.7 ms at 110k rows); the SQ8 codes are a quarter of the vectors' size.
    """
    faiss = _faiss()
    flags = faiss.IO_FLAG_MMAP_IFC if index_type == "flat" else 0
    return faiss.read_index(str(path), flags | faiss.IO_FLAG_READ_ONLY)


def set_search_params(index: object, params: dict) -> None:
    """Apply the stored search parameters (``nprobe``, ``ef_search``) to a FAISS index."""
    if "nprobe" in params:
        _faiss().extract_index_ivf(index).nprobe = int(params["nprobe"])
    if "ef_search" in params:
        index.hnsw.efSearch = int(params["ef_search"])


class _threads:
    """Use every core while an index is trained and filled; searches go back to one thread.

    PyTorch may share the OpenMP runtime (see `_faiss`): its own setting is put back after.
    """

    def __enter__(self) -> None:
        torch = sys.modules.get("torch")
        self._torch = torch.get_num_threads() if torch is not None else None
        _faiss().omp_set_num_threads(os.cpu_count() or 1)

    def __exit__(self, *exc: object) -> None:
        _faiss().omp_set_num_threads(1)
        torch = sys.modules.get("torch")
        if torch is not None and self._torch is not None:
            torch.set_num_threads(self._torch)
