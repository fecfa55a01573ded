"""The shipped answerability verifier: real weights from the installed package, no torch."""

from __future__ import annotations

from pathlib import Path

import pytest

from qabot.errors import ModelError
from qabot.models.verifier import OnnxVerifier, Verifier, bundled_verifier_path

pytestmark = pytest.mark.slow  # loads the real verifier (make test-fast leaves it out)

PASSAGE = (
    "The Golden Gate Bridge opened to traffic on May 27, 1937. It was designed by the engineer "
    "Joseph Strauss, and its towers are 227 metres tall."
)


@pytest.fixture(scope="module")
def verifier() -> OnnxVerifier:
    return OnnxVerifier(threads=1)


def test_the_shipped_verifier_loads_from_the_package(verifier: OnnxVerifier):
    assert verifier.folder == bundled_verifier_path()
    assert isinstance(verifier, Verifier)
    assert len(verifier.fingerprint) == 64
    assert (bundled_verifier_path() / "MODEL_CARD.md").is_file()
    assert (bundled_verifier_path() / "LICENSE").read_text(encoding="utf-8").count("ShareAlike")


def test_an_obvious_answer_scores_above_an_obvious_non_answer(verifier: OnnxVerifier):
    answered, unrelated, unanswered = verifier.verify_batch(
        [
            ("Who designed the Golden Gate Bridge?", PASSAGE),
            ("What is the capital of Mongolia?", PASSAGE),
            ("How much did the Golden Gate Bridge cost to build?", PASSAGE),
        ]
    )
    assert answered.probability > 0.5 > unrelated.probability
    assert answered.probability > unanswered.probability
    assert answered.span is not None and "Strauss" in answered.span.text


def test_a_span_is_the_text_at_its_offsets(verifier: OnnxVerifier):
    (verdict,) = verifier.verify_batch([("When did the bridge open to traffic?", PASSAGE)])
    span = verdict.span
    assert span is not None
    assert PASSAGE[span.start : span.end] == span.text
    assert "1937" in span.text and len(span.text) < 40


def test_a_pair_reads_the_same_alone_and_in_a_batch(verifier: OnnxVerifier):
    # The int8 model scales a call's activations together: read beside a longer text, a pair
    # once scored 0.945 instead of 0.951 alone, and `qabot eval` disagreed with `qabot ask`.
    pair = ("Who designed the Golden Gate Bridge?", PASSAGE)
    longer = ("When was the treaty signed?", "Delegates arrived late for the talks. " * 12)
    (alone,) = verifier.verify_batch([pair])
    beside = verifier.verify_batch([longer, pair, longer])[1]
    assert beside.probability == alone.probability
    assert beside.span == alone.span


def test_a_text_longer_than_the_window_is_read_in_windows(verifier: OnnxVerifier):
    filler = " ".join(f"Sentence {n} says nothing about bridges or engineers." for n in range(80))
    text = f"{filler} {PASSAGE}"
    (verdict,) = verifier.verify_batch([("Who designed the Golden Gate Bridge?", text)])
    assert verdict.span is not None and "Strauss" in verdict.span.text
    assert text[verdict.span.start : verdict.span.end] == verdict.span.text


def test_a_question_longer_than_the_window_is_read_in_part(verifier: OnnxVerifier):
    # 2,000 characters, the longest question the edges accept: it once left the text no room
    # in the window, the tokenizer raised, and the API answered 500.
    question = "Who designed the Golden Gate Bridge? " + "Tell me about its towers. " * 75
    (verdict,) = verifier.verify_batch([(question[:2000], PASSAGE)])
    assert 0.0 <= verdict.probability <= 1.0
    assert (
        verdict.span is None or PASSAGE[verdict.span.start : verdict.span.end] == verdict.span.text
    )


def test_a_folder_without_a_verifier_is_a_clear_error(tmp_path: Path):
    with pytest.raises(ModelError, match=r"verifier_config\.json"):
        OnnxVerifier(tmp_path)


def test_the_seed_answer_carries_the_verifiers_exact_words(seed_index_dir: Path, embedder):

    from qabot.answering.answerer import Answerer
    from qabot.answering.retrieval import Retriever
    from qabot.cli.wiring import load_verifier
    from qabot.index.build import load_index

    answerer = Answerer(Retriever(load_index(seed_index_dir), embedder), verifier=load_verifier())
    answer = answerer.answer("In which city did the allies meet Dmytro Kuleba?")
    assert answer.found and answer.verifier is not None and answer.verifier > 0.5
    assert answer.span is not None and "Brussels" in answer.span.text
    assert answer.answer[answer.span.start : answer.span.end] == answer.span.text
    marked = "".join(text for text, mark in answer.marked_parts() if mark == "span")
    assert marked == answer.span.text
