"""How close two short strings are: difflib's ratio, and a test against a threshold that skips
the matching when a cheap upper bound already rules it out (small talk compares every new word
with every word of its set, so this is most of what an unseen question costs it)."""

from __future__ import annotations

import functools
from collections import Counter
from difflib import SequenceMatcher

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
