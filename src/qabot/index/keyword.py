"""Keyword scoring with bm25s (English stopwords, Snowball stemming), beside the vectors.

Keyword search catches what a small embedding model misses: rare names, numbers, codes and
domain terms. Rows are numbered in the order of ``ids`` (for the passage index, passage numbers:
`qabot.index.candidates`).

A question is scored from bm25s's precomputed sparse matrix (one column of row scores per token):
only the posting lists of the question's own tokens are read and summed, in token order as bm25s
does, so the scores are bm25s's to the bit, yet no question ever costs a vector as long as the
corpus. A loaded index is memory-mapped: replicas share its pages.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qabot.errors import IndexCorruptError
from qabot.index.candidates import Candidates, no_candidates

DEFAULT_K1 = 1.2
DEFAULT_B = 0.75
_IDS_FILE = "ids.json"
_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # bm25s's default token pattern
_EMPTY = "\x00empty"


@functools.cache
def _stemmer() -> object:
    # Built once per process: creating a Snowball stemmer costs more than tokenising a question.
    import Stemmer

    return Stemmer.Stemmer("english")


@functools.cache
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Lower-cased, stopword-free, stemmed tokens for each text (bm25s's own English rules)."""
    stem, stopwords = _stemmer().stemWords, _stopwords()
    return [stem([w for w in _TOKEN.findall(t.lower()) if w not in stopwords]) for t in texts]


class KeywordIndex:
    """A BM25 index over passage texts, addressed by passage id."""

    def __init__(self, ids: Sequence[str], bm25: object) -> None:
        self.ids = tuple(ids)
        self._bm25 = bm25

    @functools.cached_property
    def position(self) -> dict[str, int]:
        """Each id's row number (made when first asked for: serving never needs it)."""
        return {passage_id: row for row, passage_id in enumerate(self.ids)}

    @classmethod
    def build(
        cls,
        ids: Sequence[str],
        texts: Sequence[str],
        *,
        k1: float = DEFAULT_K1,
        b: float = DEFAULT_B,
    ) -> KeywordIndex:
        """Index ``texts``, one per id."""
        import bm25s

        if len(ids) != len(texts):
            raise ValueError(f"{len(ids)} ids for {len(texts)} texts")
        bm25 = bm25s.BM25(k1=k1, b=b)
        # A text with no indexable token would make bm25s fail; a placeholder keeps rows aligned.
        tokens = [t or [_EMPTY] for t in tokenize(texts)]
        bm25.index(tokens, show_progress=False)
        return cls(ids, bm25)

    @functools.cached_property
    def vocabulary(self) -> frozenset[str]:
        """Every token of the indexed texts (as `tokenize` makes them)."""
        vocab = getattr(self._bm25, "vocab_dict", None) or {}
        return frozenset(t for t in vocab if t and t != _EMPTY)

    @functools.cached_property
    def _postings(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """bm25s's score matrix (indptr, indices, data) as plain views of its memory maps:
        each np.memmap index costs Python overhead, and a question indexes them dozens of times."""
        matrix = self._bm25.scores
        return tuple(np.asarray(matrix[name]) for name in ("indptr", "indices", "data"))

    def matches(self, query: str) -> Candidates:
        """Every row sharing a token with ``query``, by row number, with its BM25 score."""
        return self.matches_batch([query])[0]

    def matches_batch(self, queries: Sequence[str]) -> list[Candidates]:
        """`matches` of each query, worked out for the batch in a few numpy calls."""
        vocab = getattr(self._bm25, "vocab_dict", None) or {}
        indptr, indices, data = self._postings
        spans = [
            [(int(indptr[t]), int(indptr[t + 1])) for t in (vocab[w] for w in words if w in vocab)]
            for words in tokenize(queries)
        ]
        counts = [sum(b - a for a, b in query) for query in spans]
        if not sum(counts):
            return [no_candidates() for _ in queries]
        flat = [span for query in spans for span in query]
        rows = np.concatenate([indices[a:b] for a, b in flat]).astype(np.int64)
        stride = len(self.ids) + 1
        owner = np.repeat(np.arange(len(queries), dtype=np.int64), counts)
        keys, slot = np.unique(owner * stride + rows, return_inverse=True)
        scores = np.zeros(len(keys), dtype=data.dtype)
        # np.add.at sums in order, token after token, exactly as bm25s's own scoring loop.
        np.add.at(scores, slot, np.concatenate([data[a:b] for a, b in flat]))
        whose = keys // stride
        bounds = np.searchsorted(whose, np.arange(len(queries) + 1)).tolist()
        numbers = keys - whose * stride
        return [Candidates(numbers[a:b], scores[a:b]) for a, b in itertools.pairwise(bounds)]

    def search_batch(self, queries: Sequence[str], top_k: int) -> list[Candidates]:
        """The ``top_k`` best rows per query, best first (ties by row); zero scores dropped."""
        return [best_matches(found, top_k) for found in self.matches_batch(queries)]

    def score_batch(
        self, queries: Sequence[str], numbers: Sequence[np.ndarray]
    ) -> list[np.ndarray]:
        """BM25 of each query on the rows ``numbers[i]`` (0 where no token is shared)."""
        return [
            found.scores_of(wanted)
            for found, wanted in zip(self.matches_batch(queries), numbers, strict=True)
        ]

    def scores_batch(self, queries: Sequence[str]) -> np.ndarray:
        """BM25 of every row for every query, ``(len(queries), len(ids))``.

        For research scripts over small corpora (``bench/``); retrieval never builds this
        matrix, it reads `matches` once per question.
        """
        scores = np.zeros((len(queries), len(self.ids)), dtype=np.float32)
        for row, found in enumerate(self.matches_batch(queries)):
            scores[row, found.numbers] = found.scores
        return scores

    def save(self, directory: Path) -> None:
        """Write the bm25s files and the id list into ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        self._bm25.save(str(directory), show_progress=False)
        (directory / _IDS_FILE).write_text(json.dumps(list(self.ids)), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> KeywordIndex:
        """Read an index written by `save`."""
        import bm25s

        try:
            ids = json.loads((directory / _IDS_FILE).read_text(encoding="utf-8"))
            bm25 = bm25s.BM25.load(str(directory), mmap=True, show_progress=False)
        except (OSError, ValueError, KeyError) as exc:
            raise IndexCorruptError(f"Keyword index in {directory} is unreadable: {exc}") from exc
        return cls(ids, bm25)


def best_matches(found: Candidates, top_k: int) -> Candidates:
    """The ``top_k`` best of `KeywordIndex.matches`, best first (ties by row); zeros dropped."""
    scores, top_k = found.scores, max(top_k, 0)
    # Rows come in row order, so a stable sort by score breaks ties by row. Only the rows at or
    # above the top_k-th best score are sorted: the same first top_k, without sorting them all.
    if 0 < top_k < len(scores):
        kth = np.partition(scores, len(scores) - top_k)[len(scores) - top_k]
        chosen = np.flatnonzero(scores >= kth)
    else:
        chosen = np.arange(len(scores))
    order = chosen[np.argsort(-scores[chosen], kind="stable")][:top_k]
    order = order[scores[order] > 0]
    return Candidates(found.numbers[order], scores[order])
