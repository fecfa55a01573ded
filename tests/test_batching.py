"""The micro-batcher: concurrent questions share one answer_batch; a bad one fails alone."""

import threading

import pytest

from qabot.errors import QabotError, QuestionError
from qabot.web.batching import LONG_QUESTION_CHARS, AnswerBatcher


class SlowAnswerer:
    """Records its batches; the first batch waits until released, so others queue up."""

    def __init__(self, broken: dict[str, BaseException] | None = None) -> None:
        self.broken = broken or {}  # a question here makes its whole batch raise that error
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
        for question in questions:
            if question in self.broken:
                raise self.broken[question]
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


def held(broken: dict[str, BaseException] | None = None):
    """A batcher whose worker is busy with "q0" until ``answerer.release`` is set."""
    answerer = SlowAnswerer(broken)
    batcher = AnswerBatcher(answerer)
    first = batcher.submit("q0")
    assert answerer.entered.wait(5)
    return batcher, answerer, first


def answered(question: str) -> str:
    return f"answer to {question} (alternatives=None)"


def test_close_answers_what_is_queued_then_stops_the_worker():
    batcher, answerer, first = held()
    queued = [batcher.submit(f"q{i}") for i in range(1, 4)]
    worker = batcher._workers[0]
    closer = threading.Thread(target=batcher.close)
    closer.start()
    answerer.release.set()
    closer.join(5)
    assert not closer.is_alive() and not worker.is_alive()
    assert first.result(0) == answered("q0")
    assert [f.result(0) for f in queued] == [answered(f"q{i}") for i in range(1, 4)]


def test_close_before_any_question_and_twice_is_harmless():
    answerer = SlowAnswerer()
    answerer.release.set()
    batcher = AnswerBatcher(answerer)
    batcher.close()
    assert batcher.submit("q").result(5) == answered("q")
    batcher.close()
    batcher.close()
    assert batcher._workers == [None, None]


def test_a_question_after_close_starts_a_new_worker():
    answerer = SlowAnswerer()
    answerer.release.set()
    batcher = AnswerBatcher(answerer)
    assert batcher.submit("before").result(5) == answered("before")
    old = batcher._workers[0]
    batcher.close()
    assert not old.is_alive()
    assert batcher.submit("after").result(5) == answered("after")
    assert batcher._workers[0] is not old and batcher._workers[0].is_alive()
    batcher.close()
    assert answerer.batches == [(["before"], None), (["after"], None)]


def test_a_qabot_error_fails_only_the_bad_question_of_a_batch():
    bad = QabotError("this question breaks the answerer")
    batcher, answerer, _ = held({"bad": bad})
    futures = [batcher.submit(q) for q in ("a", "bad", "b")]
    answerer.release.set()
    assert [futures[0].result(5), futures[2].result(5)] == [answered("a"), answered("b")]
    assert futures[1].exception(5) is bad
    # The batch failed once, then each question was answered alone.
    assert [q for q, _ in answerer.batches[1:]] == [["a", "bad", "b"], ["a"], ["bad"], ["b"]]
    batcher.close()


def test_any_error_fails_only_the_bad_question_of_a_batch():
    crash = UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")
    batcher, answerer, _ = held({"boom": crash})
    same_batch = [batcher.submit(q) for q in ("a", "boom", "b")]
    other_batch = batcher.submit("c", alternatives=5)  # answered in a batch of its own
    answerer.release.set()
    assert [same_batch[0].result(5), same_batch[2].result(5)] == [answered("a"), answered("b")]
    assert same_batch[1].exception(5) is crash
    assert other_batch.result(5) == "answer to c (alternatives=5)"
    assert answerer.batches[1:] == [
        (["a", "boom", "b"], None),
        (["a"], None),
        (["boom"], None),
        (["b"], None),
        (["c"], 5),
    ]
    # The worker survives: later questions are answered.
    assert batcher.submit("later").result(5) == answered("later")
    batcher.close()


def test_a_question_cancelled_while_queued_is_skipped():
    batcher, answerer, _ = held()
    gone, kept = batcher.submit("gone"), batcher.submit("kept")
    assert gone.cancel()
    answerer.release.set()
    assert kept.result(5) == answered("kept")
    assert answerer.batches[-1] == (["kept"], None)
    assert batcher.submit("next").result(5) == answered("next")
    batcher.close()


def test_a_short_question_does_not_wait_behind_a_long_one():
    answerer = SlowAnswerer()
    batcher = AnswerBatcher(answerer)
    long_question = "word " * (LONG_QUESTION_CHARS // 5)
    held_long = batcher.submit(long_question)
    assert answerer.entered.wait(5)  # the long question's forward pass is under way
    assert batcher.submit("short").result(5) == answered("short")
    assert not held_long.done()
    answerer.release.set()
    assert held_long.result(5) == answered(long_question)
    batcher.close()
