"""Stand-ins for an `Answerer` in the chat's unit tests: answers from a table, no model."""

from __future__ import annotations

from types import SimpleNamespace

from qabot.answering.answer import Answer
from qabot.errors import QuestionError


class StubAnswerer:
    """Answers from a table: question → (found, text); records the batches it was given.

    ``passages`` and ``manifest`` are the few read-only views of `Answerer` the chat reads:
    one FAQ entry per ``faq`` question, all from one document titled ``title``.
    """

    def __init__(
        self,
        table: dict[str, tuple[bool, str]],
        *,
        faq: tuple[str, ...] = (),
        title: str = "stub-doc",
    ) -> None:
        self.table = table
        self.asked: list[list[str]] = []
        self.passages = tuple(
            SimpleNamespace(kind="faq", question=q, title=title, passage_id=f"stub#faq-{n}")
            for n, q in enumerate(faq)
        )
        self.manifest = SimpleNamespace(documents=1)

    def answer(self, question, alternatives=None):
        return self.answer_batch([question], alternatives)[0]

    def answer_batch(self, questions, alternatives=None):
        if any(not q.strip() for q in questions):
            raise QuestionError("The question is empty: type a question.")
        self.asked.append(list(questions))
        return [self._answer(q) for q in questions]

    def _answer(self, question):
        found, text = self.table.get(question, (False, "I don't know."))
        return Answer(
            question, found, "faq" if found else None, text, 0.9 if found else 0.1, None, None, ()
        )


def served_manifest(data_dir: str = "data-1", *, built_at: str = "2030-01-01") -> SimpleNamespace:
    """The manifest fields the server reads (``/healthz``, ``/metrics``), for a stub answerer."""
    return SimpleNamespace(
        model="stub",
        documents=1,
        passages=1,
        faq_entries=1,
        built_at=built_at,
        data_dir=data_dir,
    )
