"""Ranking metrics: pure functions over one question's ranking (ids in, a number out).

``ranking`` is a question's retrieved ids, best first, without repeats. ``relevant`` maps each
relevant id to its grade (a plain collection of ids means grade 1; a grade of 0 or less is not
relevant). A ranking shorter than the cut-off simply has nothing below its end.

Ties: when ``scores`` (one per ranked id) are given, items with equal scores have no order
between them, and every metric is the expected value over all orders of each tied group
(McSherry & Najork, "Computing information retrieval performance measures efficiently in the
presence of tied scores", ECIR 2008). A figure then never depends on an arbitrary tie-break.
Without ``scores`` the ranking is taken as given.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from math import comb

Relevance = Mapping[str, float] | Collection[str]


def hit_at(
    ranking: Sequence[str], relevant: Relevance, top_k: int, scores: Sequence[float] | None = None
) -> float:
    """1.0 when a relevant id is in the first ``top_k`` (tied groups: the probability of it)."""
    grades = _grades(relevant)
    for start, size, hits in _groups(ranking, grades, scores):
        if start >= top_k:
            return 0.0
        slots = min(size, top_k - start)
        if hits:
            # Chance that at least one of the group's relevant items lands in its first slots.
            return 1.0 - comb(size - hits, slots) / comb(size, slots)
    return 0.0


def reciprocal_rank(
    ranking: Sequence[str], relevant: Relevance, top_k: int, scores: Sequence[float] | None = None
) -> float:
    """1 / rank of the first relevant id within ``top_k``, else 0 (expected value over ties)."""
    grades = _grades(relevant)
    for start, size, hits in _groups(ranking, grades, scores):
        if start >= top_k:
            return 0.0
        if hits:
            expected = 0.0
            for offset in range(min(size - hits, top_k - start - 1) + 1):
                # P(the first relevant item of a random order is at ``offset`` in the group).
                chance = comb(size - offset - 1, hits - 1) / comb(size, hits)
                expected += chance / (start + offset + 1)
            return expected
    return 0.0


def dcg_at(
    ranking: Sequence[str], relevant: Relevance, top_k: int, scores: Sequence[float] | None = None
) -> float:
    """Discounted cumulative gain: ``sum(grade / log2(rank + 1))`` over the first ``top_k``."""
    grades = _grades(relevant)
    total = 0.0
    for start, size, _ in _groups(ranking, grades, scores):
        if start >= top_k:
            break
        group = ranking[start : start + size]
        mean_gain = sum(grades.get(item, 0.0) for item in group) / size
        discounts = sum(
            1.0 / math.log2(rank + 2) for rank in range(start, min(start + size, top_k))
        )
        total += mean_gain * discounts
    return total


def ndcg_at(
    ranking: Sequence[str], relevant: Relevance, top_k: int, scores: Sequence[float] | None = None
) -> float:
    """DCG over the DCG of the ideal ranking (all relevant ids, best grades first); 0 if none."""
    grades = _grades(relevant)
    ideal_order = sorted(grades, key=lambda item: -grades[item])
    ideal = dcg_at(ideal_order, grades, top_k)
    return dcg_at(ranking, grades, top_k, scores) / ideal if ideal > 0 else 0.0


def recall_at(
    ranking: Sequence[str], relevant: Relevance, top_k: int, scores: Sequence[float] | None = None
) -> float:
    """Share of the relevant ids found in the first ``top_k`` (expected value over ties)."""
    grades = _grades(relevant)
    if not grades:
        return 0.0
    found = 0.0
    for start, size, hits in _groups(ranking, grades, scores):
        if start >= top_k:
            break
        found += hits * min(size, top_k - start) / size
    return found / len(grades)


def ranking_metrics(
    ranking: Sequence[str], relevant: Relevance, scores: Sequence[float] | None = None
) -> dict[str, float]:
    """The report's ranking metrics for one question, under their JSON keys."""
    return {
        "hit@1": hit_at(ranking, relevant, 1, scores),
        "hit@5": hit_at(ranking, relevant, 5, scores),
        "mrr@10": reciprocal_rank(ranking, relevant, 10, scores),
        "ndcg@10": ndcg_at(ranking, relevant, 10, scores),
        "recall@100": recall_at(ranking, relevant, 100, scores),
    }


RANKING_KEYS = ("hit@1", "hit@5", "mrr@10", "ndcg@10", "recall@100")


def percentile(values: Sequence[float], share: float) -> float:
    """The ``share`` (0..1) percentile of ``values``, linearly interpolated; 0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = share * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _grades(relevant: Relevance) -> dict[str, float]:
    if isinstance(relevant, Mapping):
        return {item: float(grade) for item, grade in relevant.items() if grade > 0}
    return dict.fromkeys(relevant, 1.0)


def _groups(
    ranking: Sequence[str], grades: Mapping[str, float], scores: Sequence[float] | None
) -> list[tuple[int, int, int]]:
    """(start, size, relevant count) of each run of equal scores; singletons without scores."""
    if scores is not None and len(scores) != len(ranking):
        raise ValueError(f"{len(scores)} scores for a ranking of {len(ranking)} ids")
    groups: list[tuple[int, int, int]] = []
    start = 0
    while start < len(ranking):
        end = start + 1
        if scores is not None:
            while end < len(ranking) and scores[end] == scores[start]:
                end += 1
        hits = sum(1 for item in ranking[start:end] if item in grades)
        groups.append((start, end - start, hits))
        start = end
    return groups
