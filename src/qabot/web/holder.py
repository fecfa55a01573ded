"""`AnswererHolder`: the one place the web app reads its answerer from, so it can be swapped.

The API, the batcher and the chat all hold the same `AnswererHolder` instead of an `Answerer`.
It answers like an `Answerer` (the few methods the web side calls), reading the current one
once per call, so a batch is always answered by a single index even while `swap` runs.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qabot.answering.answer import Answer
    from qabot.answering.answerer import Answerer
    from qabot.documents.chunking import Passage
    from qabot.index.manifest import IndexManifest


class AnswererHolder:
    """Holds the answerer the server answers with; `swap` replaces it between requests.

    Args:
        answerer: the answerer to serve with at first (loaded).
    """

    def __init__(self, answerer: Answerer) -> None:
        self._answerer = answerer
        self._lock = threading.Lock()

    @property
    def current(self) -> Answerer:
        """The answerer new requests are answered with."""
        return self._answerer

    def swap(self, answerer: Answerer) -> Answerer:
        """Serve with ``answerer`` from the next call on; returns the one it replaces."""
        with self._lock:
            old, self._answerer = self._answerer, answerer
        return old

    def answer(self, question: str, alternatives: int | None = None) -> Answer:
        """`Answerer.answer` of the current answerer."""
        return self.current.answer(question, alternatives)

    def answer_batch(self, questions: Sequence[str], alternatives: int | None = None) -> list:
        """`Answerer.answer_batch` of the current answerer."""
        return self.current.answer_batch(questions, alternatives)

    @property
    def passages(self) -> Sequence[Passage]:
        """The current index's passages."""
        return self.current.passages

    @property
    def manifest(self) -> IndexManifest:
        """The current index's manifest."""
        return self.current.manifest


def hold(answerer: Answerer | AnswererHolder) -> AnswererHolder:
    """``answerer`` in a holder (a holder is returned as it is)."""
    return answerer if isinstance(answerer, AnswererHolder) else AnswererHolder(answerer)
