"""The vector store: the only module that imports faiss.

Rows are L2-normalised float32 vectors, so a row's score is its cosine similarity to the query.
Each passage owns several rows tagged by grain (`qabot.answering.evidence`): its whole text, its FAQ
question(s), its sentences. Rows are stored passage by passage, grains in order. Candidate
generation searches the whole and question rows in a FAISS index (`INDEX_TYPES`); the
candidates' evidence is then a gather over all their rows (sentences included), so that one
question costs one encode, one FAISS search and a small matrix product. Passages are addressed
by number (`qabot.index.candidates`); FAISS row numbers never leave this module.

On disk (`VectorStore.save`)::

    rows.npy            every grain row, (rows, d) float32
    row_passage.npy     each row's passage number;  row_grain.npy: each row's grain
    passage_ids.json    the ids, in passage-number order
    search.faiss        the FAISS index over the whole and question rows
    store.json          its type and search parameters

`VectorStore.load` reads a question's rows from ``rows.npy`` by offset (`qabot.index.vector_rows`) and
memory-maps a flat ``search.faiss``: the vectors are held once, in the page cache that every
process serving the same folder shares, and a gather reads only the candidates' rows. The
compressed indexes (HNSW's graph, IVF's 8-bit or PQ codes) are read into memory, where FAISS
searches them fastest; their scores only choose the candidates, whose evidence is then scored
exactly from the rows.
"""

from __future__ import annotations

import functools
import json
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from qabot.documents.grains import GRAIN_SENTENCE
from qabot.errors import IndexCorruptError
from qabot.index.candidates import Candidates, no_candidates
from qabot.index.grains import gather_rows, grain_maxima, passage_offsets
from qabot.index.vector_rows import RowFile

_VECTORS_FILE = "rows.npy"
_ROW_PASSAGE_FILE = "row_passage.npy"
_ROW_GRAIN_FILE = "row_grain.npy"
_IDS_FILE = "passage_ids.json"
_SEARCH_FILE = "search.faiss"
_PARAMS_FILE = "store.json"

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
_REFINE = 4
"""Product-quantised codes rank too coarsely to choose candidates alone: an ``ivf-pq`` search
proposes this many times more rows, re-scored exactly from the rows (4-bit codes at 3,000 rows:
recall@10 0.47 without, over 0.8 with). SQ8's and HNSW's scores are within 0.002 of exact."""


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


@dataclass(frozen=True)
class Evidence:
    """One question's evidence for its candidates (positions 0..n-1 in ``candidates``).

    ``grains`` is ``(n, 3)``, the best cosine per grain (`qabot.index.grains.grain_maxima`);
    ``rows``, ``owner``, ``grain`` and ``row_scores`` describe every gathered row.
    """

    candidates: np.ndarray
    grains: np.ndarray
    rows: np.ndarray
    owner: np.ndarray
    grain: np.ndarray
    row_scores: np.ndarray


