"""HTML to plain text with the standard library's parser.

Blocks become paragraphs (blank-line separated), headings their own ``#`` lines so that the
structure parser sees them, links keep their URLs; scripts, styles and the head are dropped.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_BLOCK_TAGS = frozenset(
    (
        *("p", "div", "section", "article", "header", "footer", "main", "nav", "aside"),
        *("li", "ul", "ol", "dt", "dd", "br", "tr", "table", "blockquote", "pre"),
        *_HEADINGS,
    )
)
_SKIP_TAGS = frozenset(("script", "style", "noscript", "template", "head"))


class _TextExtractor(HTMLParser):
    """HTML to plain text: blocks become paragraphs, headings their own lines, links keep URLs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self._skip = 0
        self._in_title = False
        self._href: str | None = None
        self._link_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in _SKIP_TAGS:
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")
            if tag in _HEADINGS:
                self.parts.append("#" * int(tag[1]) + " ")
        elif tag == "a":
            self._href = dict(attrs).get("href")
            self._link_text = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")
        elif tag == "a" and self._href:
            label = "".join(self._link_text)
            if self._href.startswith(("http://", "https://")) and self._href not in label:
                self.parts.append(f" ({self._href})")
            self._href = None

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skip:
            self.parts.append(re.sub(r"\s+", " ", data))
            if self._href is not None:
                self._link_text.append(data)


def html_to_text(html: str) -> tuple[str, str]:
    """Return ``(title, text)`` of an HTML page; paragraphs separated by blank lines."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    raw = "".join(parser.parts)
    paragraphs = [" ".join(block.split()) for block in raw.split("\n\n")]
    text = "\n\n".join(p for p in paragraphs if p)
    title = " ".join(parser.title.split())
    if not title:
        first = next((p for p in paragraphs if p.startswith("# ")), "")
        title = first[2:]
    return title, text
