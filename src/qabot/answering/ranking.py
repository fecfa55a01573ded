"""Ranking many questions' candidates at once: segmented arrays, a few numpy calls per batch.

A batch's candidates are laid out flat, question after question (`Segments`): entries
``starts[q]:starts[q + 1]`` are question ``q``'s passages, in passage-number order. Each step of
ranking (the union of proposals, keyword lookups, per-question normalisation, the best ``k``,
margins over rivals) is then a few numpy calls for the whole batch rather than a few per
question: at StackFAQ's size the per-question calls cost a third of the question encode
(``bench/results/answer-profile.md``).

Question by question, every function gives exactly what its one-question form gives: orders are
stable, so ties keep passage-number order.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qabot.index.candidates import Candidates, no_candidates, scores_at


@dataclass(frozen=True)
class Segments:
    """A batch's entries, grouped by question: ``numbers`` (int64 passage numbers), each
    entry's ``question`` and the ``starts`` of each question's run (``questions + 1`` of them)."""

    numbers: np.ndarray
    question: np.ndarray
    starts: np.ndarray

    def __len__(self) -> int:
        return len(self.numbers)

    @property
    def questions(self) -> int:
        return len(self.starts) - 1

    def keys(self, stride: int) -> np.ndarray:
        """One sortable key per entry: ``question * stride + number``."""
        return self.question * stride + self.numbers


def union(proposals: Sequence[Sequence[np.ndarray]], stride: int) -> Segments:
    """Each question's union of its proposed passage numbers, in passage-number order.

    ``stride`` is more than any passage number (the index's passage count will do).
    """
    parts = [np.asarray(p, dtype=np.int64) for question in proposals for p in question]
    counts = [sum(len(p) for p in question) for question in proposals]
    question = np.repeat(np.arange(len(proposals), dtype=np.int64), counts)
    numbers = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    keys = np.unique(question * stride + numbers)
    question = keys // stride
    starts = np.searchsorted(question, np.arange(len(proposals) + 1)).astype(np.int64)
    return Segments(keys - question * stride, question, starts)


def lookup(segments: Segments, found: Sequence[Candidates], stride: int) -> np.ndarray:
    """Each entry's score among its question's ``found`` (in passage-number order, as
    `qabot.index.keyword.KeywordIndex.matches` returns them); 0 where it is not there. float32."""
    found = [*found, no_candidates()]  # concatenation needs one array at least
    question = np.repeat(np.arange(len(found), dtype=np.int64), [len(f) for f in found])
    known = question * stride + np.concatenate([f.numbers for f in found])
    scores = np.concatenate([f.scores for f in found])
    return scores_at(known, scores, segments.keys(stride))


def segment_max(values: np.ndarray, segments: Segments, empty: float = 0.0) -> np.ndarray:
    """The largest of each question's values (``empty`` for a question without entries)."""
    out = np.full(segments.questions, empty, dtype=values.dtype)
    present = segments.starts[1:] > segments.starts[:-1]
    if present.any():
        out[present] = np.maximum.reduceat(values, segments.starts[:-1][present])
    return out


def best_first(score: np.ndarray, segments: Segments, k: int) -> np.ndarray:
    """Each question's ``k`` best entries by ``score``, best first, question after question
    (flat entry positions; ties keep passage-number order, as a stable sort does)."""
    # One small sort per question is faster than one lexsort over the batch (and the same).
    bounds = segments.starts.tolist()
    best = [a + np.argsort(-score[a:b], kind="stable")[:k] for a, b in itertools.pairwise(bounds)]
    return np.concatenate(best).astype(np.int64) if best else np.zeros(0, dtype=np.int64)


def rival_margins(
    dense: np.ndarray,
    fused: np.ndarray,
    keys: np.ndarray,
    segments: Segments,
    chosen: np.ndarray,
    rivals: int,
) -> np.ndarray:
    """The dense lead of each ``chosen`` entry over its best rival; 1.0 where it has none.

    A rival is one of its question's ``rivals`` best entries by ``fused`` whose answer ``key``
    differs (another FAQ question or passage).
    """
    pool = best_first(fused, segments, rivals)
    whose = segments.question[pool]
    slot = np.arange(len(pool)) - np.searchsorted(whose, whose)
    pool_dense = np.full((segments.questions, max(rivals, 1)), -np.inf, dtype=dense.dtype)
    pool_keys = np.full(pool_dense.shape, -1, dtype=keys.dtype)
    pool_dense[whose, slot] = dense[pool]
    pool_keys[whose, slot] = keys[pool]
    asked = segments.question[chosen]
    other = pool_keys[asked] != keys[chosen][:, None]
    best = np.where(other, pool_dense[asked], -np.inf).max(axis=1, initial=-np.inf)
    return np.where(np.isfinite(best), dense[chosen] - best, 1.0)
