"""The verifier's part in answering: which answers it reads, its part in the decision, the span,
and --no-verifier.

The verifier here is a double that finds a given word (the real one is tested in
test_verifier.py, and through the command line in test_cli.py).
"""

from dataclasses import replace
from pathlib import Path

import pytest

from qabot.answering.answer import Answer
from qabot.answering.answerer import Answerer
from qabot.answering.confidence import default_model
from qabot.answering.features import VERIFIED_FEATURES
from qabot.answering.questions import is_question
from qabot.answering.retrieval import Retriever
from qabot.answering.verification import answer_span, verifier_text
from qabot.documents.chunking import Passage
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


def verified(retriever: Retriever, verifier) -> Answerer:
    return Answerer(retriever, confidence=default_model(), verifier=verifier)


def test_a_found_passage_answer_carries_the_verifiers_words_and_keeps_its_score(retriever):
    question = "how many days do deliveries take"
    plain = Answerer(retriever, confidence=default_model()).answer(question)
    verifier = WordVerifier("two days")
    answer = verified(retriever, verifier).answer(question)
    assert answer.found and answer.kind == "passage" and answer.verifier == pytest.approx(0.95)
    assert verifier.pairs == [(question, answer.highlight)]  # it read the highlighted sentence
    assert answer.span is not None and answer.span.text == "two days"
    assert answer.answer[answer.span.start : answer.span.end] == "two days"
    # A confidence model without the verifier's feature keeps its score, decision and
    # alternatives: the verifier adds only the words.
    assert (answer.score, answer.found, answer.alternatives) == (
        plain.score,
        plain.found,
        plain.alternatives,
    )
    data = answer.to_dict()
    assert data["verifier"] == 0.95 and data["span"]["text"] == "two days"


def test_no_span_from_a_text_the_verifier_doubts(retriever):
    answer = verified(retriever, WordVerifier("nowhere", 0.99)).answer(
        "how many days do deliveries take"
    )
    assert answer.found and answer.verifier == pytest.approx(0.01) and answer.span is None


def test_which_answers_are_read(retriever):
    verifier = WordVerifier("thirty")
    faq = verified(retriever, verifier).answer("can shoes be returned")
    assert faq.kind == "faq" and faq.verifier is None and faq.span is None
    exact = verified(retriever, verifier).answer("Can I return shoes?")
    assert exact.score == 1.0 and exact.verifier is None
    keywords = verified(retriever, verifier).answer("deliveries days town")
    assert keywords.verifier is None  # not worded as a question: a reader of questions skips it
    assert verifier.pairs == []  # none of the three was read
    # A passage answer to a question is read whether or not it is declined: its score is what
    # the verified model decides on.
    strict = Answerer(retriever, confidence=default_model(), threshold=1.0, verifier=verifier)
    declined = strict.answer("how many days do deliveries take")
    assert not declined.found and declined.verifier == pytest.approx(0.05)
    assert declined.span is None and len(verifier.pairs) == 1


def test_the_verified_model_decides_with_the_verifiers_score(retriever):
    model = default_model(verified=True)
    assert model.features == VERIFIED_FEATURES and model.signs[-1] == 1
    assert model.coefficients[-1] > 0  # the fit leaned on it
    question = "how many days do deliveries take"
    doubted = Answerer(retriever, confidence=model, verifier=WordVerifier("nowhere", 0.999))
    trusted = Answerer(retriever, confidence=model, verifier=WordVerifier("two days", 0.999))
    low, high = doubted.answer(question), trusted.answer(question)
    assert low.verifier == pytest.approx(0.001) and high.verifier == pytest.approx(0.999)
    assert low.score < high.score  # the same hit, read as answered or not
    # Between the two the verifier alone moves the score across the threshold.
    at = Answerer(retriever, confidence=model, threshold=(low.score + high.score) / 2)
    assert at.score(question, retriever.search_batch([question], 5)[0], 0, 0.001) == low.score
    assert not doubted.answer(question).found or low.score >= doubted.threshold
    moved = Answerer(
        retriever,
        confidence=model,
        threshold=(low.score + high.score) / 2,
        verifier=WordVerifier("nowhere", 0.999),
    )
    assert not moved.answer(question).found
    moved.verifier = WordVerifier("two days", 0.999)
    assert moved.answer(question).found


