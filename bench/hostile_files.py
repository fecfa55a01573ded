"""Hostile corpus files: issue 20's probe files, and the peak RSS of a build with a zip bomb.

    .venv/bin/python -m bench.hostile_files                 # corpus/ with and without the bomb
    .venv/bin/python -m bench.hostile_files --bomb-mb 1000  # a bigger bomb

Each build runs ``qabot index`` in its own process; its peak RSS is the kernel's (``wait4``).
The writers below put one probe file each into a folder and return its name; the tests
(test_corpus, test_faults, test_fuzz) use them too.
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import subprocess
import sys
import tempfile
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


def _peak_rss_build(corpus: Path, index_dir: Path, backend: str | None) -> tuple[float, str]:
    """Peak RSS (MiB) of one ``qabot index`` process, and the files it said it skipped."""
    command = [sys.executable, "-m", "qabot", "index", str(corpus), "--index-dir", str(index_dir)]
    command += ["--backend", backend] if backend else []
    with tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)  # this child's own peak, not a running one
        err.seek(0)
        said = err.read()
    if status:
        raise SystemExit(f"the build failed:\n{said}")
    skipped = [line for line in said.splitlines() if line.startswith("skipped:")]
    return usage.ru_maxrss / 1024, "; ".join(skipped)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=Path("corpus"), help="the clean corpus")
    parser.add_argument("--bomb-mb", type=int, default=300, help="what the bomb expands to")
    parser.add_argument("--backend", default=None, help="qabot's --backend (default: its own)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        clean, hostile = Path(work) / "clean", Path(work) / "hostile"
        shutil.copytree(args.corpus, clean)
        shutil.copytree(args.corpus, hostile)
        zip_bomb(hostile, args.bomb_mb)
        size = (hostile / "bomb.jsonl.gz").stat().st_size
        clean_rss, _ = _peak_rss_build(clean, Path(work) / "i1", args.backend)
        bomb_rss, skipped = _peak_rss_build(hostile, Path(work) / "i2", args.backend)
    print(f"| corpus | peak RSS (MiB) |\n|---|---|\n| {args.corpus} | {clean_rss:.0f} |")
    print(
        f"| {args.corpus} + a {size / 1024:.0f} KB .jsonl.gz expanding to {args.bomb_mb} MB "
        f"| {bomb_rss:.0f} |"
    )
    print(f"\nratio {bomb_rss / clean_rss:.2f}; the build said: {skipped}")


if __name__ == "__main__":
    main()
