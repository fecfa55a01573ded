"""What every command shares: defaults, the index options, opening an answerer, logging."""

from __future__ import annotations

import argparse
import inspect
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path

DEFAULT_CORPUS = "corpus"
DEFAULT_INDEX_DIR = "index"
EXIT_ERROR = 2


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def env(name: str, default: str) -> str:
    return os.environ.get(name) or default


def make_embedder_factory(progress: bool) -> Callable[[str], object]:
    def make(model: str) -> object:
        from qabot.embedding import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(model, progress=progress)

    return make


def open_answerer(
    corpus: str | Path | None,
    index_dir: str | Path,
    *,
    model: str | None = None,
    threshold: float | None = None,
    alternatives: int | None = None,
    progress: bool = True,
):
    """Load (building when needed) the index and return a ready `Answerer`.

    ``corpus`` None means the corpus the index was built from (or ./corpus for a new index).
    """
    from qabot.answering import DEFAULT_ALTERNATIVES, DEFAULT_THRESHOLD, Answerer
    from qabot.embedding import DEFAULT_MODEL
    from qabot.index import calibrated_threshold, ensure_index
    from qabot.retrieval import Retriever

    index, embedder = ensure_index(
        corpus,
        index_dir,
        make_embedder_factory(progress),
        model=model,
        default_model=DEFAULT_MODEL,
        default_corpus=DEFAULT_CORPUS,
        log=log,
    )
    embedder.progress = False  # a bar while building the index, none while answering
    if threshold is None:
        threshold = calibrated_threshold(index_dir, index.manifest)
    return Answerer(
        Retriever(index, embedder),
        threshold=DEFAULT_THRESHOLD if threshold is None else threshold,
        alternatives=DEFAULT_ALTERNATIVES if alternatives is None else alternatives,
    )


def add_index_options(parser: argparse.ArgumentParser, *, corpus_positional: bool) -> None:
    if corpus_positional:
        parser.add_argument(
            "corpus",
            nargs="?",
            default=env("QABOT_CORPUS", DEFAULT_CORPUS),
            help="folder or file of documents (default: $QABOT_CORPUS or ./corpus)",
        )
    else:
        parser.add_argument(
            "--corpus",
            default=os.environ.get("QABOT_CORPUS") or None,
            help="documents to (re)build from when the index is missing or stale (default: "
            "$QABOT_CORPUS, else the corpus the index was built from, else ./corpus)",
        )
    parser.add_argument(
        "--index-dir",
        default=env("QABOT_INDEX_DIR", DEFAULT_INDEX_DIR),
        help="index folder (default: $QABOT_INDEX_DIR or ./index)",
    )
    parser.add_argument(
        "--model",
        default=os.environ.get("QABOT_MODEL") or None,
        help="sentence-transformers model name or local path (default: $QABOT_MODEL, else the "
        "index's model, else the bundled all-MiniLM-L6-v2); never downloaded",
    )


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def non_negative_int(text: str) -> int:
    """An argparse type: a whole number of at least 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more")
    return value


def finite_float(text: str) -> float:
    """An argparse type: a real number (not nan or inf)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number")
    return value


def command(subparsers, name: str, func: Callable, summary: str) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        name,
        help=summary,
        description=inspect.cleandoc(func.__doc__ or ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(func=func)
    return parser