def test_questions_worded_as_questions():
    assert is_question("how many days do deliveries take")
    assert is_question("Deliveries take how long?")
    assert is_question("Does the shop open on Sundays")
    assert not is_question("deliveries days town")
    assert not is_question("Vitamin D deficiency is linked to depression.")  # a claim
    assert not is_question("")


def test_a_batch_is_verified_in_one_call(retriever):
    class Counting(WordVerifier):
        calls = 0

        def verify_batch(self, pairs):
            Counting.calls += 1
            return super().verify_batch(pairs)

    verifier = Counting("two days")
    questions = [
        "how many days do deliveries take",
        "when does our shop open",
        "Can I return shoes?",
    ]
    answers = verified(retriever, verifier).answer_batch(questions)
    read = [a.verifier is not None for a in answers]
    assert read[0] and not read[2]  # a passage answer and a verbatim FAQ question
    assert Counting.calls == 1 and len(verifier.pairs) == sum(read)


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
    assert text == "Can I return shoes?\nYes, within thirty days." and offset == -20
    inside = Verdict(0.9, Span("thirty days", text.index("thirty"), text.index("thirty") + 11, 1.0))
    span = answer_span(entry, inside)
    assert span is not None and entry.text[span.start : span.end] == "thirty days"
    in_question = Verdict(0.9, Span("shoes", text.index("shoes"), text.index("shoes") + 5, 1.0))
    assert answer_span(entry, in_question) is None
    whole = Verdict(0.9, Span(entry.text, -offset, -offset + len(entry.text), 1.0))
    assert answer_span(entry, whole) is None  # nothing shorter to show


def test_a_passage_is_read_as_its_highlighted_sentence():
    text = "Our shop opens at nine. Deliveries take two days in town. Returns are free."
    passage = Passage("h#0", "h", "passage", text, "h", "h.md")
    sentence = "Deliveries take two days in town."
    read, offset = verifier_text(passage, sentence)
    assert read == sentence and text[offset : offset + len(read)] == sentence
    found = Verdict(0.9, Span("two days", read.index("two"), read.index("two") + 8, 1.0))
    span = answer_span(passage, found, sentence)
    assert span is not None and text[span.start : span.end] == "two days"
    assert verifier_text(passage) == (text, 0)  # no highlight: the whole passage
    everything = Verdict(0.9, Span(sentence, 0, len(sentence), 1.0))
    assert answer_span(passage, everything, sentence) is None  # the whole sentence: no span


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


def test_no_verifier_on_the_command_line_answers_as_without_one(tmp_path: Path, fake_embedder):
    from qabot.cli import build_parser
    from qabot.cli.wiring import answerer_for, open_answerer

    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.md").write_text("# A\n\nApples grow on trees in orchards.\n", encoding="utf-8")
    args = build_parser().parse_args(["ask", "what grows on trees", "--no-verifier"])
    assert args.verifier is False
    answerer = open_answerer(
        corpus, tmp_path / "idx", make_embedder=lambda name: fake_embedder, verifier=False
    )
    assert answerer.verifier is None and answerer.confidence == default_model()
    on = answerer_for(answerer.retriever.index, fake_embedder, verifier=WordVerifier("x"))
    assert on.confidence == default_model(verified=True)  # the verifier on: the verified model
    answer = answerer.answer("what grows on trees")
    assert answer.verifier is None and answer.span is None
    plain = Answerer(answerer.retriever).answer("what grows on trees")
    assert answer == plain
    assert build_parser().parse_args(["ask", "q"]).verifier is True
