from pathlib import Path

from qabot.lexical import LexicalIndex, tokenize


def test_tokenize_stems_and_drops_stopwords():
    assert tokenize(["The cats are running"]) == [["cat", "run"]]


def test_search_ranks_by_bm25_and_round_trips(tmp_path: Path):
    index = LexicalIndex.build(
        ["p1", "p2", "p3"],
        ["cats chase mice", "dogs chase cats and cats run", "the weather is mild"],
    )
    [hits] = index.search_batch(["cat"], top_k=5)
    assert [pid for pid, _ in hits] == ["p2", "p1"]  # no zero-score hit for p3
    index.save(tmp_path)
    loaded = LexicalIndex.load(tmp_path)
    assert loaded.ids == ("p1", "p2", "p3")
    assert loaded.search_batch(["cat"], top_k=5) == [hits]


def test_stopword_only_and_unknown_queries_score_zero():
    index = LexicalIndex.build(["p1"], ["apples and pears"])
    scores = index.scores_batch(["the of and", "zzzz", ""])
    assert scores.shape == (3, 1)
    assert not scores.any()
