"""The verifier's part in answering: the feature, the band, the span, and --no-verifier.

The verifier here is a double that reads a word list (the real one is tested in
test_verifier.py and, end to end, in test_verifier_e2e.py); the confidence models are the
shipped ones.
"""

import itertools
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from qabot.answering.answer import Answer
from qabot.answering.answerer import Answerer
from qabot.answering.confidence import default_model
from qabot.answering.features import FEATURES, VERIFIER, verifier_feature
from qabot.answering.retrieval import Retriever
from qabot.answering.verification import (
    Verification,
    answer_span,
    shipped_band,
    verified_model,
    verifier_text,
)
from qabot.documents.chunking import Passage
from qabot.errors import ModelError
from qabot.index.build import build_index
from qabot.models.verifier import Span, Verdict


class WordVerifier:
    """Says a text answers when it holds ``word``; its span is that word."""

    name = "word-verifier"
    fingerprint = "0" * 64

    def __init__(self, word: str, probability: float = 0.95) -> None:
        self.word, self.probability = word, probability
        self.pairs: list[tuple[str, str]] = []

    def verify_batch(self, pairs):
        self.pairs += pairs
        verdicts = []
        for _, text in pairs:
            at = text.find(self.word)
            if at < 0:
                verdicts.append(Verdict(1 - self.probability, Span(text[:3], 0, 3, 0.0)))
            else:
                verdicts.append(
                    Verdict(self.probability, Span(self.word, at, at + len(self.word), 9.0))
                )
        return verdicts


@pytest.fixture
def retriever(tmp_path: Path, fake_embedder) -> Retriever:
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "help.md").write_text(
        "# Help\n\nOur shop opens at nine every morning. Deliveries take two days in town.\n\n"
        "## FAQ\n\nQ: Can I return shoes?\nA: Yes, within thirty days of delivery.\n",
        encoding="utf-8",
    )
    return Retriever(build_index(corpus, tmp_path / "idx", fake_embedder), fake_embedder)


def verified(retriever: Retriever, verifier, band=(0.0, 1.0)) -> Answerer:
    return Answerer(
        retriever,
        confidence=default_model(),
        verification=Verification(verifier, verified_model(), band),
    )


def test_the_shipped_verified_model_reads_the_verifier_last_and_monotone():
    model = verified_model()
    assert model.features == (*FEATURES, VERIFIER)
    assert model.signs[-1] == 1 and model.coefficients[-1] >= 0
    row = np.full(len(FEATURES), 0.3)
    readings = [
        model.predict(np.append(row, verifier_feature(p)))[0] for p in np.linspace(0, 1, 21)
    ]
    assert all(b >= a for a, b in itertools.pairwise(readings))
    low, high = shipped_band()
    assert 0.0 <= low <= model.threshold <= high <= 1.0


def test_the_verifier_feature_is_a_clipped_logit():
    assert verifier_feature(0.5) == pytest.approx(0.0)
    assert verifier_feature(0.9) == pytest.approx(np.log(9))
    assert verifier_feature(1.0) == 10.0 and verifier_feature(0.0) == -10.0


def test_a_verified_answer_carries_the_probability_and_the_span(retriever):
    answerer = verified(retriever, WordVerifier("two days"))
    answer = answerer.answer("how many days do deliveries take")
    assert answer.kind == "passage" and answer.verifier == pytest.approx(0.95)
    assert answer.span is not None and answer.span.text == "two days"
    assert answer.answer[answer.span.start : answer.span.end] == "two days"
    # Its score is the verified model's reading of the features plus the verifier's.
    hits = answerer.search_batch([answer.question], 10)[0]
    features = answerer.features(answer.question, hits, verifier=0.95)
    assert features.shape == (len(FEATURES) + 1,)
    assert answer.score == pytest.approx(verified_model().predict(features)[0])
    data = answer.to_dict()
    assert data["verifier"] == 0.95 and data["span"]["text"] == "two days"


def test_the_verifier_can_only_lower_what_it_doubts(retriever):
    question = "how many days do deliveries take"
    sure = verified(retriever, WordVerifier("two days", 0.99)).answer(question)
    doubtful = verified(retriever, WordVerifier("nowhere", 0.99)).answer(question)
    assert doubtful.verifier == pytest.approx(0.01)
    assert doubtful.score < sure.score
    assert doubtful.span is None  # no span is shown from a text the verifier doubts


