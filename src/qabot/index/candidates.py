"""Candidates, as the vector store and the keyword index propose them, and how passages are numbered.

Passage numbers are the one bridge between ids and arrays. A passage's number is its position
in ``Index.passages`` (the order of ``passages.jsonl``); the vector store's ``passage_ids``
and the keyword index's ``ids`` list the same ids in the same order, so a number means the same
passage to all three. `check_numbering` verifies that when an index is loaded
(`qabot.index.build.load_index`), and a loaded index's `qabot.index.passage_table.PassageTable` checks each
passage it reads against the store's id for its number, so a mismatched file is an
`IndexCorruptError`, never a wrong answer. Numbers never leave retrieval: hits carry passages, and FAISS rows and bm25s rows stay
inside `qabot.index.store` and `qabot.index.keyword`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Candidates:
    """One question's candidates, best first: passage ``numbers`` (int64) and their ``scores``."""

    numbers: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.numbers)

    def scores_of(self, wanted: np.ndarray) -> np.ndarray:
        """The scores of the passages ``wanted`` (0 for those not among these candidates).

        Only for candidates in passage-number order (as `qabot.index.keyword.KeywordIndex.matches`
        returns them), not best first.
        """
        return scores_at(self.numbers, self.scores, np.asarray(wanted, dtype=np.int64))


def scores_at(known: np.ndarray, scores: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """The score of each ``wanted`` key among ``known`` keys (ascending), 0 where it is absent
    (float32)."""
    if not len(known):
        return np.zeros(len(wanted), dtype=np.float32)
    at = np.minimum(np.searchsorted(known, wanted), len(known) - 1)
    return np.where(known[at] == wanted, scores[at], 0).astype(np.float32)


def no_candidates() -> Candidates:
    """Candidates of a question nothing matches."""
    return Candidates(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))


def check_numbering(passage_ids: Sequence[str], *numbered: Sequence[str]) -> bool:
    """Whether every sequence in ``numbered`` lists ``passage_ids`` in the same order."""
    expected = tuple(passage_ids)
    return all(tuple(ids) == expected for ids in numbered)
