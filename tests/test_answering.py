from pathlib import Path

import pytest

from qabot.answering import DECLINE_MESSAGE, Answerer, best_sentence, clean_question
from qabot.errors import QuestionError
from qabot.index import build_index
from qabot.retrieval import Retriever

from conftest import ANSWER_KEYS


def test_clean_question_strips_controls_and_trims():
    assert clean_question("  What\x00 is\tNATO?\u200b ") == ("What is NATO?", False)
    long_question, trimmed = clean_question("word " * 30_000)
    assert trimmed and len(long_question) <= 2000
    for bad in ("", "   ", "\x00\x01\n"):
        with pytest.raises(QuestionError, match="empty"):
            clean_question(bad)


def test_best_sentence_prefers_shared_words():
    text = "NATO is an alliance. Interoperability means working together. It has members."
    assert best_sentence(text, "what does interoperability mean") == (
        "Interoperability means working together."
    )
    assert best_sentence("One sentence only", "anything") == "One sentence only"


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
    return Answerer(Retriever(index, fake_embedder), threshold=0.3, alternatives=1)


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