class VectorStore:
    """Grain rows of passages, addressed by passage number (the order of ``passage_ids``).

    Built with `build` or read with `load`; the constructor takes the parts as they are.

    Args:
        passage_ids: one id per passage, in order.
        vectors: ``(rows, d)`` float32, every grain row (may be a read-only memory map).
        row_passage: each row's passage number (rows grouped by passage, then grain).
        row_grain: each row's grain.
        search: the FAISS index over the searchable (whole and question) rows, in row order.
        params: its type and search parameters (``store.json``).
        row_file: where a question's rows are read from, when ``vectors`` is the memory map of a
            saved ``rows.npy`` (`load` passes it); else they are gathered from ``vectors``.
    """

    def __init__(
        self,
        passage_ids: Sequence[str],
        vectors: np.ndarray,
        row_passage: np.ndarray,
        row_grain: np.ndarray,
        search: object,
        params: dict,
        *,
        row_file: RowFile | None = None,
    ) -> None:
        self.passage_ids = tuple(passage_ids)
        self.vectors = vectors
        if row_file is not None and row_file.shape != vectors.shape:
            raise ValueError(f"row file of shape {row_file.shape} for vectors {vectors.shape}")
        self._row_file = row_file
        self.row_passage = np.asarray(row_passage, dtype=np.int32)
        self.row_grain = np.asarray(row_grain, dtype=np.int8)
        self._check_rows()
        self._offsets = passage_offsets(self.row_passage, len(self.passage_ids))
        searchable = self.row_grain != GRAIN_SENTENCE
        self._searchable = np.flatnonzero(searchable)
        counts = np.bincount(self.row_passage[searchable], minlength=len(self.passage_ids))
        self._most_searchable = max(1, int(counts.max(initial=1)))
        # The first sentence row of each passage: a sentence row's rank among its passage's
        # sentences is its distance from it.
        firsts = np.full(len(self.passage_ids), -1, dtype=np.int64)
        rows = np.flatnonzero(~searchable)[::-1]
        firsts[self.row_passage[rows]] = rows  # written last to first: the first row wins
        self._first_sentence = firsts
        self._search = search
        self.params = dict(params)
        if getattr(search, "ntotal", len(self._searchable)) != len(self._searchable):
            raise ValueError(
                f"search index of {search.ntotal} rows for {len(self._searchable)} searchable rows"
            )
        _set_search_params(search, self.params)

    def _check_rows(self) -> None:
        vectors, rows = self.vectors, len(self.row_passage)
        if vectors.ndim != 2 or vectors.dtype != np.float32 or not len(vectors) == rows:
            raise ValueError(
                f"vectors of shape {vectors.shape} for {rows} rows and {len(self.row_grain)} grains"
            )
        if len(self.row_grain) != rows:
            raise ValueError(f"{len(self.row_grain)} grains for {rows} rows")
        numbers = self.row_passage
        if rows and not 0 <= int(numbers.min()) <= int(numbers.max()) < len(self.passage_ids):
            raise ValueError(f"row passage numbers outside 0..{len(self.passage_ids) - 1}")

    @property
    def dimension(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def index_type(self) -> str:
        """The FAISS index kind in use (one of `INDEX_TYPES`, never ``auto``)."""
        return str(self.params["index_type"])

    def __len__(self) -> int:
        return len(self.vectors)

    @classmethod
    def build(
        cls,
        passage_ids: Sequence[str],
        vectors: np.ndarray,
        row_passage: np.ndarray,
        row_grain: np.ndarray,
        *,
        index_type: str = "auto",
    ) -> VectorStore:
        """A store of these rows, searched by an index of ``index_type`` (`INDEX_TYPES`)."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        row_grain = np.asarray(row_grain, dtype=np.int8)
        if vectors.ndim != 2 or len(row_grain) != len(vectors):
            raise ValueError(
                f"vectors of shape {vectors.shape} for {len(row_passage)} rows "
                f"and {len(row_grain)} grains"
            )
        searchable = vectors[row_grain != GRAIN_SENTENCE]
        search, params = _build_search(searchable, index_type)
        return cls(passage_ids, vectors, row_passage, row_grain, search, params)

    def search_batch(self, query_vectors: np.ndarray, top_k: int) -> list[Candidates]:
        """The ``top_k`` best passages per query by their best whole/question row, best first."""
        query_vectors = np.ascontiguousarray(query_vectors, dtype=np.float32)
        if len(query_vectors) == 0 or top_k <= 0 or not len(self._searchable):
            return [no_candidates() for _ in range(len(query_vectors))]
        # Over-fetch so that top_k distinct passages survive the max over each one's rows.
        refine = self.index_type == "ivf-pq"
        wanted = top_k * self._most_searchable * (_REFINE if refine else 1)
        scores, found = self._search.search(query_vectors, min(len(self._searchable), wanted))
        results = []
        for query, row_list, row_scores in zip(query_vectors, found, scores, strict=True):
            keep = row_list >= 0  # FAISS pads with -1 when it finds fewer rows
            rows, row_scores = self._searchable[row_list[keep]], row_scores[keep]
            if refine:
                row_scores = self.rows(rows) @ query
                order = np.argsort(-row_scores, kind="stable")
                rows, row_scores = rows[order], row_scores[order]
            numbers = self.row_passage[rows]
            _, first = np.unique(numbers, return_index=True)
            first = np.sort(first)[:top_k]
            results.append(Candidates(numbers[first].astype(np.int64), row_scores[first]))
        return results

    def evidence(self, query_vector: np.ndarray, candidates: np.ndarray) -> Evidence:
        """One query's grain evidence for the given passages: a gather over their rows only."""
        candidates = np.asarray(candidates, dtype=np.int64)
        rows, owner = gather_rows(self._offsets, candidates)
        row_scores = self.rows(rows) @ np.asarray(query_vector, dtype=np.float32)
        grain = self.row_grain[rows]
        grains = grain_maxima(row_scores, owner, grain, len(candidates))
        return Evidence(candidates, grains, rows, owner, grain, row_scores)

    def rows(self, rows: np.ndarray) -> np.ndarray:
        """The vectors of the given rows, ``(len(rows), d)``."""
        if self._row_file is not None:
            return self._row_file.take(rows)
        return np.asarray(self.vectors[rows])

    def sentence_number(self, row: int) -> int:
        """Which sentence of its passage a sentence row is (0 = the first)."""
        return int(row - self._first_sentence[self.row_passage[row]])

    def save(self, directory: Path) -> None:
        """Write the rows, the passage ids and the search index into ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / _VECTORS_FILE, np.asarray(self.vectors))
        np.save(directory / _ROW_PASSAGE_FILE, self.row_passage)
        np.save(directory / _ROW_GRAIN_FILE, self.row_grain)
        (directory / _IDS_FILE).write_text(json.dumps(list(self.passage_ids)), encoding="utf-8")
        _faiss().write_index(self._search, str(directory / _SEARCH_FILE))
        (directory / _PARAMS_FILE).write_text(json.dumps(self.params), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> VectorStore:
        """Read a store written by `save`, memory-mapped, checking that its parts agree."""
        try:
            passage_ids = json.loads((directory / _IDS_FILE).read_text(encoding="utf-8"))
            vectors = np.load(directory / _VECTORS_FILE, mmap_mode="r", allow_pickle=False)
            row_file = RowFile(directory / _VECTORS_FILE)
            row_passage, row_grain = (
                np.load(directory / name, allow_pickle=False)
                for name in (_ROW_PASSAGE_FILE, _ROW_GRAIN_FILE)
            )
            if (directory / _SEARCH_FILE).is_file():
                params = json.loads((directory / _PARAMS_FILE).read_text(encoding="utf-8"))
                search = _read_search(directory / _SEARCH_FILE, params["index_type"])
            else:  # written before search.faiss existed: an exact index, built in memory
                grains = np.asarray(row_grain)
                search, params = _build_search(vectors[grains != GRAIN_SENTENCE], "flat")
            return cls(
                passage_ids, vectors, row_passage, row_grain, search, params, row_file=row_file
            )
        except (OSError, ValueError, TypeError, IndexError, KeyError, RuntimeError) as exc:
            raise IndexCorruptError(f"Vector index in {directory} is unreadable: {exc}") from exc


def choose_index_type(rows: int, index_type: str = "auto") -> str:
    """The index kind for ``rows`` searchable rows: ``index_type`` unless it is ``auto``."""
    if index_type not in INDEX_TYPES:
        raise ValueError(f"index type {index_type!r} is not one of {', '.join(INDEX_TYPES)}")
    if index_type != "auto":
        return index_type
    return "flat" if rows <= FLAT_MAX_ROWS else "ivf-sq8"


def _build_search(vectors: np.ndarray, index_type: str) -> tuple[object, dict]:
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


def _read_search(path: Path, index_type: str) -> object:
    """Read a FAISS index: a flat one memory-mapped, the compressed ones into memory.

    FAISS can map IVF lists too, but its memory-mapped lists searched 4x slower here (2.6 ms
    against 0.7 ms at 110k rows); the SQ8 codes are a quarter of the vectors' size.
    """
    faiss = _faiss()
    flags = faiss.IO_FLAG_MMAP_IFC if index_type == "flat" else 0
    return faiss.read_index(str(path), flags | faiss.IO_FLAG_READ_ONLY)


def _set_search_params(index: object, params: dict) -> None:
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
