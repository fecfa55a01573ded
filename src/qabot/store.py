"""The vector store: the only module that imports faiss.

Rows are L2-normalised float32 vectors in an exact inner-product index, so a row's score is
its cosine similarity to the query. A passage may own several rows (an FAQ entry has one for
its question and one for question + answer); its score is the best of them. Passage ids go in
and come out; FAISS row numbers never leave this module.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import numpy as np

from qabot.errors import IndexCorruptError

_INDEX_FILE = "vectors.faiss"


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


_ROWS_FILE = "rows.json"


class VectorStore:
    """Passage vectors in a FAISS inner-product index, addressed by passage id.

    Passages are also numbered 0..n-1 in the order their rows were added (``passage_ids``); the
    retriever uses these numbers to score many candidates at once.
    """

    def __init__(self, row_ids: Sequence[str], index: object) -> None:
        self.row_ids = tuple(row_ids)
        self._index = index
        self.passage_ids = tuple(dict.fromkeys(self.row_ids))
        number = {passage_id: n for n, passage_id in enumerate(self.passage_ids)}
        self._row_passage = np.array([number[pid] for pid in self.row_ids], dtype=np.int64)
        counts = np.bincount(self._row_passage, minlength=len(self.passage_ids))
        # rows of each passage, padded with -1: one gather scores many passages at once
        self._row_table = np.full((len(self.passage_ids), max(1, int(counts.max(initial=1)))), -1)
        filled = np.zeros(len(self.passage_ids), dtype=np.int64)
        for row, n in enumerate(self._row_passage):
            self._row_table[n, filled[n]] = row
            filled[n] += 1
        self._vectors: np.ndarray | None = None

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    def __len__(self) -> int:
        return len(self.row_ids)

    @classmethod
    def build(cls, row_ids: Sequence[str], vectors: np.ndarray) -> VectorStore:
        """Index ``vectors`` (n, d), one row per entry of ``row_ids`` (ids may repeat)."""
        faiss = _faiss()
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) != len(row_ids):
            raise ValueError(f"vectors of shape {vectors.shape} for {len(row_ids)} ids")
        index = faiss.IndexFlatIP(vectors.shape[1])
        index.add(vectors)
        return cls(row_ids, index)

    def search_numbers(self, query_vectors: np.ndarray, top_k: int) -> list[np.ndarray]:
        """The numbers of the ``top_k`` best passages per query, best first."""
        if len(query_vectors) == 0 or top_k <= 0:
            return [np.zeros(0, dtype=np.int64) for _ in range(len(query_vectors))]
        # Over-fetch so that top_k distinct passages survive the max over each one's rows.
        rows_wanted = min(len(self.row_ids), top_k * self._row_table.shape[1])
        _, rows = self._index.search(
            np.ascontiguousarray(query_vectors, dtype=np.float32), rows_wanted
        )
        results = []
        for row_list in rows:
            numbers = self._row_passage[row_list[row_list >= 0]]  # FAISS pads with -1
            _, first = np.unique(numbers, return_index=True)
            results.append(numbers[np.sort(first)][:top_k])
        return results

    def search_batch(self, query_vectors: np.ndarray, top_k: int) -> list[list[tuple[str, float]]]:
        """The ``top_k`` best (passage id, cosine) pairs per query, best first."""
        results = []
        for query, numbers in zip(
            query_vectors, self.search_numbers(query_vectors, top_k), strict=True
        ):
            scores = self.score_numbers(query, numbers)
            results.append(
                [(self.passage_ids[n], float(s)) for n, s in zip(numbers, scores, strict=True)]
            )
        return results

    def score_numbers(self, query_vector: np.ndarray, numbers: np.ndarray) -> np.ndarray:
        """Exact cosine of one query against the given passages (best row of each)."""
        table = self._row_table[numbers]
        scores = self._all_vectors()[np.maximum(table, 0)] @ query_vector
        return np.where(table >= 0, scores, -np.inf).max(axis=1) if len(table) else scores[:, 0]

    @property
    def vectors(self) -> np.ndarray:
        """All row vectors, (rows, dimension), read back from the index once."""
        return self._all_vectors()

    def _all_vectors(self) -> np.ndarray:
        if self._vectors is None:
            self._vectors = self._index.reconstruct_n(0, self._index.ntotal)
        return self._vectors

    def save(self, directory: Path) -> None:
        """Write the FAISS index and the row-to-passage map into ``directory``."""
        faiss = _faiss()
        directory.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self._index, str(directory / _INDEX_FILE))
        (directory / _ROWS_FILE).write_text(json.dumps(list(self.row_ids)), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> VectorStore:
        """Read a store written by `save`, checking that its parts agree."""
        faiss = _faiss()
        try:
            row_ids = json.loads((directory / _ROWS_FILE).read_text(encoding="utf-8"))
            index = faiss.read_index(str(directory / _INDEX_FILE))
        except (OSError, ValueError, RuntimeError) as exc:
            raise IndexCorruptError(f"Vector index in {directory} is unreadable: {exc}") from exc
        if index.ntotal != len(row_ids):
            raise IndexCorruptError(
                f"Vector index in {directory} has {index.ntotal} rows but {len(row_ids)} ids."
            )
        return cls(row_ids, index)
