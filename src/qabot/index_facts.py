"""What the confidence features read besides the hit itself, worked out once and kept.

An answer reads the features of its top hit and of each alternative: the question's own
evidence (its tokens, its BM25 matches among FAQ questions, its absent share and absent name)
is the same for all of them, and the same passages come back question after question. These are
caches of one index's facts: bounded, and nothing relies on what they hold.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from qabot.answer_types import absent_name
from qabot.candidates import Candidates, no_candidates
from qabot.evidence import absent_share
from qabot.lexical import tokenize

if TYPE_CHECKING:
    from qabot.chunking import Passage
    from qabot.index import Index

T = TypeVar("T")
QUESTIONS_KEPT = 256
PASSAGES_KEPT = 4096

QuestionFacts = tuple[list[str], Candidates, float, float]
"""A question's keyword tokens, FAQ BM25 matches, `absent_share` and `absent_name`."""


class IndexFacts:
    """One index's facts that the confidence features read, each worked out once."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self._faq_rows: dict[str, list[int]] | None = None
        self._questions: dict[str, QuestionFacts] = {}
        self._tokens: dict[str, set[str]] = {}

    def question(self, question: str) -> QuestionFacts:
        """What the features read of the question alone."""

        def work_out() -> QuestionFacts:
            index, tokens = self.index, tokenize([question])[0]
            faq = index.faq_lexical.matches(question) if index.faq_lexical else no_candidates()
            vocabulary = index.lexical.vocabulary
            named = absent_name(question, vocabulary, tokenize)
            return tokens, faq, absent_share(tokens, vocabulary), named

        return _memoised(self._questions, question, work_out, QUESTIONS_KEPT)

    def faq_rows(self, passage_id: str) -> list[int] | None:
        """The rows of an FAQ entry's phrasings in the FAQ keyword index (None for a passage)."""
        if self._faq_rows is None:
            faq_lexical = self.index.faq_lexical
            self._faq_rows = {}
            for row, entry in enumerate(faq_lexical.ids if faq_lexical else ()):
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
