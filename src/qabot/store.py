"""The vector store: the only module that imports faiss.

Rows are L2-normalised float32 vectors, so a row's score is its cosine similarity to the query.
Each passage owns several rows tagged by grain (`qabot.evidence`): its whole text, its FAQ
question(s), its sentences. Rows are stored passage by passage, grains in order. Candidate
generation searches the whole and question rows in an exact inner-product FAISS index; the
candidates' evidence is then a gather over all their rows (sentences included), so that one
question costs one encode, one FAISS search and a small matrix product. Passage ids go in and
come out; row numbers never leave this module.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from qabot.errors import IndexCorruptError
from qabot.evidence import GRAIN_SENTENCE, gather_rows, grain_maxima, passage_offsets

_VECTORS_FILE = "rows.npy"
_ROW_PASSAGE_FILE = "row_passage.npy"
_ROW_GRAIN_FILE = "row_grain.npy"
_IDS_FILE = "passage_ids.json"


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

    ``grains`` is ``(n, 3)``, the best cosine per grain (`qabot.evidence.grain_maxima`);
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

    Args:
        passage_ids: one id per passage, in order.
        vectors: ``(rows, d)`` float32, every grain row.
        row_passage: each row's passage number (rows grouped by passage, then grain).
        row_grain: each row's grain.
    """

    def __init__(
        self,
        passage_ids: Sequence[str],
        vectors: np.ndarray,
        row_passage: np.ndarray,
        row_grain: np.ndarray,
    ) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or not len(vectors) == len(row_passage) == len(row_grain):
            raise ValueError(
                f"vectors of shape {vectors.shape} for {len(row_passage)} rows "
                f"and {len(row_grain)} grains"
            )
        if len(row_passage) and not 0 <= int(np.min(row_passage)) <= int(np.max(row_passage)) < len(
            passage_ids
        ):
            raise ValueError(f"row passage numbers outside 0..{len(passage_ids) - 1}")
        self.passage_ids = tuple(passage_ids)
        self.vectors = vectors
        self.row_passage = np.asarray(row_passage, dtype=np.int32)
        self.row_grain = np.asarray(row_grain, dtype=np.int8)
        self._offsets = passage_offsets(self.row_passage, len(self.passage_ids))
        searchable = self.row_grain != GRAIN_SENTENCE
        self._searchable = np.flatnonzero(searchable)
        counts = np.bincount(self.row_passage[searchable], minlength=len(self.passage_ids))
        self._most_searchable = max(1, int(counts.max(initial=1)))
        # The first sentence row of each passage: a sentence row's rank among its passage's
        # sentences is its distance from it.
        is_sentence = self.row_grain == GRAIN_SENTENCE
        firsts = np.full(len(self.passage_ids), -1, dtype=np.int64)
        rows = np.flatnonzero(is_sentence)[::-1]
        firsts[self.row_passage[rows]] = rows  # written last to first: the first row wins
        self._first_sentence = firsts
        faiss = _faiss()
        self._index = faiss.IndexFlatIP(vectors.shape[1])
        self._index.add(vectors[self._searchable])

    @property
    def dimension(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.vectors)

    @classmethod
    def build(
        cls,
        passage_ids: Sequence[str],
        vectors: np.ndarray,
        row_passage: np.ndarray,
        row_grain: np.ndarray,
    ) -> VectorStore:
        """A store of these rows (the constructor, under the name the other stores use)."""
        return cls(passage_ids, vectors, row_passage, row_grain)

    def search_numbers(self, query_vectors: np.ndarray, top_k: int) -> list[np.ndarray]:
        """The numbers of the ``top_k`` best passages per query by whole/question rows."""
        if len(query_vectors) == 0 or top_k <= 0:
            return [np.zeros(0, dtype=np.int64) for _ in range(len(query_vectors))]
        # Over-fetch so that top_k distinct passages survive the max over each one's rows.
        wanted = min(len(self._searchable), top_k * self._most_searchable)
        _, found = self._index.search(np.ascontiguousarray(query_vectors, dtype=np.float32), wanted)
        results = []
        for row_list in found:
            numbers = self.row_passage[self._searchable[row_list[row_list >= 0]]]
            _, first = np.unique(numbers, return_index=True)  # FAISS pads with -1 (dropped)
            results.append(numbers[np.sort(first)][:top_k].astype(np.int64))
        return results

    def evidence(self, query_vector: np.ndarray, candidates: np.ndarray) -> Evidence:
        """One query's grain evidence for the given passages: a gather over their rows only."""
        candidates = np.asarray(candidates, dtype=np.int64)
        rows, owner = gather_rows(self._offsets, candidates)
        row_scores = self.vectors[rows] @ np.asarray(query_vector, dtype=np.float32)
        grain = self.row_grain[rows]
        grains = grain_maxima(row_scores, owner, grain, len(candidates))
        return Evidence(candidates, grains, rows, owner, grain, row_scores)

    def sentence_number(self, row: int) -> int:
        """Which sentence of its passage a sentence row is (0 = the first)."""
        return int(row - self._first_sentence[self.row_passage[row]])

    def save(self, directory: Path) -> None:
        """Write the rows and the passage ids into ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / _VECTORS_FILE, self.vectors)
        np.save(directory / _ROW_PASSAGE_FILE, self.row_passage)
        np.save(directory / _ROW_GRAIN_FILE, self.row_grain)
        (directory / _IDS_FILE).write_text(json.dumps(list(self.passage_ids)), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> VectorStore:
        """Read a store written by `save`, checking that its parts agree."""
        try:
            passage_ids = json.loads((directory / _IDS_FILE).read_text(encoding="utf-8"))
            vectors, row_passage, row_grain = (
                np.load(directory / name, allow_pickle=False)
                for name in (_VECTORS_FILE, _ROW_PASSAGE_FILE, _ROW_GRAIN_FILE)
            )
            return cls(passage_ids, vectors, row_passage, row_grain)
        except (OSError, ValueError, TypeError, IndexError) as exc:
            raise IndexCorruptError(f"Vector index in {directory} is unreadable: {exc}") from exc
