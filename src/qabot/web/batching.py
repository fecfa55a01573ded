"""Micro-batching: questions that arrive together are answered in one `Answerer.answer_batch`.

The model embeds eight questions in one forward pass much faster than in eight, so under load
the API answers more questions per second, and a single worker thread keeps PyTorch from
running several forward passes at once on the same cores. A lone question waits for nothing.
When a batch fails, each of its questions is answered alone, so a bad one fails by itself.

The API submits questions and awaits their futures; the chat, whose handlers run in Gradio's
worker threads, calls `AnswerBatcher.answer` / `AnswerBatcher.answer_batch`, which block on
the same queue. So the API and the chat share one forward pass at a time.
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


class AnswerBatcher:
    """Answers questions on one worker thread, batching those that queue up meanwhile.

    Args:
        answerer: does the answering.
        max_batch: the most questions answered in one batch.
    """

    def __init__(
        self, answerer: Answerer | AnswererHolder, *, max_batch: int = DEFAULT_MAX_BATCH
    ) -> None:
        self.answerer = answerer
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[str, int | None, Future] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None

    def submit(self, question: str, alternatives: int | None = None) -> Future[Answer]:
        """Queue a question; the future holds its `Answer` (or the exception it raised).

        After `close`, a new question starts a new worker: closing stops the thread, it does
        not retire the batcher.
        """
        future: Future[Answer] = Future()
        with self._lock:
            if self._worker is None:  # started on first use: building an app starts nothing
                self._worker = threading.Thread(target=self._run, name="qabot-batcher", daemon=True)
                self._worker.start()
            # Queued under the lock, so that no question lands behind the stop sign of a
            # concurrent close() with no worker left to answer it.
            self._queue.put((question, alternatives, future))
        return future

    def answer(self, question: str, alternatives: int | None = None) -> Answer:
        """Answer one question through the worker thread, blocking until it is answered."""
        return self.submit(question, alternatives).result()

    def answer_batch(self, questions: Sequence[str], alternatives: int | None = None) -> list:
        """Answer questions through the worker thread (usually in one batch), blocking.

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
        """Stop the worker thread once the questions already queued are answered."""
        with self._lock:
            if self._worker is not None:
                self._queue.put(None)
                self._worker.join()
                self._worker = None

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # finish this batch, then stop
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
