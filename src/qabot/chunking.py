"""Documents to passages: the units qabot retrieves and answers with.

A passage is either a body paragraph (split at sentence boundaries when it is over the size
budget) or an FAQ entry. Ids are stable strings: ``{doc_id}#{n}`` for passages and
``{doc_id}#faq-{n}`` for FAQ entries. Every passage keeps its document's title, date, section
and source links, so an answer can always say where it came from.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from qabot.corpus import Document
from qabot.structure import Link, parse_structure

DEFAULT_MAX_CHARS = 1000
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"”')\]]*\s+(?=[\"“'(\[]?[A-Z0-9À-Ý])")


@dataclass(frozen=True)
class Passage:
    """A unit of retrieval: a body passage (``kind="passage"``) or an FAQ entry (``"faq"``).

    For FAQ entries ``question`` is the FAQ question and ``text`` its answer. ``context`` is
    text that helps retrieval but is not part of the answer (a row's title, a section heading).
    """

    passage_id: str
    doc_id: str
    kind: str
    text: str
    title: str
    path: str
    date: str | None = None
    section: str = ""
    sources: tuple[Link, ...] = ()
    question: str | None = None
    context: str = ""

    def embedding_texts(self) -> list[str]:
        """The texts embedded for this passage; its dense score is the best of them.

        FAQ entries are matched both by their question and by question + answer.
        """
        if self.kind == "faq":
            return [self.question or "", f"{self.question} {self.text}"]
        return [f"{self.context} {self.text}".strip()]

    def keyword_text(self) -> str:
        """The text scored by keyword search."""
        if self.kind == "faq":
            return f"{self.question} {self.text}"
        return f"{self.context} {self.text}".strip()


def split_sentences(text: str) -> list[str]:
    """Split text at sentence boundaries (a full stop, ? or ! followed by a capital)."""
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]


def split_paragraph(paragraph: str, max_chars: int = DEFAULT_MAX_CHARS) -> list[str]:
    """Pack whole sentences into pieces of at most ``max_chars``.

    A sentence longer than the budget (a list, a table row, text without full stops) is cut at
    word boundaries instead, so that no passage is longer than the model can read.
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
    for word in text.split():
        if current and len(current) + 1 + len(word) > max_chars:
            pieces.append(current)
            current = ""
        current = f"{current} {word}".strip()
    return [*pieces, current] if current else pieces


def chunk_document(document: Document, max_chars: int = DEFAULT_MAX_CHARS) -> list[Passage]:
    """Turn one document into passages and FAQ entries (the date, FAQ block and sources
    are recognised as structure and never become answer passages on their own)."""
    common = {"doc_id": document.doc_id, "title": document.title, "path": document.path}
    if document.question is not None:
        return [
            Passage(
                passage_id=f"{document.doc_id}#faq-0",
                kind="faq",
                text=document.text,
                question=document.question,
                **common,
            )
        ]
    if document.format in ("jsonl", "csv"):
        # A structured row is one document: its title is context, its text the body.
        paragraphs = [p for p in re.split(r"\n\s*\n", document.text) if p.strip()]
        pieces = [
            piece for p in paragraphs for piece in split_paragraph(" ".join(p.split()), max_chars)
        ]
        return [
            Passage(
                passage_id=f"{document.doc_id}#{n}",
                kind="passage",
                text=piece,
                context=document.title if document.title != document.doc_id else "",
                **common,
            )
            for n, piece in enumerate(pieces)
        ]
    structure = parse_structure(document.text)
    shared = {"date": structure.date, "sources": structure.sources, **common}
    passages: list[Passage] = []
    for section in structure.sections:
        for paragraph in _merge_fragments(section.paragraphs):
            for piece in split_paragraph(paragraph, max_chars):
                passages.append(
                    Passage(
                        passage_id=f"{document.doc_id}#{len(passages)}",
                        kind="passage",
                        text=piece,
                        section=section.heading,
                        context=section.heading,
                        **shared,
                    )
                )
    faq_number = 0
    for pair in structure.faq:
        if not pair.answer.strip():
            continue
        passages.append(
            Passage(
                passage_id=f"{document.doc_id}#faq-{faq_number}",
                kind="faq",
                text=pair.answer,
                question=pair.question,
                section=pair.section,
                **shared,
            )
        )
        faq_number += 1
    return passages


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
