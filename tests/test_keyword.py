import math
from pathlib import Path

import numpy as np
import pytest

from qabot.index.keyword import DEFAULT_B, DEFAULT_K1, KeywordIndex, tokenize


def test_tokenize_stems_and_drops_stopwords():
    assert tokenize(["The cats are running"]) == [["cat", "run"]]


def test_search_ranks_by_bm25_and_round_trips(tmp_path: Path):
    index = KeywordIndex.build(
        ["p1", "p2", "p3"],
        ["cats chase mice", "dogs chase cats and cats run", "the weather is mild"],
    )
    [hits] = index.search_batch(["cat"], top_k=5)
    assert hits.numbers.tolist() == [1, 0]  # p2, p1; no zero-score hit for p3
    index.save(tmp_path)
    loaded = KeywordIndex.load(tmp_path)
    assert loaded.ids == ("p1", "p2", "p3")
    [loaded_hits] = loaded.search_batch(["cat"], top_k=1)
    assert loaded_hits.numbers.tolist() == [1]
    assert loaded_hits.scores[0] == hits.scores[0]


def test_stopword_only_and_unknown_queries_score_zero():
    index = KeywordIndex.build(["p1"], ["apples and pears"])
    scores = index.scores_batch(["the of and", "zzzz", ""])
    assert scores.shape == (3, 1)
    assert not scores.any()


def _bm25(tf: int, df: int, n_docs: int, length: int, mean_length: float) -> float:
    """Lucene's BM25 (bm25s's default), written out: idf times saturated term frequency."""
    idf = math.log(1 + (n_docs - df + 0.5) / (df + 0.5))
    return idf * tf / (tf + DEFAULT_K1 * (1 - DEFAULT_B + DEFAULT_B * length / mean_length))


def test_scores_batch_is_bm25_over_stemmed_tokens(tmp_path: Path):
    texts = ["cats chase mice", "dogs chase cats and cats run", "the weather is mild"]
    # tokens: [cat, chase, mice], [dog, chase, cat, cat, run], [weather, mild]: mean length 10/3
    index = KeywordIndex.build(["p1", "p2", "p3"], texts)
    mean = 10 / 3
    expected = [
        [_bm25(1, 2, 3, 3, mean), _bm25(2, 2, 3, 5, mean), 0.0],  # "cats"
        [
            _bm25(1, 2, 3, 3, mean) + _bm25(1, 1, 3, 3, mean),  # "chasing mice": chase + mice
            _bm25(1, 2, 3, 5, mean),
            0.0,
        ],
    ]
    scores = index.scores_batch(["cats", "chasing mice"])
    assert scores.dtype == np.float32 and scores.shape == (2, 3)
    assert scores == pytest.approx(np.array(expected), rel=1e-5)
    index.save(tmp_path)
    assert KeywordIndex.load(tmp_path).scores_batch(["cats", "chasing mice"]) == pytest.approx(
        np.array(expected), rel=1e-5
    )


def test_text_without_tokens_keeps_its_row():
    index = KeywordIndex.build(["p1", "p2", "p3"], ["the and of", "apples", "apples and pears"])
    assert index.position == {"p1": 0, "p2": 1, "p3": 2}
    scores = index.scores_batch(["apples"])[0]
    assert scores[0] == 0 and scores[1] > scores[2] > 0  # the shorter text scores higher
    with pytest.raises(ValueError, match="2 ids for 1 texts"):
        KeywordIndex.build(["a", "b"], ["one"])


def test_posting_list_scores_are_bm25s_own_to_the_bit():
    texts = [f"word{n % 7} word{n % 11} shared term{n % 3} extra{n}" for n in range(200)]
    index = KeywordIndex.build([f"p{n}" for n in range(200)], texts)
    for query in ["word3 word5 shared", "term1 term1 extra17", "nothing here", "word3"]:
        tokens = tokenize([query])[0]
        expected = index._bm25.get_scores(tokens) if tokens else np.zeros(200, np.float32)
        found = index.matches(query)
        dense = np.zeros(200, dtype=np.float32)
        dense[found.numbers] = found.scores
        assert np.array_equal(dense, expected)  # bit-identical, not approximately
        [top] = index.search_batch([query], top_k=10)
        order = np.lexsort((np.arange(200), -expected))[:10]
        order = order[expected[order] > 0]
        assert top.numbers.tolist() == order.tolist()
        wanted = np.array([5, 0, 199, 42])
        [scored] = index.score_batch([query], [wanted])
        assert np.array_equal(scored, expected[wanted])


def test_matches_batch_is_matches_of_each_query_to_the_bit():
    texts = [f"word{n % 7} word{n % 11} shared term{n % 3} extra{n}" for n in range(200)]
    index = KeywordIndex.build([f"p{n}" for n in range(200)], texts)
    queries = ["word3 word5 shared", "nothing here", "", "term1 term1 extra17", "word3"]
    batch = index.matches_batch(queries)
    assert len(batch) == len(queries)
    for query, found in zip(queries, batch, strict=True):
        tokens = tokenize([query])[0]
        expected = index._bm25.get_scores(tokens) if tokens else np.zeros(200, np.float32)
        assert found.numbers.tolist() == np.flatnonzero(expected).tolist()
        assert np.array_equal(found.scores, expected[found.numbers])
    assert [len(f) for f in index.matches_batch(["nothing", "here"])] == [0, 0]


def test_best_matches_is_the_first_of_a_stable_sort_by_score():
    from qabot.index.candidates import Candidates
    from qabot.index.keyword import best_matches

    rng = np.random.default_rng(7)
    for size in (0, 1, 5, 60):
        numbers = np.arange(size, dtype=np.int64) * 3
        scores = rng.integers(0, 4, size=size).astype(np.float32)  # ties and zeros
        for top_k in (0, 1, 3, 10, 100):
            got = best_matches(Candidates(numbers, scores), top_k)
            order = np.argsort(-scores, kind="stable")[:top_k]
            order = order[scores[order] > 0]
            assert got.numbers.tolist() == numbers[order].tolist()
            assert got.scores.tolist() == scores[order].tolist()
