import dataclasses
import json
from dataclasses import replace
from pathlib import Path

import pytest

from qabot.answering.answer import DECLINE_MESSAGE
from qabot.answering.answerer import Answerer
from qabot.answering.confidence import default_model
from qabot.answering.features import FEATURES
from qabot.answering.questions import clean_question
from qabot.answering.retrieval import Retriever
from qabot.errors import QuestionError
from qabot.index.build import build_index

from conftest import ANSWER_KEYS
from fakes import fused_only_confidence


def test_clean_question_treats_ascii_as_the_general_path_does():
    # ASCII takes a shortcut; a non-ASCII character beside it takes the general path.
    for text in ("a\x00b\x1fc\x7fd", "  tab\there\r\nnew line  ", "\x0b\x0c end"):
        plain, _ = clean_question(text)
        accented, _ = clean_question(text + " é")
        assert accented == plain + " é"
    assert clean_question("a\x00b\x1fc\x7fd") == ("a b c d", False)
    with pytest.raises(QuestionError):
        clean_question(" \x00\x07 ")


def test_clean_question_strips_controls_and_trims():
    assert clean_question("  What\x00 is\tNATO?\u200b ") == ("What is NATO?", False)
    long_question, trimmed = clean_question("word " * 30_000)
    assert trimmed and len(long_question) <= 2000
    for bad in ("", "   ", "\x00\x01\n"):
        with pytest.raises(QuestionError, match="empty"):
            clean_question(bad)


FUSED_ONLY = fused_only_confidence(0.3)  # P >= 0.5 exactly when the dense score is >= 0.3


@pytest.fixture
def answerer(tmp_path: Path, fake_embedder):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "help.md").write_text(
        "# Help\n\nOur shop opens at nine. Deliveries take two days.\n\n"
        "Sources:\n\n- Shop: https://shop.example/\n\n"
        "## FAQ\n\nQ: Can I return shoes?\nA: Yes, within thirty days.\n",
        encoding="utf-8",
    )
    index = build_index(corpus, tmp_path / "idx", fake_embedder)
    return Answerer(Retriever(index, fake_embedder), confidence=FUSED_ONLY, alternatives=1)


def test_faq_answer_record(answerer):
    answer = answerer.answer("Can I return shoes?")
    assert answer.found and answer.kind == "faq"
    assert answer.answer == "Yes, within thirty days."
    assert answer.faq_question == "Can I return shoes?"
    assert answer.source.passage_id == "help.md#faq-0"
    assert answer.source.title == "Help"
    assert len(answer.alternatives) == 1
    data = answer.to_dict()
    assert set(data) == ANSWER_KEYS
    assert data["source"]["links"] == [{"label": "Shop", "url": "https://shop.example/"}]
    # Plain JSON values, as a JSON round trip of the record gives them (tuples become lists).
    plain = json.loads(json.dumps(dataclasses.asdict(answer)))
    plain["score"] = round(answer.score, 4)
    plain["alternatives"][0]["score"] = round(answer.alternatives[0].score, 4)
    assert json.dumps(data, sort_keys=True) == json.dumps(plain, sort_keys=True)
    assert type(data["alternatives"]) is list and type(data["source"]["links"][0]) is dict


def test_passage_answer_marks_best_sentence(answerer):
    answer = answerer.answer("how many days do deliveries take")
    assert answer.kind == "passage"
    assert answer.highlight == "Deliveries take two days."
    assert answer.highlight in answer.answer


def test_decline_offers_faq_suggestions(answerer):
    answer = answerer.answer("zebra quantum xylophone")
    assert not answer.found
    assert answer.answer == DECLINE_MESSAGE
    assert answer.kind is None and answer.source is None
    assert answer.suggestions == ("Can I return shoes?",)


def test_batch_names_the_empty_question(answerer):
    with pytest.raises(QuestionError, match="Question 2"):
        answerer.answer_batch(["Can I return shoes?", "  "])
    answers = answerer.answer_batch(["Can I return shoes?", "our shop opens at what hour"])
    assert [a.kind for a in answers] == ["faq", "passage"]


