"""The hostile corpus files of issue 20's probe, written into a folder; shared by the tests and
by ``bench/hostile_files.py``.

Each writer puts one file into ``folder`` and returns its name as the corpus reports it.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from pathlib import Path

GOOD_TEXT = "NATO is a military alliance of thirty-two countries. It was founded in 1949."


def good_corpus(folder: Path) -> Path:
    """A corpus of one ordinary file, which every build below must still index."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "good.txt").write_text(GOOD_TEXT, encoding="utf-8")
    return folder


def nested_row(folder: Path, depth: int = 100_000) -> str:
    """A JSONL row nested ``depth`` deep (a RecursionError in the reader, before issue 20)."""
    (folder / "deep.jsonl").write_text(
        '{"text": ' + "[" * depth + "]" * depth + "}\n", encoding="utf-8"
    )
    return "deep.jsonl"


def surrogate_row(folder: Path) -> str:
    """A JSONL row holding ``"\\ud800"``: valid JSON, but no text UTF-8 can write."""
    (folder / "surrogate.jsonl").write_text('{"text": "lone \\ud800 here"}\n', encoding="utf-8")
    return "surrogate.jsonl"


def non_utf8_name(folder: Path) -> str:
    """A text file whose name holds the byte 0xff (no UTF-8)."""
    name = os.fsdecode(b"bad\xffname.txt")
    (folder / name).write_text("Plain words about nothing much at all.", encoding="utf-8")
    return name


def zip_bomb(folder: Path, expanded_mb: int = 300) -> str:
    """A .jsonl.gz of about 0.3 KB per MB that expands to ``expanded_mb`` MB of one-row lines
    (the probe's file: 306 KB expanding to 300 MB)."""
    line = b'{"text": "' + b"a" * (1024 * 1024 - 12) + b'"}\n'
    with gzip.open(folder / "bomb.jsonl.gz", "wb", compresslevel=9) as out:
        for _ in range(expanded_mb):
            out.write(line)
    return "bomb.jsonl.gz"


def long_word(folder: Path, chars: int = 2_000_000) -> str:
    """A text file of one word without spaces, ``chars`` long."""
    (folder / "blob.txt").write_text("x" * chars, encoding="utf-8")
    return "blob.txt"


HOSTILE_FILES: dict[str, Callable[[Path], str]] = {
    "nested": nested_row,
    "surrogate": surrogate_row,
    "non-utf8-name": non_utf8_name,
    "zip-bomb": lambda folder: zip_bomb(folder, expanded_mb=40),
}
"""The files a build must skip, naming them, while it indexes the rest (the bomb kept small:
40 MB is over the bound all the same)."""
