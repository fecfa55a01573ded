"""Recognising document structure in plain text: date header, sections, FAQ block, sources.

Many real documents share one shape: a dated header, body paragraphs, an FAQ block (numbered or
``Q:``-style questions, each followed by its answer) and a list of source links. These are
structure to recognise, not text to answer with: `parse_structure` separates them.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

_DATE_HEADER = re.compile(
    r"\A\s*(?:date|dated|published|updated)\s*[:\-]?\s*(\d{4}-\d{2}-\d{2})\b[ \t]*\n?",
    re.IGNORECASE,
)
_MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$")
_FAQ_HEADING = re.compile(
    r"^(?:frequently\s+asked\s+questions|faqs?|questions\s+and\s+answers|q\s*&\s*a|q\s*and\s*a)"
    r"(?:\s*\(faqs?\))?\s*:?$",
    re.IGNORECASE,
)
_SOURCES_HEADING = re.compile(
    r"^(?:sources?|references?|links|further\s+reading)\s*:?\s*(.*)$", re.IGNORECASE
)
_Q_LINE = re.compile(r"^\s*(?:Q\s*\d*\s*[:.)]|Question\s*\d*\s*:)\s*(.+)$", re.IGNORECASE)
_A_LINE = re.compile(r"^\s*(?:A\s*\d*\s*[:.)]|Answer\s*:)\s*(.*)$", re.IGNORECASE)
_NUMBERED_QUESTION = re.compile(
    r"^\s*(?:\d{1,3}[.)]|[-•]|\*(?!\*))?\s*(?:\*\*|__)?(.+?\?)(?:\*\*|__)?\s*$"
)
_URL = re.compile(r"https?://[^\s<>()\"']+[^\s<>()\"'.,;:!?]")
_LIST_MARK = re.compile(r"^[\s\-–—•*·]+|[\s\-–—:•*·]+$")


@dataclass(frozen=True)
class Link:
    """A source link: a label (may be empty) and a URL."""

    label: str
    url: str


@dataclass(frozen=True)
class Section:
    """Body paragraphs under one heading (``heading`` is empty before the first one)."""

    heading: str
    paragraphs: tuple[str, ...]


@dataclass(frozen=True)
class FaqPair:
    """One question of an FAQ block and its answer (may be empty: lint reports those)."""

    question: str
    answer: str
    section: str


@dataclass(frozen=True)
class Structure:
    """What `parse_structure` found in a text."""

    date: str | None
    sections: tuple[Section, ...]
    faq: tuple[FaqPair, ...]
    sources: tuple[Link, ...]


def parse_structure(text: str) -> Structure:
    """Split a text into its date, body sections, FAQ pairs and source links."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    date = None
    match = _DATE_HEADER.match(text)
    if match and _is_date(match.group(1)):
        date = match.group(1)
        text = text[match.end() :]
    builder = _Builder()
    for paragraph in re.split(r"\n\s*\n", text):
        builder.paragraph(paragraph)
    return builder.result(date)


class _Builder:
    """A small state machine over paragraphs: body, FAQ or sources mode."""

    def __init__(self) -> None:
        self.mode = "body"
        self.heading = ""
        self.sections: list[Section] = []
        self.paragraphs: list[str] = []
        self.faq: list[tuple[str, list[str], str]] = []
        self.sources: list[Link] = []

    def paragraph(self, paragraph: str) -> None:
        lines = [line.strip() for line in paragraph.split("\n") if line.strip()]
        if not lines:
            return
        if len(lines) == 1 and self._single_line(lines[0]):
            return
        pending: list[str] = []
        for line in lines:
            heading = _MD_HEADING.match(line)
            q_line = _Q_LINE.match(line)
            a_line = _A_LINE.match(line)
            named = _named_heading(line)
            if heading or q_line or a_line or named:
                self._text(" ".join(pending))
                pending = []
            if heading:
                self._heading(heading.group(2).strip())
            elif named:
                self._heading(named)
            elif q_line:
                self._question(q_line.group(1).strip())
            elif a_line:
                pending = [a_line.group(1).strip()]
            elif self.mode == "sources":
                self._source_line(line)
            else:
                pending.append(line)
        self._text(" ".join(pending))

    def _single_line(self, line: str) -> bool:
        """Handle a one-line paragraph if it is structure; return True when it was."""
        heading = _MD_HEADING.match(line)
        if heading:
            self._heading(heading.group(2).strip())
            return True
        bare = line.strip("*_ ").strip()
        if _FAQ_HEADING.match(bare) or (_SOURCES_HEADING.match(bare) and _is_heading_like(bare)):
            self._heading(bare)
            return True
        sources = _SOURCES_HEADING.match(bare)
        if sources and _URL.search(sources.group(1)):
            self._heading("Sources")
            self._source_line(sources.group(1))
            return True
        if self.mode == "faq" and not _Q_LINE.match(line) and not _A_LINE.match(line):
            question = _NUMBERED_QUESTION.match(line)
            if question and len(line) <= 300:
                self._question(question.group(1).strip())
                return True
        if self.mode != "sources" and _is_heading_like(line):
            self._heading(line.strip("#*_ ").rstrip(":").strip())
            return True
        return False

    def _heading(self, heading: str) -> None:
        bare = heading.rstrip(":").strip()
        if _FAQ_HEADING.match(bare):
            self._close_section()
            self.mode, self.heading = "faq", bare
        elif (sources := _SOURCES_HEADING.match(heading)) and not sources.group(1):
            self._close_section()
            self.mode = "sources"
        elif self.mode == "faq" and bare.endswith("?"):
            self._question(bare)
        else:
            self._close_section()
            self.mode, self.heading = "body", bare

    def _question(self, question: str) -> None:
        if self.mode == "body":
            self._close_section()
        self.mode = "faq"
        self.faq.append((question, [], self.heading))

    def _text(self, text: str) -> None:
        if not text:
            return
        if self.mode == "faq" and self.faq:
            self.faq[-1][1].append(text)
        elif self.mode == "sources":
            self._source_line(text)
        else:
            self.paragraphs.append(text)

    def _source_line(self, line: str) -> None:
        urls = _URL.findall(line)
        if not urls:
            # A line with no link ends the list: it is body text again.
            self.mode = "body"
            self.paragraphs.append(line)
            return
        label = _LIST_MARK.sub("", _URL.sub("", line)).strip(" ()[]")
        for url in urls:
            self.sources.append(Link(label if len(urls) == 1 else "", url))

    def _close_section(self) -> None:
        if self.paragraphs:
            self.sections.append(Section(self.heading, tuple(self.paragraphs)))
        self.paragraphs = []

    def result(self, date: str | None) -> Structure:
        self._close_section()
        faq = tuple(FaqPair(q, "\n\n".join(a), s) for q, a, s in self.faq)
        return Structure(date, tuple(self.sections), faq, tuple(dict.fromkeys(self.sources)))


def _is_date(text: str) -> bool:
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _named_heading(line: str) -> str | None:
    """The FAQ or sources heading a line consists of, if it is one (e.g. a PDF's own line)."""
    bare = line.strip("#*_ ").strip()
    if _FAQ_HEADING.match(bare):
        return bare
    sources = _SOURCES_HEADING.match(bare)
    return bare if sources and not sources.group(1) else None


def _is_heading_like(line: str) -> bool:
    """A short line without sentence punctuation reads as a heading in plain text."""
    stripped = line.strip("#*_ ")
    if not stripped or len(stripped) > 80 or _URL.search(stripped):
        return False
    if stripped[-1] in ".!?,;" or stripped[0] in "-–—•*·(":
        return False
    return len(stripped.split()) <= 10
