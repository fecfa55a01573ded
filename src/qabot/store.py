"""The vector store: the only module that imports faiss.

Rows are L2-normalised float32 vectors in an exact inner-product index, so a row's score is
its cosine similarity to the query. A passage may own several rows (an FAQ entry has one for
its question and one for question + answer); its score is the best of them. Passage ids go in
and come out; FAISS row numbers never leave this module.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qabot.errors import IndexCorruptError

_INDEX_FILE = "vectors.faiss"
_ROWS_FILE = "rows.json"


class VectorStore:
    """Passage vectors in a FAISS inner-product index, addressed by passage id."""

    def __init__(self, row_ids: Sequence[str], index: object) -> None:
        self.row_ids = tuple(row_ids)
        self._index = index
        self._rows_of: dict[str, list[int]] = {}
        for row, passage_id in enumerate(self.row_ids):
            self._rows_of.setdefault(passage_id, []).append(row)
        self._max_rows = max((len(r) for r in self._rows_of.values()), default=1)
        self._vectors: np.ndarray | None = None

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    def __len__(self) -> int:
        return len(self.row_ids)

    @classmethod
    def build(cls, row_ids: Sequence[str], vectors: np.ndarray) -> VectorStore:
        """Index ``vectors`` (n, d), one row per entry of ``row_ids`` (ids may repeat)."""
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) != len(row_ids):
            raise ValueError(f"vectors of shape {vectors.shape} for {len(row_ids)} ids")
        index = faiss.IndexFlatIP(vectors.shape[1])
        index.add(vectors)
        return cls(row_ids, index)

    def search_batch(self, query_vectors: np.ndarray, top_k: int) -> list[list[tuple[str, float]]]:
        """The ``top_k`` best (passage id, cosine) pairs per query, best first."""
        if len(query_vectors) == 0 or top_k <= 0:
            return [[] for _ in range(len(query_vectors))]
        # Over-fetch so that top_k distinct passages survive the max over each one's rows.
        rows_wanted = min(len(self.row_ids), top_k * self._max_rows)
        scores, rows = self._index.search(
            np.ascontiguousarray(query_vectors, dtype=np.float32), rows_wanted
        )
        results = []
        for score_row, id_row in zip(scores, rows, strict=True):
            best: dict[str, float] = {}
            for score, row in zip(score_row, id_row, strict=True):
                if row < 0:  # FAISS pads with -1 when fewer rows exist
                    continue
                passage_id = self.row_ids[row]
                if passage_id not in best:
                    best[passage_id] = float(score)
            results.append(list(best.items())[:top_k])
        return results

    def scores(self, query_vector: np.ndarray, passage_ids: Sequence[str]) -> list[float]:
        """Exact cosine of one query against the given passages (best row of each)."""
        vectors = self._all_vectors()
        out = []
        for passage_id in passage_ids:
            rows = self._rows_of.get(passage_id)
            out.append(float(np.max(vectors[rows] @ query_vector)) if rows else 0.0)
        return out

    def _all_vectors(self) -> np.ndarray:
        if self._vectors is None:
            self._vectors = self._index.reconstruct_n(0, self._index.ntotal)
        return self._vectors

    def save(self, directory: Path) -> None:
        """Write the FAISS index and the row-to-passage map into ``directory``."""
        import faiss

        directory.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self._index, str(directory / _INDEX_FILE))
        (directory / _ROWS_FILE).write_text(json.dumps(list(self.row_ids)), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> VectorStore:
        """Read a store written by `save`, checking that its parts agree."""
        import faiss

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
