"""What produced a result file: the command and the commit, for the file's opening lines."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence

from bench.data import ROOT


def produced_by(module: str, argv: Sequence[str] | None = None) -> str:
    """``Produced by `<the command>` at commit <sha>.``, saying so when the tree has changes.

    ``argv`` is the command's arguments (``sys.argv[1:]`` when None).
    """
    command = " ".join([".venv/bin/python -m", module, *(sys.argv[1:] if argv is None else argv)])
    return f"Produced by `{command}` at commit {_commit()}."


def _commit() -> str:
    def git(*args: str) -> str:
        shown = subprocess.run(
            ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False
        )
        return shown.stdout.strip() if shown.returncode == 0 else ""

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = git("status", "--porcelain", "--untracked-files=no")
    return f"{head} with uncommitted changes" if changed else head
