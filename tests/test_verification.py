"""The verifier's part in answering: which answers it reads, the span, and --no-verifier.

The verifier here is a double that finds a given word (the real one is tested in
test_verifier.py, and through the command line in test_cli.py).
"""

from dataclasses import replace
from pathlib import Path

import pytest

from qabot.answering.answer import Answer
from qabot.answering.answerer import Answerer
from qabot.answering.confidence import default_model
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
    # The verifier adds words; the score, the decision and the alternatives are the plain ones.
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


def test_only_found_passage_answers_are_read(retriever):
    verifier = WordVerifier("thirty")
    faq = verified(retriever, verifier).answer("can shoes be returned")
    assert faq.kind == "faq" and faq.verifier is None and faq.span is None
    exact = verified(retriever, verifier).answer("Can I return shoes?")
    assert exact.score == 1.0 and exact.verifier is None
    strict = Answerer(retriever, confidence=default_model(), threshold=1.0, verifier=verifier)
    declined = strict.answer("how many days do deliveries take")
    assert not declined.found and declined.verifier is None
    assert verifier.pairs == []  # none of the three was read


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
    read = [a.found and a.kind == "passage" for a in answers]
    assert read[0] and not read[2]  # a passage answer and a verbatim FAQ question
    assert Counting.calls == 1 and len(verifier.pairs) == sum(read)
    assert [a.verifier is not None for a in answers] == read


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
    from qabot.cli.wiring import open_answerer

    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.md").write_text("# A\n\nApples grow on trees in orchards.\n", encoding="utf-8")
    args = build_parser().parse_args(["ask", "what grows on trees", "--no-verifier"])
    assert args.verifier is False
    answerer = open_answerer(
        corpus, tmp_path / "idx", make_embedder=lambda name: fake_embedder, verifier=False
    )
    assert answerer.verifier is None and answerer.confidence == default_model()
    answer = answerer.answer("what grows on trees")
    assert answer.verifier is None and answer.span is None
    plain = Answerer(answerer.retriever).answer("what grows on trees")
    assert answer == plain
    assert build_parser().parse_args(["ask", "q"]).verifier is True
