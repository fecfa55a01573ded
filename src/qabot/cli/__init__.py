"""The ``qabot`` command line: the only place that reads environment variables or prints.

One module per group of commands (``core``: index, ask; ``chat``: serve; ``feedback``:
feedback; ``evaluate``: eval; ``lint``: lint; ``assistant``: mcp), sharing ``wiring``. Each command's help text is its
function's docstring, with runnable examples. Library errors (`QabotError`) become one clear line on
stderr and exit status 2.

May import: anything in qabot. Nothing in qabot imports it.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from qabot.cli import assistant, chat, core, evaluate, feedback, lint
from qabot.cli.core import format_answer
from qabot.cli.wiring import DEFAULT_INDEX_DIR, EXIT_ERROR, log, open_answerer
from qabot.errors import QabotError, QabotIndexError
from qabot.offline import apply_offline_env
from qabot.version import __version__

__all__ = ["build_parser", "format_answer", "main", "open_answerer"]


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error in the form of every other error: one line, status 2."""

    def error(self, message: str) -> NoReturn:
        log(f"qabot: error: {self.prog}: {message} (see {self.prog} --help)")
        sys.exit(EXIT_ERROR)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="qabot",
        description="Exact, sourced answers from your own documents, offline.\n\n"
        'Examples:\n  qabot index corpus/\n  qabot ask "What is NATO?"',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"qabot {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for module in (core, chat, feedback, evaluate, lint, assistant):
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``qabot`` console script."""
    apply_offline_env()
    # bm25s sets its own logger to DEBUG when imported: once any library configures the root
    # logger (as onnxruntime's quantiser does), every build would print its debug lines. A
    # filter, unlike a level, outlives that import.
    bm25s_logger = logging.getLogger("bm25s")
    if _warnings_and_above not in bm25s_logger.filters:
        bm25s_logger.addFilter(_warnings_and_above)
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "question", None) == "-" and getattr(args, "command", "") == "ask":
        args.json = True
    try:
        return args.func(args)
    except QabotIndexError as exc:
        index_dir = exc.index_dir or getattr(args, "index_dir", DEFAULT_INDEX_DIR)
        log(
            f"qabot: error: {_one_line(exc)} Rebuild it with: qabot index CORPUS --index-dir {index_dir}"
        )
        return EXIT_ERROR
    except QabotError as exc:
        log(f"qabot: error: {_one_line(exc)}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        log("qabot: interrupted")
        return 130
    except BrokenPipeError:
        # The reader went away (`qabot ask - | head`): not an error of ours. Point stdout at
        # /dev/null so that Python's own flush at exit does not complain again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _warnings_and_above(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())
