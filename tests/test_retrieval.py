import json
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from qabot.answering.evidence import DEFAULT_FUSION, Fusion
from qabot.answering.retrieval import Retriever, normalise_question
from qabot.index.build import build_index

DENSE_ONLY = Fusion(0.25, 0.25, 0.25, 0.25, 0.0, 0.0, faq_keyword=0.0, passage_keyword=0.0)


def test_normalise_question():
    assert normalise_question("  2. What IS  NATO?? ") == "what is nato"
    assert normalise_question("Q: Café au lait?") == "cafe au lait"


@pytest.fixture
def small_index(tmp_path: Path, fake_embedder):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "faq.csv").write_text(
        "id,question,answer\n"
        "f1,How do I reset my password?,Open settings and choose reset.\n"
        "f2,How do I change my password?,Use the account page.\n"
        "f3,Where is the office?,In Zagreb near the station.\n",
        encoding="utf-8",
    )
    (corpus / "notes.txt").write_text(
        "The quarterly report lists revenue of 4.2 million.\n\nOur cafeteria serves lunch at noon.",
        encoding="utf-8",
    )
    return build_index(corpus, tmp_path / "idx", fake_embedder)


def test_search_batch_ranks_each_question(small_index, fake_embedder):
    retriever = Retriever(small_index, fake_embedder)
    batch = retriever.search_batch(["where is the office", "quarterly revenue"], top_k=3)
    assert [len(hits) for hits in batch] == [3, 3]
    assert batch[0][0].passage.passage_id == "f3#faq-0"
    assert batch[1][0].passage.passage_id == "notes.txt#0"
    for hits in batch:
        assert all(a.fused_score >= b.fused_score for a, b in pairwise(hits))
    [single] = retriever.search("quarterly revenue", top_k=1)
    assert single.passage.passage_id == "notes.txt#0"


def test_verbatim_faq_question_returns_its_own_entry(small_index, fake_embedder):
    heavy = Fusion(0.25, 0.25, 0.25, 0.25, 0.0, 0.0, faq_keyword=0.9, passage_keyword=0.9)
    retriever = Retriever(small_index, fake_embedder, fusion=heavy)
    [hit, other] = retriever.search("how do I change my PASSWORD", top_k=2)
    assert hit.passage.passage_id == "f2#faq-0"
    assert hit.fused_score == 1.0 and hit.exact  # an exact match; never above 1
    assert not other.exact


def test_fewer_passages_than_top_k(small_index, fake_embedder):
    hits = Retriever(small_index, fake_embedder).search("lunch", top_k=50)
    assert len(small_index.passages) == 4  # the short second paragraph joins the first
    assert sorted(h.passage.passage_id for h in hits) == [
        "f1#faq-0",
        "f2#faq-0",
        "f3#faq-0",
        "notes.txt#0",
    ]
    assert Retriever(small_index, fake_embedder).search_batch([], top_k=3) == []


def test_keyword_weight_changes_the_order(tmp_path: Path, fake_embedder):
    # Dense: "zebra" shares one word (three times) with the question, "revenue" two words of
    # six; BM25 prefers two matched terms to one repeated term.
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "zebra.txt").write_text("Zebra zebra zebra stripes.", encoding="utf-8")
    (corpus / "revenue.txt").write_text("Revenue grew fast this quarter today.", encoding="utf-8")
    index = build_index(corpus, tmp_path / "idx", fake_embedder)
    question = "revenue quarter zebra"

    dense = Retriever(index, fake_embedder, fusion=DENSE_ONLY).search(question, top_k=5)
    assert [h.passage.passage_id for h in dense] == ["zebra.txt#0", "revenue.txt#0"]
    # cosines of bag-of-words vectors: 3/sqrt(3*10) and 2/sqrt(3*6)
    assert [h.dense_score for h in dense] == pytest.approx([3 / 30**0.5, 2 / 18**0.5], abs=1e-6)
    assert [h.fused_score for h in dense] == pytest.approx([h.dense_score for h in dense])
    assert dense[1].keyword_score > dense[0].keyword_score > 0

    half = Fusion(0.25, 0.25, 0.25, 0.25, 0.0, 0.0, faq_keyword=0.0, passage_keyword=0.5)
    mixed = Retriever(index, fake_embedder, fusion=half).search(question, top_k=5)
    assert [h.passage.passage_id for h in mixed] == ["revenue.txt#0", "zebra.txt#0"]
    top, other = mixed
    # The best keyword score is 1.
    assert top.fused_score == pytest.approx(0.5 * top.dense_score + 0.5)
    assert other.fused_score == pytest.approx(
        0.5 * other.dense_score + 0.5 * other.keyword_score / top.keyword_score
    )


