"""The answer record: what ``qabot ask --json``, the API and the chat all return.

`Answer` holds the documents' own words, where they came from (`Source`), the next-best
matches (`Alternative`), and how sure qabot is. `Answer.to_dict` is its one JSON form, and
`ANSWER_KEYS` the keys it promises. The `qabot.answering.answerer.Answerer` makes them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields, is_dataclass
from typing import Literal

from qabot.documents.chunking import Kind, Passage
from qabot.documents.structure import Link
from qabot.models.verifier import Span

DECLINE_MESSAGE = "I don't know: nothing in the documents answers that question."
# What an answer is: an FAQ entry's answer, a passage (the documents' words), or small talk
# (words we wrote: `qabot.answering.smalltalk`).
AnswerKind = Literal["faq", "passage", "smalltalk"]


@dataclass(frozen=True)
class Source:
    """Where an answer came from."""

    title: str
    date: str | None
    links: tuple[Link, ...]
    passage_id: str
    doc_id: str
    path: str
    section: str

    @classmethod
    def of(cls, passage: Passage) -> Source:
        """The source of a passage or FAQ entry."""
        return cls(
            title=passage.title,
            date=passage.date,
            links=passage.sources,
            passage_id=passage.passage_id,
            doc_id=passage.doc_id,
            path=passage.path,
            section=passage.section,
        )


@dataclass(frozen=True)
class Alternative:
    """A next-best match, offered beside the answer."""

    passage_id: str
    kind: Kind
    text: str
    faq_question: str | None
    score: float
    title: str

    @classmethod
    def of(cls, passage: Passage, score: float) -> Alternative:
        """A passage or FAQ entry offered with its own probability ``score``."""
        return cls(
            passage.passage_id, passage.kind, passage.text, passage.question, score, passage.title
        )


@dataclass(frozen=True)
class Answer:
    """The answer to one question.

    ``score`` is the probability that the answer is right (1.0 for an FAQ question asked
    verbatim); each alternative's ``score`` is its own probability, read the same way.
    ``found`` is False when ``score`` is below the threshold; then ``answer`` is the decline
    message, ``kind``/``source`` are None and ``suggestions`` lists close FAQ questions.
    Small talk ("hello", "help") is not found either: ``kind`` is ``"smalltalk"``, ``answer``
    our configured reply, ``score`` how close the question came to small talk, and
    ``suggestions`` starter questions (if the reply offers them).
    ``highlight`` is the sentence of ``answer`` most similar to the question; ``span`` is the
    verifier's answer inside ``answer`` (``answer[span.start:span.end] == span.text``), when it
    found one. ``verifier`` is the verifier's P(the top hit answers the question), None when
    no verifier read it (``--no-verifier``, or an FAQ question asked verbatim).
    """

    question: str
    found: bool
    kind: AnswerKind | None
    answer: str
    score: float
    faq_question: str | None
    source: Source | None
    alternatives: tuple[Alternative, ...]
    highlight: str | None = None
    suggestions: tuple[str, ...] = ()
    truncated: bool = False
    verifier: float | None = None
    span: Span | None = None

    def marked_parts(self) -> list[tuple[str, str]]:
        """The answer as consecutive ``(text, mark)`` pieces that join up to ``answer``.

        ``mark`` is ``"span"`` for the verifier's exact answer, ``"sentence"`` for the rest of
        the highlighted sentence and ``""`` for the other words. The one place that decides
        what is marked: the chat renders it as ``<mark>``/``<strong>``, the terminal as
        ``>>> … <<<`` and ``[[…]]``.
        """
        text, marks = self.answer, [""] * len(self.answer)
        if self.highlight and self.highlight != text and self.highlight in text:
            start = text.index(self.highlight)
            marks[start : start + len(self.highlight)] = ["sentence"] * len(self.highlight)
        if self.span is not None and text[self.span.start : self.span.end] == self.span.text:
            marks[self.span.start : self.span.end] = ["span"] * (self.span.end - self.span.start)
        parts: list[tuple[str, str]] = []
        for char, mark in zip(text, marks, strict=True):
            if parts and parts[-1][1] == mark:
                parts[-1] = (parts[-1][0] + char, mark)
            else:
                parts.append((char, mark))
        return parts

    @property
    def passage_id(self) -> str | None:
        return self.source.passage_id if self.source else None

    def to_dict(self) -> dict:
        """The JSON form shared by ``qabot ask --json``, the API and the chat."""
        data = _plain(self)  # tuples become lists: plain JSON values
        data["score"] = round(self.score, 4)
        if self.verifier is not None:
            data["verifier"] = round(self.verifier, 4)
        if data["span"] is not None:
            data["span"]["score"] = round(self.span.score, 3)  # type: ignore[union-attr]
        for alternative in data["alternatives"]:
            alternative["score"] = round(alternative["score"], 4)
        return data


def _plain(value: object) -> object:
    """``json.loads(json.dumps(asdict(value)))`` for records of JSON values, without the copies
    (to_dict and its JSON: 0.07 ms an answer that way, 0.03 this way)."""
    if value is None or isinstance(value, str | int):  # bool is an int
        return value
    if isinstance(value, float):  # a float subclass (numpy's) as JSON would read it back
        return float(value)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if is_dataclass(value) and not isinstance(value, type):
        return {name: _plain(getattr(value, name)) for name in _field_names(type(value))}
    return value


@functools.cache
def _field_names(record: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(record))


ANSWER_KEYS: tuple[str, ...] = tuple(f.name for f in fields(Answer))
"""The keys of `Answer.to_dict`: what ``qabot ask --json``, the API and the chat promise."""
