"""Which files a corpus is: the supported files under a folder, each one's name checked first.

A corpus folder is taken as hostile. Hidden files and folders are left out, and so are index
folders (those holding qabot's ``manifest.json``: an index kept inside its corpus must not index
itself). A file whose name is not UTF-8 cannot be named in an answer or a JSON record, so it is
skipped and reported. A symlink whose target lies outside the corpus folder is skipped and
reported unless ``follow_symlinks`` (a link inside the corpus is read through its real path,
once). Names are printed through `printable`: a file name may hold escape codes and newlines.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf")
ROW_SUFFIXES = (".jsonl", ".jsonl.gz", ".csv")
SUPPORTED_SUFFIXES = TEXT_SUFFIXES + ROW_SUFFIXES
INDEX_MARKER = "manifest.json"  # the file every qabot index folder holds
# A corpus folder's own small-talk replies (`qabot.answering.smalltalk`): not a document.
SMALLTALK_FILE = "smalltalk.jsonl"
OUTSIDE_LINK = "links outside the corpus folder; skipped (pass --follow-symlinks to read it)"


@dataclass(frozen=True)
class CorpusProblem:
    """A file (or row) that could not be used, and why.

    ``code`` classifies it for tools (``qabot lint``): ``empty-answer`` for an FAQ row with a
    question but no answer, ``unreadable`` for everything else. ``path`` is kept as found;
    printing it escapes what a terminal would run.
    """

    path: str
    message: str
    code: Literal["unreadable", "empty-answer"] = "unreadable"

    def __str__(self) -> str:
        return f"{printable(self.path)}: {self.message}"


@dataclass(frozen=True)
class CorpusFiles:
    """What `scan_corpus` found: the files to read, sorted, and those skipped, with why."""

    files: tuple[Path, ...]
    skipped: tuple[CorpusProblem, ...]


def printable(text: str) -> str:
    """``text`` safe on one terminal line: control and format characters (escape codes,
    newlines, bidirectional overrides) and undecodable bytes are shown as Python escapes."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def suffix_of(path: Path) -> str:
    """A file's format suffix, lower-cased (``.jsonl.gz`` counts as one)."""
    name = path.name.lower()
    return ".jsonl.gz" if name.endswith(".jsonl.gz") else path.suffix.lower()


def scan_corpus(path: Path | str, *, follow_symlinks: bool = False) -> CorpusFiles:
    """The supported files under ``path`` (or ``path`` itself), and the ones skipped by name."""
    path = Path(path)
    if path.is_file():
        problem = _name_problem(path, path.parent, path.parent, follow_symlinks=True)
        return CorpusFiles((), (problem,)) if problem else CorpusFiles((path,), ())
    real_root = path.resolve()
    files: list[Path] = []
    skipped: list[CorpusProblem] = []
    seen_dirs: set[str] = set()
    for folder, dirnames, filenames in os.walk(path, followlinks=follow_symlinks):
        here = Path(folder)
        if os.path.realpath(here) in seen_dirs:  # a link loop, or a folder reached twice
            dirnames[:] = []
            continue
        seen_dirs.add(os.path.realpath(here))
        kept = []
        for name in sorted(dirnames):
            child = here / name
            if name.startswith(".") or _is_index_folder(child):
                continue
            problem = _name_problem(child, path, real_root, follow_symlinks)
            if problem is not None:
                skipped.append(problem)
            elif follow_symlinks or not child.is_symlink():
                kept.append(name)
        dirnames[:] = kept
        for name in filenames:
            child = here / name
            if name.startswith(".") or suffix_of(child) not in SUPPORTED_SUFFIXES:
                continue
            if name == SMALLTALK_FILE and here == path:  # the folder's small-talk replies
                continue
            problem = _name_problem(child, path, real_root, follow_symlinks)
            if problem is not None:
                skipped.append(problem)
            elif child.is_file():
                files.append(child)
    return CorpusFiles(tuple(sorted(files)), tuple(skipped))


def _name_problem(
    child: Path, root: Path, real_root: Path, follow_symlinks: bool
) -> CorpusProblem | None:
    """Why a file or folder must be skipped by its name or its link (None: it may be read)."""
    relative = child.relative_to(root).as_posix()
    try:
        relative.encode("utf-8")
    except UnicodeEncodeError:
        return CorpusProblem(relative, "name is not UTF-8; skipped (rename the file)")
    if child.is_symlink() and not follow_symlinks:
        target = Path(os.path.realpath(child))
        if not target.is_relative_to(real_root):
            return CorpusProblem(relative, OUTSIDE_LINK)
    return None


def _is_index_folder(folder: Path) -> bool:
    # A web site's own manifest.json must not hide its pages: only qabot's manifest counts.
    try:
        text = (folder / INDEX_MARKER).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return '"corpus_fingerprint"' in text


def corpus_files(path: Path | str, *, follow_symlinks: bool = False) -> list[Path]:
    """The supported files under ``path`` (or ``path`` itself), sorted (see `scan_corpus`)."""
    return list(scan_corpus(path, follow_symlinks=follow_symlinks).files)


def corpus_fingerprint(
    path: Path | str,
    *,
    digest: Callable[[Path], bytes] | None = None,
    follow_symlinks: bool = False,
) -> str:
    """A hash of every supported file's relative path and bytes, and of the alternates file:
    changes when the corpus does. ``digest`` gives a file's SHA-256
    (`qabot.documents.digest_memo` remembers them); by default each file is read."""
    digest_of = digest or file_digest
    path = Path(path)
    root = path.parent if path.is_file() else path
    whole = hashlib.sha256()
    for file in corpus_files(path, follow_symlinks=follow_symlinks):
        whole.update(file.relative_to(root).as_posix().encode())
        whole.update(digest_of(file))
    alternates = alternates_path(path)
    if alternates.exists():
        whole.update(b"\x00alternates\x00" + digest_of(alternates))
    return whole.hexdigest()


def alternates_path(corpus_path: Path | str) -> Path:
    """Where the alternate questions of a corpus live: ``<corpus name>.alternates.jsonl`` beside it."""
    corpus_path = Path(corpus_path).resolve()
    return corpus_path.parent / f"{corpus_path.name}.alternates.jsonl"


def file_digest(file: Path) -> bytes:
    """A file's SHA-256 (of ``<unreadable>`` when it cannot be read)."""
    try:
        with open(file, "rb") as stream:
            return hashlib.file_digest(stream, "sha256").digest()
    except OSError:
        return b"<unreadable>"
