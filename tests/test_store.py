from pathlib import Path

import numpy as np
import pytest

from qabot.errors import IndexCorruptError
from qabot.store import VectorStore


def _unit(rows):
    array = np.array(rows, dtype=np.float32)
    return array / np.linalg.norm(array, axis=1, keepdims=True)


def test_search_takes_best_row_per_passage_and_filters_padding():
    vectors = _unit([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0]])
    store = VectorStore.build(["a", "a", "b"], vectors)
    query = _unit([[1, 0, 0]])
    [hits] = store.search_batch(query, top_k=5)
    # Two passages exist, so two hits come back, never a -1 row or a duplicate id.
    assert [pid for pid, _ in hits] == ["a", "b"]
    assert hits[0][1] == pytest.approx(1.0)
    assert hits[1][1] == pytest.approx(0.0, abs=1e-6)


def test_exact_scores_and_round_trip(tmp_path: Path):
    vectors = _unit([[1, 0], [0, 1], [1, 1]])
    store = VectorStore.build(["x", "y", "y"], vectors)
    store.save(tmp_path)
    loaded = VectorStore.load(tmp_path)
    assert loaded.row_ids == ("x", "y", "y")
    assert loaded.dimension == 2
    assert loaded.passage_ids == ("x", "y")
    scores = loaded.score_numbers(_unit([[0, 1]])[0], np.array([0, 1]))
    assert scores == pytest.approx([0.0, 1.0], abs=1e-6)  # y: the best of its two rows
    assert loaded.vectors.shape == (3, 2)


def test_corrupt_files_raise(tmp_path: Path):
    VectorStore.build(["x"], _unit([[1, 0]])).save(tmp_path)
    (tmp_path / "rows.json").write_text('["x", "y"]', encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="1 rows but 2 ids"):
        VectorStore.load(tmp_path)
    (tmp_path / "vectors.faiss").write_bytes(b"garbage")
    with pytest.raises(IndexCorruptError):
        VectorStore.load(tmp_path)


def test_search_numbers_gives_distinct_passage_numbers_best_first():
    # Passage 0 owns rows 0 and 2, passage 1 row 1, passage 2 row 3.
    vectors = _unit([[1, 0, 0], [0, 1, 0], [0.6, 0.8, 0], [0, 0, 1]])
    store = VectorStore.build(["a", "b", "a", "c"], vectors)
    assert store.passage_ids == ("a", "b", "c")
    queries = _unit([[0, 1, 0], [0, 0.1, 1]])
    first, second = store.search_numbers(queries, top_k=2)
    assert first.tolist() == [1, 0]  # b (1.0), then a by its second row (0.8)
    assert second.tolist() == [2, 1]
    assert [n.tolist() for n in store.search_numbers(queries, top_k=10)] == [[1, 0, 2], [2, 1, 0]]
    assert [n.tolist() for n in store.search_numbers(queries, top_k=0)] == [[], []]
    assert store.search_numbers(np.zeros((0, 3), dtype=np.float32), top_k=3) == []


def test_score_numbers_takes_each_passage_best_row_in_the_order_asked():
    vectors = _unit([[1, 0, 0], [0, 1, 0], [0.6, 0.8, 0], [0, 0, 1]])
    store = VectorStore.build(["a", "b", "a", "c"], vectors)
    query = _unit([[0, 1, 0]])[0]
    scores = store.score_numbers(query, np.array([2, 0, 1]))
    assert scores == pytest.approx([0.0, 0.8, 1.0], abs=1e-6)
    assert store.score_numbers(query, np.array([], dtype=np.int64)).shape == (0,)


def test_loaded_store_searches_like_the_built_one(tmp_path: Path):
    vectors = _unit([[1, 0, 0], [0, 1, 0], [0.6, 0.8, 0], [0, 0, 1]])
    VectorStore.build(["a", "b", "a", "c"], vectors).save(tmp_path)
    loaded = VectorStore.load(tmp_path)
    query = _unit([[0.6, 0.8, 0]])
    assert [n.tolist() for n in loaded.search_numbers(query, top_k=3)] == [[0, 1, 2]]
    assert loaded.score_numbers(query[0], np.array([0, 1, 2])) == pytest.approx(
        [1.0, 0.8, 0.0], abs=1e-6
    )
    assert loaded.vectors == pytest.approx(vectors)


def test_build_rejects_vectors_that_do_not_match_the_ids():
    with pytest.raises(ValueError, match="for 3 ids"):
        VectorStore.build(["a", "b", "c"], _unit([[1, 0], [0, 1]]))
