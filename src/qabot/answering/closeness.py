"""How close two short strings are: difflib's ratio, and a test against a threshold that skips
the matching when a cheap upper bound already rules it out (small talk compares every new word
with every word of its set, so this is most of what an unseen question costs it)."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable
from difflib import SequenceMatcher

import numpy as np

KEPT = 10_000  # string pairs (and words' letters) remembered


def ratio(a: str, b: str) -> float:
    """difflib's similarity of two strings, 0 to 1 (1.0 when equal)."""
    return 1.0 if a == b else SequenceMatcher(None, a, b).ratio()


@functools.lru_cache(maxsize=KEPT)
def close(a: str, b: str, threshold: float) -> bool:
    """``ratio(a, b) >= threshold``, without matching when a cheap upper bound rules it out.

    difflib's ratio is ``2·M / (len(a) + len(b))``, where the matched letters ``M`` are at
    most the shorter length and at most the letters the two share (its ``quick_ratio``). The
    bounds are computed as difflib computes its ratios, so they never rule out an equal one.
    """
    total = len(a) + len(b)
    if total and 2.0 * min(len(a), len(b)) / total < threshold:
        return False
    if total and 2.0 * _shared_letters(a, b) / total < threshold:
        return False
    return ratio(a, b) >= threshold


def _shared_letters(a: str, b: str) -> int:
    """How many letters ``a`` and ``b`` share, counted with repeats."""
    letters = _letters(b)
    return sum(min(count, letters[letter]) for letter, count in _letters(a).items())


@functools.lru_cache(maxsize=KEPT)
def _letters(word: str) -> Counter[str]:
    return Counter(word)


class Vocabulary:
    """A set of words, asked which of them a word is close to.

    The letters each word shares with the asked word are counted for all of them at once
    (``quick_ratio``'s bound, as one numpy product), so that difflib matches only the few
    words the bound leaves: a new word costs microseconds, not a match per word of the set.
    """

    def __init__(self, words: Iterable[str]) -> None:
        self.words = tuple(dict.fromkeys(words))
        self._column = {c: i for i, c in enumerate(sorted({c for w in self.words for c in w}))}
        self._letters = np.zeros((len(self.words), len(self._column)), dtype=np.int64)
        for row, word in enumerate(self.words):
            for letter in word:
                self._letters[row, self._column[letter]] += 1
        self._lengths = np.array([len(w) for w in self.words], dtype=np.int64)

    def any_close(self, word: str, threshold: float) -> bool:
        """Whether ``close(word, w, threshold)`` for some word ``w`` of the set."""
        counts = np.zeros(len(self._column), dtype=np.int64)
        for letter in word:
            if letter in self._column:  # a letter no word of the set has is shared by none
                counts[self._column[letter]] += 1
        shared = np.minimum(self._letters, counts).sum(axis=1)
        total = self._lengths + len(word)
        bound = np.divide(2.0 * shared, total, out=np.ones(len(total)), where=total > 0)
        return any(
            close(word, self.words[i], threshold) for i in np.flatnonzero(bound >= threshold)
        )
