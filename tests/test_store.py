from pathlib import Path

import numpy as np
import pytest

from qabot.documents.grains import GRAIN_QUESTION, GRAIN_SENTENCE, GRAIN_WHOLE
from qabot.errors import IndexCorruptError
from qabot.index.store import VectorStore

W, Q, S = GRAIN_WHOLE, GRAIN_QUESTION, GRAIN_SENTENCE


def _unit(rows):
    array = np.array(rows, dtype=np.float32)
    return array / np.linalg.norm(array, axis=1, keepdims=True)


def _store() -> VectorStore:
    """Passage a: whole + question rows; b: whole + two sentences; c: whole only."""
    vectors = _unit([[1, 0, 0], [0.6, 0.8, 0], [0, 1, 0], [0, 0.8, 0.6], [0, 0, 1], [1, 1, 1]])
    return VectorStore.build(
        ["a", "b", "c"], vectors, np.array([0, 0, 1, 1, 1, 2]), np.array([W, Q, W, S, S, W])
    )


def test_search_ranks_passages_by_whole_and_question_rows_only():
    store = _store()
    # Row 4 (b's second sentence) is the exact match, but sentences are not searched.
    [found] = store.search_batch(_unit([[0, 0, 1]]), top_k=5)
    # c 0.58, then a and b (tied at 0.0): each passage once, never a -1 padding row
    assert found.numbers[0] == 2 and sorted(found.numbers[1:].tolist()) == [0, 1]
    assert found.scores == pytest.approx([1 / np.sqrt(3), 0.0, 0.0], abs=1e-6)
    [found] = store.search_batch(_unit([[0, 1, 0]]), top_k=2)
    assert found.numbers.tolist() == [1, 0]  # b by its whole row (1.0), a by its question (0.8)
    assert found.scores == pytest.approx([1.0, 0.8], abs=1e-6)
    assert [len(c) for c in store.search_batch(_unit([[0, 1, 0]]), top_k=0)] == [0]
    assert store.search_batch(np.zeros((0, 3), dtype=np.float32), top_k=3) == []


def test_evidence_gathers_each_candidate_grain_maxima():
    store = _store()
    evidence = store.evidence(_unit([[0, 0, 1]])[0], np.array([1, 0]))
    # b: whole 0, no question row, best sentence 1.0 (row 4); a: whole 0, question 0, and
    # without sentences its sentence grain is its whole score.
    assert evidence.grains[0] == pytest.approx([0.0, -np.inf, 1.0], abs=1e-6)
    assert evidence.grains[1] == pytest.approx([0.0, 0.0, 0.0], abs=1e-6)
    assert evidence.rows.tolist() == [2, 3, 4, 0, 1]  # only the candidates' rows
    assert store.sentence_number(4) == 1 and store.sentence_number(3) == 0


def test_round_trip_keeps_rows_and_search(tmp_path: Path):
    store = _store()
    store.save(tmp_path)
    loaded = VectorStore.load(tmp_path)
    assert loaded.passage_ids == ("a", "b", "c") and len(loaded) == 6
    assert loaded.dimension == 3
    assert loaded.vectors == pytest.approx(store.vectors)
    assert loaded.row_grain.tolist() == store.row_grain.tolist()
    query = _unit([[0.6, 0.8, 0]])
    [found] = loaded.search_batch(query, top_k=3)
    assert found.numbers.tolist() == [0, 2, 1]  # c 0.81
    # The rows stay on disk (a memory map nobody touches), and a gather reads only its rows.
    assert isinstance(loaded.vectors, np.memmap) and not loaded.vectors.flags.owndata
    wanted = np.array([4, 1, 2, 5])
    assert np.array_equal(loaded.rows(wanted), store.vectors[wanted])
    evidence = loaded.evidence(query[0], np.array([2, 0]))
    assert evidence.rows.tolist() == [5, 0, 1]
    assert np.allclose(evidence.row_scores, store.vectors[[5, 0, 1]] @ query[0])


def test_corrupt_files_raise(tmp_path: Path):
    _store().save(tmp_path)
    (tmp_path / "passage_ids.json").write_text('["x"]', encoding="utf-8")
    with pytest.raises(IndexCorruptError, match=r"outside 0\.\.0"):
        VectorStore.load(tmp_path)
    (tmp_path / "rows.npy").write_bytes(b"garbage")
    with pytest.raises(IndexCorruptError):
        VectorStore.load(tmp_path)


