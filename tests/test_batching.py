"""The micro-batcher: concurrent questions share one answer_batch; a bad one fails alone."""

import threading
from concurrent.futures import Future

import pytest

from qabot.errors import QabotError, QuestionError
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


class ScriptedAnswerer:
    """Answers ``answer to Q``; a question in ``broken`` makes its whole batch raise that error."""

    def __init__(self, broken: dict[str, BaseException] | None = None) -> None:
        self.broken = broken or {}
        self.batches: list[list[str]] = []
        self.threads: set[str] = set()

    def answer_batch(self, questions, alternatives=None):
        self.batches.append(list(questions))
        self.threads.add(threading.current_thread().name)
        for question in questions:
            if question in self.broken:
                raise self.broken[question]
        return [f"answer to {q}" for q in questions]


def hold(batcher: AnswerBatcher, answerer: SlowAnswerer) -> Future:
    """Submit a question that keeps the worker busy until ``answerer.release`` is set."""
    first = batcher.submit("q0")
    assert answerer.entered.wait(5)
    return first


def test_close_answers_what_is_queued_then_stops_the_worker():
    answerer = SlowAnswerer()
    batcher = AnswerBatcher(answerer)
    first = hold(batcher, answerer)
    queued = [batcher.submit(f"q{i}") for i in range(1, 4)]
    worker = batcher._worker
    closer = threading.Thread(target=batcher.close)
    closer.start()
    answerer.release.set()
    closer.join(5)
    assert not closer.is_alive() and not worker.is_alive()
    assert first.result(0) == "answer to q0 (alternatives=None)"
    assert [f.result(0) for f in queued] == [
        f"answer to q{i} (alternatives=None)" for i in range(1, 4)
    ]


def test_close_before_any_question_and_twice_is_harmless():
    batcher = AnswerBatcher(ScriptedAnswerer())
    batcher.close()
    assert batcher.submit("q").result(5) == "answer to q"
    batcher.close()
    batcher.close()
    assert batcher._worker is None


def test_a_question_after_close_starts_a_new_worker():
    answerer = ScriptedAnswerer()
    batcher = AnswerBatcher(answerer)
    assert batcher.submit("before").result(5) == "answer to before"
    old = batcher._worker
    batcher.close()
    assert not old.is_alive()
    assert batcher.submit("after").result(5) == "answer to after"
    assert batcher._worker is not old and batcher._worker.is_alive()
    batcher.close()
    assert answerer.batches == [["before"], ["after"]]


def test_a_qabot_error_fails_only_the_bad_question_of_a_batch():
    bad = QabotError("this question breaks the answerer")
    answerer = SlowAnswerer()
    batcher = AnswerBatcher(answerer)
    hold(batcher, answerer)
    scripted = ScriptedAnswerer({"bad": bad})
    batcher.answerer = scripted  # the held batch is already inside SlowAnswerer
    futures = [batcher.submit(q) for q in ("a", "bad", "b")]
    answerer.release.set()
    assert futures[0].result(5) == "answer to a" and futures[2].result(5) == "answer to b"
    assert futures[1].exception(5) is bad
    # The batch failed once, then each question was answered alone.
    assert scripted.batches == [["a", "bad", "b"], ["a"], ["bad"], ["b"]]
    batcher.close()


def test_another_error_reaches_every_question_of_its_batch_only():
    crash = RuntimeError("the model crashed")
    answerer = SlowAnswerer()
    batcher = AnswerBatcher(answerer)
    hold(batcher, answerer)
    scripted = ScriptedAnswerer({"boom": crash})
    batcher.answerer = scripted
    same_batch = [batcher.submit(q) for q in ("a", "boom", "b")]
    other_batch = batcher.submit("c", alternatives=5)  # answered in a batch of its own
    answerer.release.set()
    assert [f.exception(5) for f in same_batch] == [crash, crash, crash]
    assert other_batch.result(5) == "answer to c"
    assert scripted.batches == [["a", "boom", "b"], ["c"]]
    # The worker survives: later questions are answered.
    assert batcher.submit("later").result(5) == "answer to later"
    batcher.close()


def test_a_question_cancelled_while_queued_is_skipped():
    answerer = SlowAnswerer()
    batcher = AnswerBatcher(answerer)
    hold(batcher, answerer)
    gone, kept = batcher.submit("gone"), batcher.submit("kept")
    assert gone.cancel()
    answerer.release.set()
    assert kept.result(5) == "answer to kept (alternatives=None)"
    assert answerer.batches[-1] == (["kept"], None)
    assert batcher.submit("next").result(5) == "answer to next (alternatives=None)"
    batcher.close()
