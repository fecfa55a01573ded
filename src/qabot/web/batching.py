"""Micro-batching: questions that arrive together are answered in one `Answerer.answer_batch`.

The model embeds eight questions in one forward pass much faster than in eight, so under load
the API answers more questions per second, and a worker thread keeps the model from running
many forward passes at once on the same cores. A lone question waits for nothing.
When a batch fails, each of its questions is answered alone, so a bad one fails by itself.

Long questions cost more (a 2,000-character question fills the model's window: three or
four times a short one's forward pass, and a batch is padded to its longest), so they have
a worker of their own, one question at a time: a short question never waits behind a long
one, and the model's buffers stay those of one long question (batches of four 2,000-character
questions grew the server by 15 % for good). Four clients sending 2,000-character questions
raised a short question's p50 from 53 ms to 322-440 ms on one worker; on two it stays within
2x of idle (bench/results/hostile-traffic.md).

The API submits questions and awaits their futures; the chat, whose handlers run in Gradio's
worker threads, calls `AnswerBatcher.answer` / `AnswerBatcher.answer_batch`, which block on
the same queues. So the API and the chat share the workers: at most two forward passes at a
time, one of them for long questions.
"""

from __future__ import annotations

import queue
import threading
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING

from qabot.answering.answer import Answer
from qabot.answering.answerer import Answerer

if TYPE_CHECKING:
    from qabot.documents.chunking import Passage
    from qabot.index.manifest import IndexManifest
    from qabot.web.holder import AnswererHolder

DEFAULT_MAX_BATCH = 32
DEFAULT_MAX_LONG_BATCH = 1
# Characters from which a question is long: past about 60 word pieces, well above any typed
# question, where its forward pass starts to cost several short ones'.
LONG_QUESTION_CHARS = 300

_Item = tuple[str, "int | None", Future]


class AnswerBatcher:
    """Answers questions on worker threads, batching those that queue up meanwhile.

    Short questions go to one worker, long ones (`LONG_QUESTION_CHARS`) to another, so that a
    short question never waits behind a long one's forward pass.

    Args:
        answerer: does the answering.
        max_batch: the most short questions answered in one batch.
        max_long_batch: the most long questions answered in one batch.
    """

    def __init__(
        self,
        answerer: Answerer | AnswererHolder,
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
        max_long_batch: int = DEFAULT_MAX_LONG_BATCH,
    ) -> None:
        self.answerer = answerer
        self._sizes = (max_batch, max_long_batch)
        self._queues: tuple[queue.SimpleQueue[_Item | None], ...] = (
            queue.SimpleQueue(),
            queue.SimpleQueue(),
        )
        self._lock = threading.Lock()
        self._workers: list[threading.Thread | None] = [None, None]

    def submit(self, question: str, alternatives: int | None = None) -> Future[Answer]:
        """Queue a question; the future holds its `Answer` (or the exception it raised).

        After `close`, a new question starts a new worker: closing stops the threads, it does
        not retire the batcher.
        """
        future: Future[Answer] = Future()
        lane = int(len(question) >= LONG_QUESTION_CHARS)
        with self._lock:
            if self._workers[lane] is None:  # started on first use: building an app starts nothing
                name = ("qabot-batcher", "qabot-batcher-long")[lane]
                worker = threading.Thread(target=self._run, args=(lane,), name=name, daemon=True)
                self._workers[lane] = worker
                worker.start()
            # Queued under the lock, so that no question lands behind the stop sign of a
            # concurrent close() with no worker left to answer it.
            self._queues[lane].put((question, alternatives, future))
        return future

    def answer(self, question: str, alternatives: int | None = None) -> Answer:
        """Answer one question through the worker thread, blocking until it is answered."""
        return self.submit(question, alternatives).result()

    def answer_batch(self, questions: Sequence[str], alternatives: int | None = None) -> list:
        """Answer questions through the worker threads (usually in one batch), blocking.

        Raises:
            Exception: the first question's error that failed, as `Answerer.answer_batch` would.
        """
        futures = [self.submit(question, alternatives) for question in questions]
        return [future.result() for future in futures]

    @property
    def passages(self) -> Sequence[Passage]:
        """The served index's passages (the chat's starter questions come from them)."""
        return self.answerer.passages

    @property
    def manifest(self) -> IndexManifest:
        """The served index's manifest."""
        return self.answerer.manifest

    def close(self) -> None:
        """Stop the worker threads once the questions already queued are answered."""
        with self._lock:
            for lane, worker in enumerate(self._workers):
                if worker is not None:
                    self._queues[lane].put(None)
                    worker.join()
                    self._workers[lane] = None

    def _run(self, lane: int) -> None:
        source, size = self._queues[lane], self._sizes[lane]
        while True:
            first = source.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < size:
                try:
                    item = source.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    source.put(None)  # finish this batch, then stop
                    break
                batch.append(item)
            by_alternatives: dict[int | None, list[tuple[str, Future]]] = defaultdict(list)
            for question, alternatives, future in batch:
                # A question whose caller gave up while it queued is skipped: setting the
                # result of a cancelled future would raise and end the worker.
                if future.set_running_or_notify_cancel():
                    by_alternatives[alternatives].append((question, future))
            for alternatives, items in by_alternatives.items():
                self._answer(items, alternatives)

    def _answer(self, items: list[tuple[str, Future]], alternatives: int | None) -> None:
        try:
            answers = self.answerer.answer_batch([q for q, _ in items], alternatives)
        except Exception as exc:
            if len(items) == 1:
                items[0][1].set_exception(exc)
                return
            # Whatever the error, one bad question must not fail the others: each is answered
            # alone, so only the one(s) that really fail get the error.
            for item in items:
                self._answer([item], alternatives)
            return
        except BaseException as exc:  # SystemExit and the like: not a question's fault
            for _, future in items:
                future.set_exception(exc)
            return
        for (_, future), answer in zip(items, answers, strict=True):
            future.set_result(answer)
