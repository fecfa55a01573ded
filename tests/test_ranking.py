"""The batch ranking maths give, question by question, what the one-question forms give."""

import numpy as np
import pytest

from qabot.answering.ranking import (
    Segments,
    best_first,
    lookup,
    rival_margins,
    segment_max,
    union,
)
from qabot.index.candidates import Candidates

STRIDE = 50


def _proposals(rng: np.random.Generator, questions: int) -> list[list[np.ndarray]]:
    # Some questions propose nothing at all; numbers repeat within and across proposals.
    return [
        [rng.integers(0, STRIDE, size=int(rng.integers(0, 12))) for _ in range(3)]
        for _ in range(questions)
    ]


def _segments(seed: int, questions: int = 9) -> tuple[Segments, np.random.Generator]:
    rng = np.random.default_rng(seed)
    return union(_proposals(rng, questions), STRIDE), rng


@pytest.mark.parametrize("seed", range(5))
def test_union_is_each_questions_sorted_union(seed):
    proposals = _proposals(np.random.default_rng(seed), 9)
    segments = union(proposals, STRIDE)
    for q, parts in enumerate(proposals):
        a, b = segments.starts[q], segments.starts[q + 1]
        assert segments.numbers[a:b].tolist() == np.unique(np.concatenate(parts)).tolist()
        assert (segments.question[a:b] == q).all()
    assert segments.questions == 9 and segments.numbers.dtype == np.int64


def test_union_of_no_questions_and_of_empty_ones():
    assert len(union([], STRIDE)) == 0 and union([], STRIDE).questions == 0
    empty = union([[np.zeros(0, dtype=np.int64)], []], STRIDE)
    assert empty.starts.tolist() == [0, 0, 0]


@pytest.mark.parametrize("seed", range(5))
def test_lookup_is_scores_of_per_question(seed):
    segments, rng = _segments(seed)
    found = []
    for _ in range(segments.questions):
        numbers = np.unique(rng.integers(0, STRIDE, size=int(rng.integers(0, 20))))
        found.append(Candidates(numbers, rng.random(len(numbers)).astype(np.float32)))
    got = lookup(segments, found, STRIDE)
    for q, f in enumerate(found):
        a, b = segments.starts[q], segments.starts[q + 1]
        assert got[a:b].tolist() == f.scores_of(segments.numbers[a:b]).tolist()
    assert got.dtype == np.float32


def test_segment_max_gives_empty_questions_the_default():
    segments = union([[np.array([1, 2])], [], [np.array([4])]], STRIDE)
    values = np.array([0.5, 2.0, 7.0])
    assert segment_max(values, segments).tolist() == [2.0, 0.0, 7.0]
    assert segment_max(values, segments, empty=-1.0).tolist() == [2.0, -1.0, 7.0]


@pytest.mark.parametrize("seed", range(5))
def test_best_first_is_a_stable_sort_per_question(seed):
    segments, rng = _segments(seed)
    score = rng.integers(0, 4, size=len(segments)).astype(float)  # many ties
    got = best_first(score, segments, 3)
    expected = [
        a + np.argsort(-score[a:b], kind="stable")[:3]
        for a, b in zip(segments.starts[:-1], segments.starts[1:], strict=True)
    ]
    assert got.tolist() == np.concatenate(expected).tolist()


def _margin_by_hand(dense, fused, keys, a, b, chosen, rivals):
    pool = a + np.argsort(-fused[a:b], kind="stable")[:rivals]
    others = [i for i in pool if keys[i] != keys[chosen]]
    return float(dense[chosen] - max(dense[i] for i in others)) if others else 1.0


@pytest.mark.parametrize("seed", range(5))
def test_rival_margins_match_the_one_question_rule(seed):
    segments, rng = _segments(seed)
    dense = rng.random(len(segments)).astype(np.float32)
    fused = rng.random(len(segments))
    keys = rng.integers(0, 4, size=len(segments))  # shared keys: entries that are not rivals
    chosen = best_first(fused, segments, 3)
    got = rival_margins(dense, fused, keys, segments, chosen, rivals=4)
    for slot, entry in enumerate(chosen):
        q = segments.question[entry]
        a, b = segments.starts[q], segments.starts[q + 1]
        assert got[slot] == pytest.approx(
            _margin_by_hand(dense, fused, keys, a, b, entry, 4), abs=0
        )


def test_a_question_whose_entries_share_one_key_has_margin_one():
    segments = union([[np.array([3, 5])]], STRIDE)
    got = rival_margins(
        np.array([0.9, 0.2], dtype=np.float32),
        np.array([0.9, 0.2]),
        np.array([7, 7]),
        segments,
        np.array([0, 1]),
        rivals=10,
    )
    assert got.tolist() == [1.0, 1.0]