def test_a_passage_is_always_read_and_an_faq_entry_only_inside_the_band(retriever):
    plain = Answerer(retriever, confidence=default_model())
    faq_question = "can shoes be returned"  # the FAQ entry, not verbatim
    assert plain.answer(faq_question).kind == "faq"
    verifier = WordVerifier("thirty")
    outside = verified(retriever, verifier, band=(2.0, 3.0)).answer(faq_question)
    assert verifier.pairs == [] and outside.verifier is None and outside.span is None
    assert outside.score == plain.answer(faq_question).score
    inside = verified(retriever, verifier, band=(0.0, 1.0)).answer(faq_question)
    assert inside.verifier == pytest.approx(0.95) and len(verifier.pairs) == 1
    # A passage is read whatever its probability: its exact words are the point.
    passage = verified(retriever, verifier, band=(2.0, 3.0)).answer("when does the shop open")
    assert passage.verifier == pytest.approx(0.05)  # declined, once the verifier doubts it
    # A verbatim FAQ question is never read: it is certain.
    verifier.pairs.clear()
    exact = verified(retriever, verifier).answer("Can I return shoes?")
    assert exact.score == 1.0 and exact.verifier is None and verifier.pairs == []


def test_a_batch_is_verified_in_one_call(retriever):
    class Counting(WordVerifier):
        calls = 0

        def verify_batch(self, pairs):
            Counting.calls += 1
            return super().verify_batch(pairs)

    verifier = Counting("two days")
    answers = verified(retriever, verifier).answer_batch(
        ["how many days do deliveries take", "when does the shop open", "Can I return shoes?"]
    )
    assert Counting.calls == 1 and len(verifier.pairs) == 2  # the verbatim question is not read
    assert [a.verifier is not None for a in answers] == [True, True, False]


def test_an_faq_entry_is_read_with_its_question_and_its_span_is_in_the_answer():
    entry = Passage(
        passage_id="f#faq-0",
        doc_id="f",
        kind="faq",
        text="Yes, within thirty days.",
        title="f",
        path="f",
        section="FAQ",
        question="Can I return shoes?",
    )
    text, offset = verifier_text(entry)
    assert text == "Can I return shoes?\nYes, within thirty days." and offset == 20
    inside = Verdict(0.9, Span("thirty days", text.index("thirty"), text.index("thirty") + 11, 1.0))
    span = answer_span(entry, inside)
    assert span is not None and entry.text[span.start : span.end] == "thirty days"
    in_question = Verdict(0.9, Span("shoes", text.index("shoes"), text.index("shoes") + 5, 1.0))
    assert answer_span(entry, in_question) is None
    whole = Verdict(0.9, Span(entry.text, offset, offset + len(entry.text), 1.0))
    assert answer_span(entry, whole) is None  # nothing shorter to show


def test_marked_parts_nest_the_span_in_the_sentence():
    text = "Our shop opens at nine. Deliveries take two days in town."
    answer = Answer(
        question="q",
        found=True,
        kind="passage",
        answer=text,
        score=0.9,
        faq_question=None,
        source=None,
        alternatives=(),
        highlight="Deliveries take two days in town.",
        span=Span("two days", text.index("two"), text.index("two") + 8, 1.0),
    )
    parts = answer.marked_parts()
    assert "".join(p for p, _ in parts) == text
    assert parts == [
        ("Our shop opens at nine. ", ""),
        ("Deliveries take ", "sentence"),
        ("two days", "span"),
        (" in town.", "sentence"),
    ]
    plain = replace(answer, highlight=None, span=None)
    assert plain.marked_parts() == [(text, "")]


def test_a_confidence_file_without_the_verifier_feature_is_refused(tmp_path: Path):
    path = tmp_path / "model.json"
    default_model().save(path)
    with pytest.raises(ModelError, match="not a verified confidence model"):
        verified_model(path)
    with pytest.raises(ModelError, match="--no-verifier"):
        verified_model(tmp_path / "missing.json")
    with pytest.raises(ValueError, match="verifier"):
        Verification(WordVerifier("x"), default_model())


def test_no_verifier_on_the_command_line_answers_as_without_one(tmp_path: Path, fake_embedder):
    from qabot.cli import build_parser
    from qabot.cli.wiring import open_answerer

    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.md").write_text("# A\n\nApples grow on trees in orchards.\n", encoding="utf-8")
    args = build_parser().parse_args(["ask", "what grows on trees", "--no-verifier"])
    assert args.verifier is False
    answerer = open_answerer(
        corpus, tmp_path / "idx", make_embedder=lambda name: fake_embedder, verifier=False
    )
    assert answerer.verification is None and answerer.answer_confidence == default_model()
    answer = answerer.answer("what grows on trees")
    assert answer.verifier is None and answer.span is None
    plain = Answerer(answerer.retriever).answer("what grows on trees")
    assert answer == plain
    assert build_parser().parse_args(["ask", "q"]).verifier is True
