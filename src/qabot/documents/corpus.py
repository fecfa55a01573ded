"""Reading a corpus: files in, plain `Document` records out.

One small reader per format. Text formats (.txt, .md, .html, .pdf) give one document per file;
structured formats (.jsonl, .jsonl.gz, .csv) give one document per row, either an FAQ entry
(``question`` + ``answer``) or a document (``title``? + ``text``). A row's own ``id``/``_id`` is
kept as its document id so that BEIR-style relevance files refer to our entries directly.

Files that cannot be read are reported as `CorpusProblem` records; the rest still load. Which
files a corpus is (names checked, symlinks leaving it skipped) is `qabot.documents.files`; the
bounds on what a structured file may hold are `qabot.documents.row_formats`'.

Alternate phrasings of FAQ questions come from the rows themselves (a ``questions`` list in
JSONL, a ``|``-separated ``questions`` cell in CSV) and from ``<corpus>.alternates.jsonl``
beside the corpus (`alternates_path`), one ``{"passage_id": ..., "question": ...}`` per line,
which ``qabot feedback accept`` writes. That file is part of the corpus fingerprint.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from qabot.documents.files import (
    ROW_SUFFIXES,
    SMALLTALK_FILE,
    SUPPORTED_SUFFIXES,
    TEXT_SUFFIXES,
    CorpusProblem,
    alternates_path,
    corpus_files,
    corpus_fingerprint,
    file_digest,
    scan_corpus,
    suffix_of,
)
from qabot.documents.html_text import html_to_text
from qabot.documents.row_formats import (
    RowError,
    RowFileError,
    decode,
    parse_rows,
    read_text,
    row_format,
)
from qabot.errors import CorpusError, EmptyCorpusError

__all__ = [
    "ROW_SUFFIXES",
    "SMALLTALK_FILE",
    "SUPPORTED_SUFFIXES",
    "TEXT_SUFFIXES",
    "Corpus",
    "CorpusProblem",
    "Document",
    "alternates_path",
    "corpus_files",
    "corpus_fingerprint",
    "file_digest",
    "load_corpus",
    "read_alternates",
]


@dataclass(frozen=True)
class Document:
    """One document, or one row of a structured file.

    ``question`` is set only for structured FAQ rows; then ``text`` is the answer and
    ``questions`` holds the row's alternate phrasings of it.
    ``path`` is relative to the corpus root (posix form).
    """

    doc_id: str
    title: str
    text: str
    path: str
    format: str
    question: str | None = None
    questions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Corpus:
    """What `load_corpus` read: the documents, the problems met on the way, and the alternate
    questions of ``alternates.jsonl`` (FAQ entry id -> phrasings)."""

    documents: tuple[Document, ...]
    problems: tuple[CorpusProblem, ...]
    fingerprint: str
    alternates: dict[str, tuple[str, ...]] = field(default_factory=dict)


class _Unusable(Exception):
    """A file cannot be used; the message says why."""


def read_alternates(
    corpus_path: Path | str,
) -> tuple[dict[str, tuple[str, ...]], list[CorpusProblem]]:
    """The alternate questions beside a corpus (FAQ entry id -> phrasings), and bad lines.

    A missing file is no alternates. Whether each id names an FAQ entry is checked when the
    index is built, where the entries are known.
    """
    path = alternates_path(corpus_path)
    if not path.exists():
        return {}, []
    try:
        text = read_text(path)
    except RowFileError as exc:
        return {}, [CorpusProblem(path.name, str(exc))]
    found: dict[str, list[str]] = {}
    problems = []
    for row in parse_rows(text, "jsonl"):
        if isinstance(row, RowError):
            problems.append(CorpusProblem(f"{path.name}:{row.line}", row.message))
            continue
        passage_id, question = _field(row.fields, "passage_id"), _field(row.fields, "question")
        if not passage_id or not question:
            problems.append(
                CorpusProblem(f"{path.name}:{row.line}", "needs a passage_id and a question")
            )
            continue
        found.setdefault(passage_id, []).append(question)
    return {k: tuple(dict.fromkeys(v)) for k, v in found.items()}, problems


def load_corpus(path: Path | str, *, follow_symlinks: bool = False) -> Corpus:
    """Read every supported file under ``path`` (a folder, read recursively, or one file).

    Each file is read as hostile (`qabot.documents.files`, `qabot.documents.row_formats`): one
    that cannot be named, read or parsed is a problem, and the rest still load. Symlinks
    leaving the folder are skipped unless ``follow_symlinks``.

    Raises:
        CorpusError: the path does not exist.
        EmptyCorpusError: no document could be read; the message lists the problems.
    """
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"Corpus path {str(path)!r} does not exist.")
    root = path.parent if path.is_file() else path
    documents: list[Document] = []
    found = scan_corpus(path, follow_symlinks=follow_symlinks)
    problems: list[CorpusProblem] = list(found.skipped)
    seen_ids: set[str] = set()
    for file in found.files:
        relative = file.relative_to(root).as_posix()
        try:
            for document in _read_file(file, relative, problems):
                if document.doc_id in seen_ids:
                    problems.append(
                        CorpusProblem(relative, f"duplicate id {document.doc_id!r}; row skipped")
                    )
                    continue
                seen_ids.add(document.doc_id)
                documents.append(document)
        except _Unusable as exc:
            problems.append(CorpusProblem(relative, str(exc)))
        except (RecursionError, UnicodeError, ValueError) as exc:
            # A parser's own failure on a hostile file skips that file, not the build.
            problems.append(CorpusProblem(relative, f"cannot be read ({type(exc).__name__})"))
    if path.is_file() and suffix_of(path) not in SUPPORTED_SUFFIXES:
        problems.append(CorpusProblem(path.name, f"unsupported format {suffix_of(path)!r}"))
    if not documents:
        detail = "; ".join(str(p) for p in problems) or "no supported files"
        raise EmptyCorpusError(
            f"Corpus {str(path)!r} has nothing to index ({detail}). "
            f"Supported formats: {', '.join(SUPPORTED_SUFFIXES)}."
        )
    alternates, alternate_problems = read_alternates(path)
    return Corpus(
        tuple(documents),
        (*problems, *alternate_problems),
        corpus_fingerprint(path, follow_symlinks=follow_symlinks),
        alternates,
    )


def _read_file(file: Path, relative: str, problems: list[CorpusProblem]) -> Iterator[Document]:
    suffix = suffix_of(file)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise _Unusable(f"cannot be read ({exc.strerror or exc})") from exc
    if not raw.strip():
        raise _Unusable("empty file")
    if suffix == ".pdf":
        yield _pdf_document(raw, relative)
        return
    try:
        text = decode(raw, gzipped=suffix == ".jsonl.gz")
    except RowFileError as exc:
        raise _Unusable(str(exc)) from exc
    if suffix in ROW_SUFFIXES:
        yield from _row_documents(text, relative, suffix, problems)
        return
    title = _stem(relative)
    if suffix in (".html", ".htm"):
        html_title, text = html_to_text(text)
        title = html_title or title
    elif suffix in (".md", ".markdown"):
        title = _markdown_title(text) or title
    if not text.strip():
        raise _Unusable("no text in file")
    yield Document(relative, title, text, relative, suffix.lstrip("."))


def _stem(relative: str) -> str:
    name = relative.rsplit("/", 1)[-1]
    for suffix in SUPPORTED_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _markdown_title(text: str) -> str | None:
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip() or None
    return None


def _row_documents(
    text: str, relative: str, suffix: str, problems: list[CorpusProblem]
) -> Iterator[Document]:
    """One document per usable row; the others are reported as problems and skipped."""
    fmt = suffix.lstrip(".").removesuffix(".gz")
    count = 0
    # A corpus takes spreadsheet exports as they come: short rows lack fields, extra cells go.
    for row in parse_rows(text, row_format(relative), ragged_ok=True):
        where = f"{relative}:{row.line}"
        if isinstance(row, RowError):
            problems.append(CorpusProblem(where, row.message))
            continue
        document = _row_document(row.fields, where, relative, fmt)
        if isinstance(document, CorpusProblem):
            problems.append(document)
            continue
        count += 1
        yield document
    if count == 0:
        raise _Unusable("no usable rows (need question+answer or text)")


def _row_document(fields: dict, where: str, relative: str, fmt: str) -> Document | CorpusProblem:
    """A row's document: an FAQ entry, or a titled text; else why it is neither."""
    own_id = next((fields[k] for k in ("id", "_id") if fields.get(k) not in (None, "")), None)
    doc_id = str(own_id if own_id is not None else where).strip()
    question = _field(fields, "question")
    answer = _field(fields, "answer")
    body = _field(fields, "text")
    if question and answer:
        alternates = _phrasings(fields.get("questions"), question)
        return Document(doc_id, question, answer, relative, fmt, question, alternates)
    if body:
        return Document(doc_id, _field(fields, "title") or doc_id, body, relative, fmt)
    if question:
        return CorpusProblem(where, f"FAQ entry {doc_id!r} has an empty answer", "empty-answer")
    return CorpusProblem(where, "row has neither question+answer nor text; skipped")


def _phrasings(value: object, question: str) -> tuple[str, ...]:
    """A row's alternate questions: a JSON list, or a ``|``-separated cell (CSV)."""
    items = value if isinstance(value, list) else str(value or "").split("|")
    cleaned = (" ".join(str(item).split()) for item in items if isinstance(item, str))
    return tuple(dict.fromkeys(q for q in cleaned if q and q != question))


def _field(fields: dict, name: str) -> str:
    value = fields.get(name)
    return value.strip() if isinstance(value, str) else ""


def _pdf_document(raw: bytes, relative: str) -> Document:
    # pypdf is imported here so that reading text corpora never pays for it.
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(raw))
        pages = [page.extract_text() or "" for page in reader.pages]
        title = (reader.metadata.title if reader.metadata else None) or _stem(relative)
    except PdfReadError as exc:
        raise _Unusable(f"not a readable PDF ({exc})") from exc
    except Exception as exc:  # pypdf raises many types on odd files: skip the file, not the build
        raise _Unusable(f"not a readable PDF ({type(exc).__name__}: {exc})") from exc
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    if not text:
        raise _Unusable("PDF has no extractable text (scanned images are not supported)")
    return Document(relative, str(title), text, relative, "pdf")