def test_build_rejects_rows_that_do_not_match():
    with pytest.raises(ValueError, match="for 3 rows"):
        VectorStore.build(["a"], _unit([[1, 0], [0, 1]]), np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="passage by passage"):
        VectorStore.build(["a", "b"], _unit([[1, 0], [0, 1]]), np.array([1, 0]), np.zeros(2))


def _clustered(rows: int, dimension: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(20, dimension))
    vectors = centres[rng.integers(0, 20, rows)] + 0.3 * rng.normal(size=(rows, dimension))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("index_type", ["hnsw", "ivf-sq8", "ivf-pq"])
def test_approximate_indexes_find_what_exact_search_finds(tmp_path: Path, index_type: str):
    vectors = _clustered(3000)
    ids = [f"p{n}" for n in range(3000)]
    numbers, grains = np.arange(3000), np.full(3000, W)
    exact = VectorStore.build(ids, vectors, numbers, grains, index_type="flat")
    approximate = VectorStore.build(ids, vectors, numbers, grains, index_type=index_type)
    assert approximate.index_type == index_type
    approximate.save(tmp_path)
    loaded = VectorStore.load(tmp_path)
    assert loaded.index_type == index_type
    queries = _clustered(50, seed=1)
    recall = []
    pairs = zip(exact.search_batch(queries, 10), loaded.search_batch(queries, 10), strict=True)
    for query, (want, got) in zip(queries, pairs, strict=True):
        recall.append(len(set(want.numbers) & set(got.numbers)) / 10)
        # Approximate codes only propose, with about the right cosines; the candidates'
        # evidence is then scored exactly from the rows.
        exact_cosines = vectors[got.numbers] @ query
        assert got.scores == pytest.approx(exact_cosines, abs=0.1 if "pq" in index_type else 2e-3)
        whole = loaded.evidence(query, got.numbers).grains[:, 0]
        assert whole == pytest.approx(exact_cosines, abs=1e-5)
    assert np.mean(recall) >= (0.8 if index_type == "ivf-pq" else 0.9)


def test_auto_picks_flat_for_small_stores_and_rejects_unknown_types():
    from qabot.index.faiss_search import FLAT_MAX_ROWS, choose_index_type

    assert _store().index_type == "flat"
    assert choose_index_type(FLAT_MAX_ROWS) == "flat"
    assert choose_index_type(FLAT_MAX_ROWS + 1) == "ivf-sq8"
    assert choose_index_type(10, "hnsw") == "hnsw"
    with pytest.raises(ValueError, match="not one of auto, flat"):
        choose_index_type(10, "annoy")


def _first_passages_by_hand(store: VectorStore, query: np.ndarray, top_k: int) -> list[int]:
    """Every searchable row scored exactly; each passage at its best row, best first."""
    searchable = np.flatnonzero(store.row_grain != S)
    scores = store.vectors[searchable] @ query
    order = np.argsort(-scores, kind="stable")
    return list(dict.fromkeys(store.row_passage[searchable[order]].tolist()))[:top_k]


def test_batch_search_gives_each_query_its_first_distinct_passages():
    rng = np.random.default_rng(3)
    passages = 40
    row_passage = np.repeat(np.arange(passages), 3)
    row_grain = np.tile([W, Q, S], passages)
    vectors = _unit(rng.normal(size=(len(row_passage), 8)))
    store = VectorStore.build([f"p{n}" for n in range(passages)], vectors, row_passage, row_grain)
    queries = _unit(rng.normal(size=(6, 8)))
    for top_k in (1, 5, 40, 100):
        found = store.search_batch(queries, top_k)
        for query, got in zip(queries, found, strict=True):
            assert got.numbers.tolist() == _first_passages_by_hand(store, query, top_k)
            assert got.numbers.dtype == np.int64
            best = (store.vectors[row_passage == got.numbers[0]] @ query)[:2].max()
            assert got.scores[0] == pytest.approx(best, abs=1e-6)


def test_batch_evidence_is_each_querys_own_evidence():
    store = _store()
    queries = _unit([[0, 0, 1], [1, 0, 0], [0, 1, 1]])
    candidates = [np.array([1, 0]), np.array([], dtype=np.int64), np.array([0, 1, 2])]
    starts = np.cumsum([0, *map(len, candidates)])
    batch = store.evidence_batch(queries, np.concatenate(candidates), starts)
    for q, numbers in enumerate(candidates):
        alone = store.evidence(queries[q], numbers)
        assert np.array_equal(batch.grains[starts[q] : starts[q + 1]], alone.grains)