def test_the_promised_answer_keys_stay():
    # Clients of `qabot ask --json`, the API and the chat rely on these (issue 2's contract):
    # renaming a field of Answer renames a key, so it must be a deliberate act, like __all__.
    promised = {"question", "found", "kind", "answer", "score", "faq_question", "source"}
    assert promised | {"alternatives"} <= ANSWER_KEYS


def test_score_is_the_confidence_model_reading(answerer):
    question = "how many days do deliveries take"
    hits = answerer.search_batch([question], 10)[0]
    features = answerer.features(question, hits)
    assert features.shape == (len(FEATURES),)
    assert features[0] == pytest.approx(hits[0].dense_score) and features[1] == hits[0].margin
    answer = answerer.answer(question)
    assert answer.score == pytest.approx(float(FUSED_ONLY.predict(features)[0]))
    assert answer.found == (answer.score >= 0.5)
    # A verbatim FAQ question is certain; no hit at all is not.
    assert answerer.answer("Can I return shoes?").score == 1.0
    assert answerer.score(question, []) == 0.0


def test_more_evidence_never_lowers_the_shipped_confidence(answerer):
    shipped = Answerer(answerer.retriever, confidence=default_model())
    question = "how many days do deliveries take"
    hits = shipped.search_batch([question], 10)[0]
    before = shipped.score(question, hits)
    top = hits[0]
    stronger = [
        replace(top, fused_score=top.fused_score + 0.1),
        replace(top, margin=top.margin + 0.1),
        replace(top, grains=tuple(g + 0.1 for g in top.grains)),
    ]
    for better in stronger:
        assert shipped.score(question, [better, *hits[1:]]) >= before
    # All of them at once is strictly more evidence: the score rises.
    best = replace(top, fused_score=top.fused_score + 0.1, margin=top.margin + 0.1)
    assert shipped.score(question, [best, *hits[1:]]) > before
    # The same hits read for a question of words the corpus never uses are less likely right.
    assert shipped.score("how many days do zorblats quaffle", hits) < before


def test_threshold_overrides_the_model_threshold(answerer):
    assert answerer.threshold == FUSED_ONLY.threshold
    strict = Answerer(answerer.retriever, confidence=FUSED_ONLY, threshold=1.0)
    assert not strict.answer("how many days do deliveries take").found
    assert strict.answer("Can I return shoes?").found  # verbatim: exactly 1.0


def test_each_alternative_scores_its_own_probability(answerer):
    question = "how many days do deliveries take"
    hits = answerer.search_batch([question], 10)[0]
    answer = answerer.answer(question)
    (alternative,) = answer.alternatives
    assert alternative.passage_id == hits[1].passage.passage_id
    assert alternative.score == pytest.approx(answerer.score(question, hits, 1))
    # A rival that trails the answer has a negative margin: a lower probability than the answer.
    assert hits[1].margin < 0 and alternative.score < answer.score


class _Preferring:
    """A reranker that scores the texts containing ``word`` high, others low."""

    name = "preferring"

    def __init__(self, word: str) -> None:
        self.word = word

    def score_pairs(self, question, texts):
        import numpy as np

        return np.array([5.0 if self.word in t else -5.0 for t in texts], dtype=np.float32)


def test_a_reranker_reorders_and_its_score_joins_the_confidence(answerer):
    reranked = Answerer(
        answerer.retriever, confidence=FUSED_ONLY, alternatives=1, reranker=_Preferring("thirty")
    )
    question = "how many days do deliveries take"
    assert answerer.answer(question).kind == "passage"
    hits = reranked.rerank(question, reranked.search_batch([question], 10)[0])
    assert hits[0].passage.kind == "faq" and hits[0].rerank_score == 5.0
    assert reranked.rerank(question, hits) == hits  # ranking twice changes nothing
    features = reranked.features(question, hits)
    assert features.shape == (len(FEATURES) + 1,) and features[-1] == 5.0
    # The shipped weight of a reranker score is 0: it reorders, the probability stays.
    assert reranked.score(question, hits) == pytest.approx(FUSED_ONLY.predict(features[:-1])[0])
    weighted = replace(FUSED_ONLY, reranker_weight=1.0)
    assert weighted.predict(features)[0] > FUSED_ONLY.predict(features)[0]
    assert reranked.answer(question).kind == "faq"
