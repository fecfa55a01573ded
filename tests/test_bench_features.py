"""The confidence model is fitted on the features the answerer reads: the same numbers, per hit.

`bench.train_confidence.feature_rows` works on every dev question at once, from arrays over
every passage (`bench.fusion_search.evidence_arrays`); `Answerer.features` reads one question's
top hit from the retriever. Both are given one small corpus and the same embedder here, and must
agree on the top hit and on each of its features.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.data import Question
from bench.dev_corpora import build_bench
from bench.fusion_search import evidence_arrays
from bench.train_confidence import feature_rows
from qabot.answering.answerer import Answerer
from qabot.answering.evidence import DEFAULT_FUSION
from qabot.answering.features import FEATURES, RIVALS, answer_key, margin
from qabot.answering.retrieval import Retriever
from qabot.index.build import build_index

RIVALS_QUESTION = "is the zorblat in the box or on the shelf"
QUESTIONS = (
    RIVALS_QUESTION,
    "when are the shelves cleaned",  # a body passage answers
    "which box has the zorblat",  # an FAQ entry answers, through its alternate phrasing
    "where do you store the zorblat",  # ... and its twin (same question) is not its rival
)
GADGETS = 48
MARGIN = FEATURES.index("margin")


def write_corpus(folder: Path) -> Path:
    """A corpus in which `RIVALS_QUESTION`'s margin depends on exactly how many rivals are read.

    By fused score, the zorblat entry comes first, then the `GADGETS` entries (which differ in
    punctuation only: the same words, so the same scores, yet each another answer), then "notes",
    then "stopwords". The fake embedder counts stopwords, BM25 does not, and only BM25 stems
    "shelfs" to "shelf": so "notes" is denser than any gadget yet ranks below them, and
    "stopwords", denser still, ranks just below it. The densest rival among the best `RIVALS`
    is thus the last one read, and the next one is denser: one rival fewer or one more changes
    the margin (`test_the_margin_reads_exactly_the_rival_count`).
    """
    rows = [
        {
            "id": "zorblat",
            "question": "Where is the zorblat stored?",
            "answer": "The zorblat is on the top shelf, in the zorblat box.",
            "questions": ["Which box holds the zorblat?"],
        },
        {
            "id": "zorblat-twin",
            "question": "Where is the zorblat stored?",
            "answer": "Ask a member of staff at the front desk for help.",
        },
        {"id": "notes", "title": "", "text": "It is in the or on the shelfs."},
        {"id": "stopwords", "title": "", "text": "It is in the or on the. It is in the or on the."},
        {
            "id": "cleaning",
            "title": "Cleaning",
            "text": "Every shelf holds labelled boxes. The shelves are cleaned on Fridays.",
        },
    ]
    rows += [
        {
            "id": f"gadget{n}",
            "question": "Where is the gadget kept" + "?" * n,
            "answer": "It is in its box, on the shelf." if n % 2 else "In the box.",
        }
        for n in range(1, GADGETS + 1)
    ]
    folder.mkdir()
    (folder / "faq.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    return folder


@pytest.fixture
def both(tmp_path: Path, fake_embedder):
    """The answerer, and the fit's feature rows with their owners, over one corpus."""
    corpus = write_corpus(tmp_path / "corpus")
    index = build_index(corpus, tmp_path / "index", fake_embedder, cache_dir=None)
    answerer = Answerer(Retriever(index, fake_embedder))
    bench = build_bench(
        "tiny",
        corpus,
        [Question(q, frozenset(), q, "out-of-scope") for q in QUESTIONS],
        lambda passage: passage.passage_id,
        lambda texts, role: fake_embedder.embed_batch(texts, role=role),
    )
    arrays = evidence_arrays(bench)
    return answerer, arrays, *feature_rows(arrays)


def test_the_fit_reads_the_features_the_answerer_reads(both):
    answerer, arrays, rows, _, owners = both
    for question, row, (_, _, top) in zip(QUESTIONS, rows, owners, strict=True):
        hits = answerer.search_batch([question], top_k=3)[0]
        assert arrays.bench.passages[top].passage_id == hits[0].passage.passage_id
        # Cosines from a matrix product (bench) and from a gather (the index) agree to float32
        # rounding; another rival count or margin moves a feature by hundredths.
        np.testing.assert_allclose(row, answerer.features(question, hits), rtol=0, atol=1e-6)


def test_the_margin_reads_exactly_the_rival_count(both):
    """Otherwise the test above could not tell the fit's rival count from another."""
    _, arrays, rows, _, owners = both
    q = QUESTIONS.index(RIVALS_QUESTION)
    fused = DEFAULT_FUSION.fuse(arrays.grains, arrays.is_faq, arrays.keyword)[q]
    dense = DEFAULT_FUSION.dense(arrays.grains, arrays.is_faq)[q]
    keys = [answer_key(p) for p in arrays.bench.passages]
    order = np.argsort(-fused, kind="stable")
    assert order[0] == owners[q][2]

    def margin_over(rivals: int) -> float:
        return margin(dense[order[:rivals]], [keys[i] for i in order[:rivals]], 0)

    # The margin can only fall as more rivals are read: one fewer or one more is enough.
    assert margin_over(RIVALS - 1) > rows[q, MARGIN] + 0.01
    assert margin_over(RIVALS + 1) < rows[q, MARGIN] - 0.01
    assert margin_over(RIVALS) == pytest.approx(rows[q, MARGIN], abs=1e-6)
