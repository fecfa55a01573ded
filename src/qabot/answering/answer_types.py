"""What kind of fact a question asks for, and whether an answer's words can hold it.

Two cheap signals that a retrieved text is on the question's topic but lacks its fact (the
"near-domain" questions a cosine cannot tell apart from answerable ones):

- **The expected answer type is missing.** "When …?" needs a time (a year, a month, a date,
  or — for a dated news passage — the date it was written); "How many/much …?" needs a
  quantity (a digit or a number word). The answer "NATO is an alliance of 30 countries" holds
  no time, so it cannot answer "When was NATO founded?".
- **The question names something the corpus never mentions.** A capitalised word inside the
  question ("the Vilnius summit", "a Membership Action Plan") that occurs nowhere in the
  documents: the documents cannot hold a fact about it.

Both are deliberately narrow (English wh-words; a capital after the first word), so they stay
silent on what they do not understand rather than guess. They enter the confidence model as
features with a fixed negative sign (`qabot.answering.features.FEATURES`); their weight is fitted on dev
data like every other feature's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from qabot.documents.chunking import Passage

AnswerType = Literal["time", "quantity"]

_ASKS_TIME = re.compile(
    r"^\s*(when\b|(in |by |on |until )?(what|which) (year|years|date|day|month|time)\b)"
    r"|\b(what|which) (year|date)\b",
    re.IGNORECASE,
)
_ASKS_QUANTITY = re.compile(r"\bhow (many|much)\b", re.IGNORECASE)

_MONTHS = (
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec"
)
_DAYS = "monday tuesday wednesday thursday friday saturday sunday"
_RELATIVE_TIME = (
    "today yesterday tomorrow tonight century centuries decade decades ago annually "
    "weekly daily monthly yearly"
)
_TIME_WORDS = frozenset((_MONTHS + " " + _DAYS + " " + _RELATIVE_TIME).split())
_YEAR_OR_DATE = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})s?\b|\b\d{1,2}[/.-]\d{1,2}([/.-]\d{2,4})?\b")

_NUMBERS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy "
    "eighty ninety hundred hundreds thousand thousands million millions billion billions "
    "trillion dozen dozens half quarter single double twice triple percent none"
)
_NUMBER_WORDS = frozenset(_NUMBERS.split())
_DIGIT = re.compile(r"\d")
_WORD = re.compile(r"[A-Za-z]+")


def expected_type(question: str) -> AnswerType | None:
    """The kind of fact ``question`` asks for, or None when it is not one of the kinds known."""
    if _ASKS_TIME.search(question):
        return "time"
    if _ASKS_QUANTITY.search(question):
        return "quantity"
    return None


def holds_type(text: str, kind: AnswerType, *, dated: bool = False) -> bool:
    """Whether ``text`` has words that can express a fact of ``kind``.

    ``dated`` says the text carries the date it was written (a dated news passage): that date
    answers "when" questions about the events it reports.
    """
    words = {w.lower() for w in _WORD.findall(text)}
    if kind == "time":
        return dated or bool(_YEAR_OR_DATE.search(text)) or bool(words & _TIME_WORDS)
    return bool(_DIGIT.search(text)) or bool(words & _NUMBER_WORDS)


def type_missing(question: str, answer_text: str, *, dated: bool = False) -> float:
    """1.0 when the question asks for a time or a quantity that ``answer_text`` cannot hold."""
    kind = expected_type(question)
    return float(kind is not None and not holds_type(answer_text, kind, dated=dated))


def is_dated(passage: Passage) -> bool:
    """A body passage of a dated document answers "when" with that date; an FAQ entry does not.

    An FAQ answer states general facts ("What is NATO?"), not the news of its page's date.
    """
    return passage.kind == "passage" and bool(passage.date)


def capitalised_names(question: str) -> list[str]:
    """Words written with a capital inside the question (not its first word): likely names."""
    return [w for w in _WORD.findall(question)[1:] if w[0].isupper() and w != "I"]


def absent_name(
    question: str,
    vocabulary: Collection[str],
    tokenize: Callable[[Sequence[str]], list[list[str]]],
) -> float:
    """1.0 when the question names something (a capitalised word) the corpus never mentions.

    ``tokenize`` maps texts to the keyword index's tokens (`qabot.index.keyword.tokenize`), so that a
    name is looked up exactly as the corpus's words were stored.
    """
    names = capitalised_names(question)
    if not names:
        return 0.0
    for tokens in tokenize(names):
        if any(t not in vocabulary for t in tokens):
            return 1.0
    return 0.0
