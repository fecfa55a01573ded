"""Keyword scoring with bm25s (English stopwords, Snowball stemming), beside the vectors.

Keyword search catches what a small embedding model misses: rare names, numbers, codes and
domain terms. Passage ids go in and come out; bm25s row numbers never leave this module.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qabot.errors import IndexCorruptError

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


class LexicalIndex:
    """A BM25 index over passage texts, addressed by passage id."""

    def __init__(self, ids: Sequence[str], bm25: object) -> None:
        self.ids = tuple(ids)
        self.position = {passage_id: row for row, passage_id in enumerate(self.ids)}
        self._bm25 = bm25

    @classmethod
    def build(
        cls,
        ids: Sequence[str],
        texts: Sequence[str],
        *,
        k1: float = DEFAULT_K1,
        b: float = DEFAULT_B,
    ) -> LexicalIndex:
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

    def scores_batch(self, queries: Sequence[str]) -> np.ndarray:
        """BM25 score of every passage for every query, shape ``(len(queries), len(ids))``."""
        scores = np.zeros((len(queries), len(self.ids)), dtype=np.float32)
        for row, tokens in enumerate(tokenize(queries)):
            if tokens:
                scores[row] = self._bm25.get_scores(tokens)
        return scores

    def search_batch(self, queries: Sequence[str], top_k: int) -> list[list[tuple[str, float]]]:
        """The ``top_k`` best (passage id, score) pairs per query; zero scores are dropped."""
        results = []
        for row in self.scores_batch(queries):
            order = np.argsort(-row, kind="stable")[:top_k]
            results.append([(self.ids[i], float(row[i])) for i in order if row[i] > 0])
        return results

    def save(self, directory: Path) -> None:
        """Write the bm25s files and the id list into ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        self._bm25.save(str(directory), show_progress=False)
        (directory / _IDS_FILE).write_text(json.dumps(list(self.ids)), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex:
        """Read an index written by `save`."""
        import bm25s

        try:
            ids = json.loads((directory / _IDS_FILE).read_text(encoding="utf-8"))
            bm25 = bm25s.BM25.load(str(directory), show_progress=False)
        except (OSError, ValueError, KeyError) as exc:
            raise IndexCorruptError(f"Keyword index in {directory} is unreadable: {exc}") from exc
        return cls(ids, bm25)
