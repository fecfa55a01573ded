"""Documents to passages: the units qabot retrieves and answers with.

A passage is either a body paragraph (split at sentence boundaries when it is over the size
budget) or an FAQ entry. Ids are stable strings: ``{doc_id}#{n}`` for passages and
``{doc_id}#faq-{n}`` for FAQ entries. Every passage keeps its document's title, date, section
and source links, so an answer can always say where it came from.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

from qabot.documents.corpus import Document
from qabot.documents.grains import GRAIN_QUESTION, GRAIN_SENTENCE, GRAIN_WHOLE
from qabot.documents.structure import Link, Structure, parse_structure

Kind = Literal["faq", "passage"]
"""What a passage is: an FAQ entry (a question and its answer) or a body passage."""

DEFAULT_MAX_CHARS = 1000
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"”')\]]*\s+(?=[\"“'(\[]?[A-Z0-9À-Ý])")


@dataclass(frozen=True)
class Passage:
    """A unit of retrieval: a body passage (``kind="passage"``) or an FAQ entry (``"faq"``).

    For FAQ entries ``question`` is the FAQ question and ``text`` its answer. ``section`` is the
    heading the passage sits under (a structured row's title: a row is a one-section
    document); it helps a body passage's retrieval but is not part of the answer.
    ``alternates`` are other phrasings of an FAQ entry's question (each one more way to find it).
    """

    passage_id: str
    doc_id: str
    kind: Kind
    text: str
    title: str
    path: str
    date: str | None = None
    section: str = ""
    sources: tuple[Link, ...] = ()
    question: str | None = None
    alternates: tuple[str, ...] = ()

    def grain_texts(self) -> list[tuple[int, str]]:
        """The (grain, text) rows embedded for this passage, in grain order (`qabot.documents.grains`).

        Whole: an FAQ entry's question + answer, a body passage's section + text. Question: an
        FAQ entry's question and each alternate phrasing. Sentence: each sentence of an FAQ
        answer, or of a body passage that has more than one.
        """
        sentences = split_sentences(self.text)
        if self.kind == "faq":
            questions = dict.fromkeys([self.question or "", *self.alternates])
            return [
                (GRAIN_WHOLE, f"{self.question} {self.text}"),
                *((GRAIN_QUESTION, q) for q in questions),
                *((GRAIN_SENTENCE, s) for s in sentences),
            ]
        whole = [(GRAIN_WHOLE, f"{self.section} {self.text}".strip())]
        return whole + [(GRAIN_SENTENCE, s) for s in sentences] if len(sentences) > 1 else whole

    def keyword_text(self) -> str:
        """The text scored by keyword search."""
        if self.kind == "faq":
            return f"{self.question} {self.text}"
        return f"{self.section} {self.text}".strip()


def split_sentences(text: str) -> list[str]:
    """Split text at sentence boundaries (a full stop, ? or ! followed by a capital)."""
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]


def split_paragraph(paragraph: str, max_chars: int = DEFAULT_MAX_CHARS) -> list[str]:
    """Pack whole sentences into pieces of at most ``max_chars``.

    A sentence longer than the budget (a list, a table row, text without full stops) is cut at
    word boundaries instead, and a word longer than the budget (a hash, a base64 blob, a text
    without spaces) is cut every ``max_chars`` characters: no piece is ever longer.
    """
    if len(paragraph) <= max_chars:
        return [paragraph]
    pieces: list[str] = []
    current = ""
    sentences = [
        part
        for sentence in split_sentences(paragraph)
        for part in (
            [sentence] if len(sentence) <= max_chars else _split_words(sentence, max_chars)
        )
    ]
    for sentence in sentences:
        if current and len(current) + 1 + len(sentence) > max_chars:
            pieces.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}".strip()
    if current:
        pieces.append(current)
    return pieces


def _split_words(text: str, max_chars: int) -> list[str]:
    pieces: list[str] = []
    current = ""
    words = (
        whole[start : start + max_chars]
        for whole in text.split()
        for start in range(0, len(whole), max_chars)
    )
    for word in words:
        if current and len(current) + 1 + len(word) > max_chars:
            pieces.append(current)
            current = ""
        current = f"{current} {word}".strip()
    return [*pieces, current] if current else pieces


def chunk_document(document: Document, max_chars: int = DEFAULT_MAX_CHARS) -> list[Passage]:
    """Turn one document into passages and FAQ entries (the date, FAQ block and sources
    are recognised as structure and never become answer passages on their own)."""
    if document.question is not None:
        return [_faq_row_entry(document)]
    if document.format in ("jsonl", "csv"):
        return _row_passages(document, max_chars)
    structure = parse_structure(document.text)
    return _body_passages(document, structure, max_chars) + _faq_entries(document, structure)


def _faq_row_entry(document: Document) -> Passage:
    """A structured FAQ row is one FAQ entry."""
    return Passage(
        passage_id=f"{document.doc_id}#faq-0",
        doc_id=document.doc_id,
        kind="faq",
        text=document.text,
        title=document.title,
        path=document.path,
        question=document.question,
        alternates=document.questions,
    )


def _row_passages(document: Document, max_chars: int) -> list[Passage]:
    """A structured text row: its paragraphs, split to size, under its title as section."""
    paragraphs = [p for p in re.split(r"\n\s*\n", document.text) if p.strip()]
    pieces = [
        piece for p in paragraphs for piece in split_paragraph(" ".join(p.split()), max_chars)
    ]
    # An untitled row's title is its id, which means nothing to retrieval.
    section = document.title if document.title != document.doc_id else ""
    return [
        Passage(
            passage_id=f"{document.doc_id}#{n}",
            doc_id=document.doc_id,
            kind="passage",
            text=piece,
            title=document.title,
            path=document.path,
            section=section,
        )
        for n, piece in enumerate(pieces)
    ]


def _body_passages(document: Document, structure: Structure, max_chars: int) -> list[Passage]:
    """The body sections' paragraphs, short fragments merged, long ones split to size."""
    pieces = [
        (section.heading, piece)
        for section in structure.sections
        for paragraph in _merge_fragments(section.paragraphs)
        for piece in split_paragraph(paragraph, max_chars)
    ]
    return [
        _structured(document, structure, f"#{n}", "passage", piece, heading)
        for n, (heading, piece) in enumerate(pieces)
    ]