def _cosine(a: str, b: str, embedder) -> float:
    first, second = embedder.embed_batch([a, b])
    return float(first @ second)


def test_grain_evidence_through_the_store(tmp_path: Path, fake_embedder):
    """Each hit carries its grain maxima, computed over the index's real rows."""
    corpus = tmp_path / "c"
    corpus.mkdir()
    answer = "Open the settings page. Then choose reset and confirm."
    (corpus / "faq.jsonl").write_text(
        json.dumps({"id": "f1", "question": "How do I reset my password?", "answer": answer})
        + "\n",
        encoding="utf-8",
    )
    body = "Lunch is served at noon. The cafeteria closes at three."
    (corpus / "notes.txt").write_text(body, encoding="utf-8")
    index = build_index(corpus, tmp_path / "idx", fake_embedder)
    question = "when does the cafeteria close"
    hits = {h.passage.passage_id: h for h in Retriever(index, fake_embedder).search(question, 5)}
    note, faq = hits["notes.txt#0"], hits["f1#faq-0"]
    whole, _, sentence = note.grains
    assert whole == pytest.approx(_cosine(question, body, fake_embedder), abs=1e-5)
    assert note.grains[1] == -np.inf  # a body passage has no question row
    best = _cosine(question, "The cafeteria closes at three.", fake_embedder)
    assert sentence == pytest.approx(best, abs=1e-5)
    assert note.highlight == "The cafeteria closes at three."  # chosen by similarity
    assert faq.grains[1] == pytest.approx(
        _cosine(question, "How do I reset my password?", fake_embedder), abs=1e-5
    )
    # The passage leads the entry: its margin is its lead, the entry's is negative.
    assert note.margin == pytest.approx(note.dense_score - faq.dense_score)
    assert faq.margin == pytest.approx(faq.dense_score - note.dense_score)
    expected = DEFAULT_FUSION.fuse(
        np.array([note.grains]), np.array([False]), np.array([note.keyword_score])
    )
    assert note.fused_score == pytest.approx(float(expected[0]), abs=1e-5)


def test_an_alternate_question_asked_verbatim_finds_its_entry(tmp_path: Path, fake_embedder):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "faq.csv").write_text(
        "id,question,answer,questions\n"
        "f1,How do I reset my password?,Open settings.,I forgot my login|lost credentials\n"
        "f2,Where is the office?,In Zagreb.,\n",
        encoding="utf-8",
    )
    index = build_index(corpus, tmp_path / "idx", fake_embedder)
    assert index.passage("f1#faq-0").alternates == ("I forgot my login", "lost credentials")
    [hit] = Retriever(index, fake_embedder).search("I forgot my login!", top_k=1)
    assert hit.passage.passage_id == "f1#faq-0" and hit.exact and hit.fused_score == 1.0


def test_a_batch_across_rank_chunks_ranks_each_question_as_alone(small_index, fake_embedder):
    from qabot.answering.retrieval import RANK_CHUNK

    retriever = Retriever(small_index, fake_embedder)
    asked = [
        "where is the office",
        "How do I change my password?",  # verbatim: its entry first, at 1.0
        "quarterly revenue",
        "zorblat quaffle",
        "lunch at noon",
    ]
    questions = (asked * (RANK_CHUNK // len(asked) + 2))[: RANK_CHUNK + 7]
    batch = retriever.search_batch(questions, top_k=4)
    assert len(batch) == len(questions)
    for question, hits in zip(questions, batch, strict=True):
        assert hits == retriever.search(question, top_k=4)
    verbatim = batch[1][0]
    assert verbatim.exact and verbatim.fused_score == 1.0
    assert verbatim.passage.passage_id == "f2#faq-0"
