"""The vector store: grain rows, the FAISS search over them, and each question's evidence.

Rows are L2-normalised float32 vectors, so a row's score is its cosine similarity to the query.
Each passage owns several rows tagged by grain (`qabot.documents.grains`): its whole text, its FAQ
question(s), its sentences. Rows are stored passage by passage, grains in order. Candidate
generation searches the whole and question rows in a FAISS index (`qabot.index.faiss_search.INDEX_TYPES`); the
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

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qabot.documents.grains import GRAIN_SENTENCE
from qabot.errors import IndexCorruptError
from qabot.index.candidates import Candidates, no_candidates
from qabot.index.faiss_search import build_search, read_search, set_search_params, write_search
from qabot.index.grains import gather_rows, grain_maxima, passage_offsets
from qabot.index.vector_rows import RowFile

_VECTORS_FILE = "rows.npy"
_ROW_PASSAGE_FILE = "row_passage.npy"
_ROW_GRAIN_FILE = "row_grain.npy"
_IDS_FILE = "passage_ids.json"
_SEARCH_FILE = "search.faiss"
_PARAMS_FILE = "store.json"

_REFINE = 4
"""Product-quantised codes rank too coarsely to choose candidates alone: an ``ivf-pq`` search
proposes this many times more rows, re-scored exactly from the rows (4-bit codes at 3,000 rows:
recall@10 0.47 without, over 0.8 with). SQ8's and HNSW's scores are within 0.002 of exact."""


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
        set_search_params(search, self.params)

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
        """The FAISS index kind in use (one of `qabot.index.faiss_search.INDEX_TYPES`, never ``auto``)."""
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
        """A store of these rows, searched by an index of ``index_type`` (`qabot.index.faiss_search.INDEX_TYPES`)."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        row_grain = np.asarray(row_grain, dtype=np.int8)
        if vectors.ndim != 2 or len(row_grain) != len(vectors):
            raise ValueError(
                f"vectors of shape {vectors.shape} for {len(row_passage)} rows "
                f"and {len(row_grain)} grains"
            )
        searchable = vectors[row_grain != GRAIN_SENTENCE]
        search, params = build_search(searchable, index_type)
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
        if refine:  # re-scored exactly from the rows, and re-ordered, query by query
            for query, row_list, row_scores in zip(query_vectors, found, scores, strict=True):
                keep = row_list[row_list >= 0]  # FAISS pads with -1 when it finds fewer rows
                exact = self.rows(self._searchable[keep]) @ query
                order = np.argsort(-exact, kind="stable")
                row_list[: len(keep)], row_scores[: len(keep)] = keep[order], exact[order]
        return self._first_passages(scores, found, top_k)

    def _first_passages(
        self, scores: np.ndarray, found: np.ndarray, top_k: int
    ) -> list[Candidates]:
        """Each query's first ``top_k`` distinct passages in FAISS's order, for all at once."""
        queries, width = found.shape
        keep = np.flatnonzero(found.ravel() >= 0)  # FAISS pads with -1 when it finds fewer rows
        whose = keep // width
        numbers = self.row_passage[self._searchable[found.ravel()[keep]]].astype(np.int64)
        stride = len(self.passage_ids)
        # The first row of each (query, passage): unique keys, kept in their FAISS order.
        _, first = np.unique(whose * stride + numbers, return_index=True)
        first = np.sort(first)
        starts = np.searchsorted(whose[first], np.arange(queries + 1))
        place = np.arange(len(first)) - starts[whose[first]]
        first = first[place < top_k]
        bounds = np.searchsorted(whose[first], np.arange(queries + 1)).tolist()
        flat_scores = scores.ravel()[keep]
        return [
            Candidates(numbers[first[a:b]], flat_scores[first[a:b]])
            for a, b in itertools.pairwise(bounds)
        ]

    def evidence(self, query_vector: np.ndarray, candidates: np.ndarray) -> Evidence:
        """One query's grain evidence for the given passages: a gather over their rows only."""
        candidates = np.asarray(candidates, dtype=np.int64)
        return self.evidence_batch(
            np.asarray(query_vector)[None, :], candidates, np.array([0, len(candidates)])
        )

    def evidence_batch(
        self, query_vectors: np.ndarray, candidates: np.ndarray, starts: np.ndarray
    ) -> Evidence:
        """Many queries' evidence at once: ``candidates[starts[q]:starts[q + 1]]`` are query
        ``q``'s passages. The rows are gathered and scored query by query; the rest is one pass."""
        candidates = np.asarray(candidates, dtype=np.int64)
        rows, owner = gather_rows(self._offsets, candidates)
        query_vectors = np.asarray(query_vectors, dtype=np.float32)
        bounds = np.searchsorted(owner, starts).tolist()
        row_scores = np.empty(len(rows), dtype=np.float32)
        # Gathered query by query: one query's rows stay in the CPU's cache for their product.
        for query, (a, b) in enumerate(itertools.pairwise(bounds)):
            if b > a:
                row_scores[a:b] = self.rows(rows[a:b]) @ query_vectors[query]
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
        write_search(self._search, directory / _SEARCH_FILE)
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
                search = read_search(directory / _SEARCH_FILE, params["index_type"])
            else:  # written before search.faiss existed: an exact index, built in memory
                grains = np.asarray(row_grain)
                search, params = build_search(vectors[grains != GRAIN_SENTENCE], "flat")
            return cls(
                passage_ids, vectors, row_passage, row_grain, search, params, row_file=row_file
            )
        except (OSError, ValueError, TypeError, IndexError, KeyError, RuntimeError) as exc:
            raise IndexCorruptError(f"Vector index in {directory} is unreadable: {exc}") from exc