def _faq_entries(document: Document, structure: Structure) -> list[Passage]:
    """The FAQ block's answered questions (an unanswered one is for lint, not for answers)."""
    pairs = [pair for pair in structure.faq if pair.answer.strip()]
    return [
        _structured(
            document, structure, f"#faq-{n}", "faq", pair.answer, pair.section, pair.question
        )
        for n, pair in enumerate(pairs)
    ]


def _structured(
    document: Document,
    structure: Structure,
    suffix: str,
    kind: Kind,
    text: str,
    section: str,
    question: str | None = None,
) -> Passage:
    """A passage of a text document: it shares the document's date and source links."""
    return Passage(
        passage_id=f"{document.doc_id}{suffix}",
        doc_id=document.doc_id,
        kind=kind,
        text=text,
        title=document.title,
        path=document.path,
        date=structure.date,
        section=section,
        sources=structure.sources,
        question=question,
    )


def with_alternates(
    passages: Iterable[Passage], alternates: dict[str, Iterable[str]]
) -> tuple[list[Passage], list[str]]:
    """Add alternate phrasings (FAQ entry id -> questions) to their entries.

    Returns the passages and one problem per id that names no FAQ entry.
    """
    passages = list(passages)
    faq = {p.passage_id for p in passages if p.kind == "faq"}
    problems = [
        f"alternate questions for {pid!r}: no FAQ entry has that id"
        for pid in alternates
        if pid not in faq
    ]
    extended = [
        replace(p, alternates=tuple(dict.fromkeys([*p.alternates, *alternates[p.passage_id]])))
        if p.passage_id in alternates and p.kind == "faq"
        else p
        for p in passages
    ]
    return extended, problems


def chunk_documents(
    documents: Iterable[Document], max_chars: int = DEFAULT_MAX_CHARS
) -> list[Passage]:
    """`chunk_document` over many documents, in order."""
    return [p for document in documents for p in chunk_document(document, max_chars)]


def _merge_fragments(paragraphs: Iterable[str], min_chars: int = 40) -> list[str]:
    """Join very short fragments (list bullets, captions) to the paragraph before them."""
    merged: list[str] = []
    for paragraph in paragraphs:
        if merged and len(paragraph) < min_chars:
            merged[-1] = f"{merged[-1]} {paragraph}"
        else:
            merged.append(paragraph)
    return merged
