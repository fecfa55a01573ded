"""The micro-batcher: concurrent questions share one answer_batch; a bad one fails alone."""

import threading

import pytest

from qabot.errors import QuestionError
from qabot.web.batching import AnswerBatcher


class SlowAnswerer:
    """Records its batches; the first batch waits until released, so others queue up."""

    def __init__(self) -> None:
        self.batches: list[tuple[list[str], int | None]] = []
        self.entered = threading.Event()
        self.release = threading.Event()

    def answer_batch(self, questions, alternatives=None):
        if not self.entered.is_set():
            self.entered.set()
            self.release.wait(5)
        self.batches.append((list(questions), alternatives))
        if any(not q.strip() for q in questions):
            raise QuestionError("The question is empty: type a question.")
        return [f"answer to {q} (alternatives={alternatives})" for q in questions]


def test_questions_that_queue_up_are_answered_in_one_batch():
    answerer = SlowAnswerer()
    batcher = AnswerBatcher(answerer)
    first = batcher.submit("q0")
    assert answerer.entered.wait(5)
    later = [batcher.submit(f"q{i}") for i in range(1, 6)]
    other_alternatives = batcher.submit("q6", alternatives=5)
    answerer.release.set()
    assert first.result(5) == "answer to q0 (alternatives=None)"
    assert [f.result(5) for f in later] == [
        f"answer to q{i} (alternatives=None)" for i in range(1, 6)
    ]
    assert other_alternatives.result(5) == "answer to q6 (alternatives=5)"
    assert answerer.batches == [
        (["q0"], None),
        (["q1", "q2", "q3", "q4", "q5"], None),
        (["q6"], 5),
    ]
    batcher.close()


def test_an_empty_question_fails_alone():
    answerer = SlowAnswerer()
    batcher = AnswerBatcher(answerer)
    first = batcher.submit("q0")
    assert answerer.entered.wait(5)
    good, bad = batcher.submit("fine"), batcher.submit("  ")
    answerer.release.set()
    first.result(5)
    assert good.result(5) == "answer to fine (alternatives=None)"
    with pytest.raises(QuestionError, match="empty"):
        bad.result(5)
    batcher.close()


def test_real_answers_match_the_answerer(seed_answerer):
    batcher = AnswerBatcher(seed_answerer)
    futures = [batcher.submit(q) for q in ("What is NATO?", "Who won the 1998 World Cup?")]
    answers = [f.result(30) for f in futures]
    assert answers == seed_answerer.answer_batch(["What is NATO?", "Who won the 1998 World Cup?"])
    batcher.close()
