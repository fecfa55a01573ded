"""Ranking metrics against hand-computed values, including ties and short rankings."""

from __future__ import annotations

import math

import pytest

from qabot.evaluation.metrics import (
    RANKING_KEYS,
    dcg_at,
    hit_at,
    ndcg_at,
    percentile,
    ranking_metrics,
    recall_at,
    reciprocal_rank,
)

LOG3 = math.log2(3)


def test_relevant_second():
    ranking = ["a", "b", "c"]
    assert hit_at(ranking, {"b"}, 1) == 0.0
    assert hit_at(ranking, {"b"}, 5) == 1.0
    assert reciprocal_rank(ranking, {"b"}, 10) == 0.5
    assert ndcg_at(ranking, {"b"}, 10) == pytest.approx(1 / LOG3)
    assert recall_at(ranking, {"b"}, 100) == 1.0


def test_relevant_first_is_perfect():
    metrics = ranking_metrics(["a", "b"], {"a"})
    assert metrics == {key: 1.0 for key in RANKING_KEYS}


def test_relevant_below_the_cut_counts_for_nothing():
    ranking = [f"x{i}" for i in range(10)] + ["gold"]
    assert reciprocal_rank(ranking, {"gold"}, 10) == 0.0
    assert reciprocal_rank(ranking, {"gold"}, 11) == pytest.approx(1 / 11)
    assert ndcg_at(ranking, {"gold"}, 10) == 0.0
    assert hit_at(ranking, {"gold"}, 5) == 0.0
    assert recall_at(ranking, {"gold"}, 10) == 0.0
    assert recall_at(ranking, {"gold"}, 100) == 1.0


def test_fewer_results_than_k():
    assert ranking_metrics(["x"], {"a"}) == {key: 0.0 for key in RANKING_KEYS}
    assert ranking_metrics([], {"a"}) == {key: 0.0 for key in RANKING_KEYS}
    # One of two relevant ids found, first: DCG 1, ideal DCG 1 + 1/log2(3).
    assert ndcg_at(["a"], {"a", "b"}, 10) == pytest.approx(1 / (1 + 1 / LOG3))
    assert recall_at(["a"], {"a", "b"}, 100) == 0.5
    assert hit_at(["a"], {"a", "b"}, 5) == 1.0


def test_no_relevant_ids_scores_zero():
    assert ndcg_at(["a"], {}, 10) == 0.0
    assert recall_at(["a"], set(), 100) == 0.0
    assert hit_at(["a"], {"a": 0}, 1) == 0.0  # grade 0 means not relevant


def test_graded_relevance():
    grades = {"a": 2, "b": 1}
    assert dcg_at(["b", "a"], grades, 10) == pytest.approx(1 + 2 / LOG3)
    assert ndcg_at(["b", "a"], grades, 10) == pytest.approx((1 + 2 / LOG3) / (2 + 1 / LOG3))
    assert ndcg_at(["a", "b"], grades, 10) == pytest.approx(1.0)


def test_tie_between_two_counts_half():
    ranking, scores = ["x", "a"], [0.9, 0.9]
    assert hit_at(ranking, {"a"}, 1, scores) == 0.5
    assert reciprocal_rank(ranking, {"a"}, 10, scores) == pytest.approx((1 + 1 / 2) / 2)
    assert ndcg_at(ranking, {"a"}, 10, scores) == pytest.approx(0.5 * (1 + 1 / LOG3))
    assert recall_at(ranking, {"a"}, 1, scores) == 0.5
    # Without scores the given order stands.
    assert hit_at(ranking, {"a"}, 1) == 0.0


def test_tie_of_three_hand_computed():
    ranking, scores = ["x", "y", "a"], [0.5, 0.5, 0.5]
    assert hit_at(ranking, {"a"}, 2, scores) == pytest.approx(2 / 3)
    assert reciprocal_rank(ranking, {"a"}, 10, scores) == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)
    # Two relevant in the group: the first of them is at rank 1 (2/3), or rank 2 (1/3).
    assert reciprocal_rank(ranking, {"a", "y"}, 10, scores) == pytest.approx(2 / 3 + 1 / 6)
    assert hit_at(ranking, {"a", "y"}, 1, scores) == pytest.approx(2 / 3)


def test_tie_straddling_the_cut():
    ranking, scores = ["top", "x", "a"], [1.0, 0.5, 0.5]
    assert hit_at(ranking, {"a"}, 2, scores) == pytest.approx(0.5)
    assert recall_at(ranking, {"a"}, 2, scores) == pytest.approx(0.5)
    assert reciprocal_rank(ranking, {"a"}, 2, scores) == pytest.approx(0.5 * 1 / 2)


def test_tied_metrics_do_not_depend_on_the_order_given():
    scores = [0.7, 0.7, 0.7, 0.2]
    first = ranking_metrics(["a", "x", "y", "z"], {"a", "z"}, scores)
    second = ranking_metrics(["y", "x", "a", "z"], {"a", "z"}, scores)
    assert first == pytest.approx(second)


def test_scores_must_match_the_ranking():
    with pytest.raises(ValueError, match="2 scores"):
        hit_at(["a"], {"a"}, 1, [0.1, 0.2])


def test_percentile_interpolates():
    assert percentile([], 0.5) == 0.0
    assert percentile([3.0], 0.95) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == pytest.approx(2.5)
    assert percentile(list(map(float, range(101))), 0.95) == pytest.approx(95.0)
