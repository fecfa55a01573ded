"""What the confidence features read besides the hit itself, worked out once and kept.

An answer reads the features of its top hit and of each alternative: the question's own
evidence (its tokens, its BM25 matches among FAQ questions, its absent share and absent name)
is the same for all of them, and the same passages come back question after question. These are
caches of one index's facts: bounded, and nothing relies on what they hold.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from qabot.answering.features import QuestionEvidence, question_evidence
from qabot.index.candidates import Candidates, no_candidates
from qabot.index.keyword import tokenize

if TYPE_CHECKING:
    from qabot.documents.chunking import Passage
    from qabot.index.build import Index

T = TypeVar("T")
QUESTIONS_KEPT = 256
PASSAGES_KEPT = 4096

QuestionFacts = tuple[QuestionEvidence, Candidates]
"""A question's evidence (`qabot.answering.features.question_evidence`) and FAQ BM25 matches."""


class IndexFacts:
    """One index's facts that the confidence features read, each worked out once."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self._faq_rows: dict[str, list[int]] | None = None
        self._questions: dict[str, QuestionFacts] = {}
        self._tokens: dict[str, set[str]] = {}

    def question(self, question: str) -> QuestionFacts:
        """What the features read of the question alone."""
        if question not in self._questions:
            self.questions([question])
        return self._questions[question]

    def questions(self, questions: Sequence[str]) -> None:
        """Work out and keep what the features read of each question, for a batch at once
        (at most `QUESTIONS_KEPT`: all of them are kept until the next batch)."""
        new = list(dict.fromkeys(q for q in questions if q not in self._questions))
        if not new:
            return
        if len(new) > QUESTIONS_KEPT:
            raise ValueError(f"{len(new)} questions at once; at most {QUESTIONS_KEPT} are kept")
        if len(self._questions) + len(new) > QUESTIONS_KEPT:
            self._questions.clear()
        index = self.index
        faq = (
            index.faq_keyword_index.matches_batch(new)
            if index.faq_keyword_index
            else [no_candidates() for _ in new]
        )
        vocabulary = index.keyword_index.vocabulary
        for question, matches in zip(new, faq, strict=True):
            self._questions[question] = (question_evidence(question, vocabulary), matches)

    def faq_rows(self, passage_id: str) -> list[int] | None:
        """The rows of an FAQ entry's phrasings in the FAQ keyword index (None for a passage)."""
        if self._faq_rows is None:
            faq_keyword_index = self.index.faq_keyword_index
            self._faq_rows = {}
            for row, entry in enumerate(faq_keyword_index.ids if faq_keyword_index else ()):
                self._faq_rows.setdefault(entry, []).append(row)
        return self._faq_rows.get(passage_id)

    def passage_tokens(self, passage: Passage) -> set[str]:
        """A passage's keyword tokens."""
        return _memoised(
            self._tokens,
            passage.passage_id,
            lambda: set(tokenize([passage.keyword_text()])[0]),
            PASSAGES_KEPT,
        )


def _memoised(memo: dict[str, T], key: str, work_out: Callable[[], T], limit: int) -> T:
    """``memo[key]``, worked out once; a full memo is emptied."""
    if key not in memo:
        if len(memo) >= limit:
            memo.clear()
        memo[key] = work_out()
    return memo[key]
