"""What every command shares: defaults, the index options, opening an answerer, logging."""

from __future__ import annotations

import argparse
import inspect
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qabot.models.backends import BACKENDS, DEFAULT_BACKEND
from qabot.models.embedding import DEFAULT_MODEL, Embedder

if TYPE_CHECKING:  # for annotations only: the commands import what they use when they run
    from qabot.answering.answerer import Answerer
    from qabot.answering.confidence import ConfidenceModel
    from qabot.index.build import Index
    from qabot.models.reranking import Reranker
    from qabot.models.verifier import Verifier

DEFAULT_CORPUS = "corpus"
DEFAULT_INDEX_DIR = "index"
EXIT_ERROR = 2


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def on_terminal() -> bool:
    """Whether stderr is a terminal: progress bars are drawn only there (a log file gets the
    summary lines, not a carriage-return frame per update)."""
    return sys.stderr.isatty()


def env(name: str, default: str) -> str:
    return os.environ.get(name) or default


def cache_dir() -> Path:
    """Where ONNX exports are cached: $QABOT_CACHE, else $XDG_CACHE_HOME/qabot (~/.cache/qabot)."""
    if os.environ.get("QABOT_CACHE"):
        return Path(os.environ["QABOT_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "qabot"


def threads() -> int | None:
    """onnxruntime's intra-op threads: $QABOT_THREADS, else None (the machine's cores)."""
    from qabot.errors import QabotError

    text = os.environ.get("QABOT_THREADS")
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise QabotError(f"QABOT_THREADS must be a whole number of at least 1, not {text!r}.")
    return int(text)


def open_embedder(
    model: str, backend: str | None = None, *, index_dir: str | Path | None = None
) -> Embedder:
    """The embedder the commands use: ``backend`` None means the index's own, else the default.

    An index built with an ONNX backend brings its own model (no torch is imported); otherwise
    the model is loaded from disk (never downloaded) and, for ONNX, exported once into
    `cache_dir`.
    """
    from qabot.index.embedder import embedder_for_index

    return embedder_for_index(
        model, backend, index_dir=index_dir, cache_dir=cache_dir(), threads=threads(), log=log
    )


def load_reranker(path: str) -> Reranker:
    """The cross-encoder reranker at a local path (never downloaded)."""
    from qabot.models.reranking import CrossEncoderReranker

    return CrossEncoderReranker(path)


def load_verifier() -> Verifier:
    """The shipped answerability verifier, on onnxruntime (loaded once per process)."""
    from qabot.models.verifier import OnnxVerifier

    return OnnxVerifier(threads=threads())


def open_answerer(
    corpus: str | Path | None,
    index_dir: str | Path,
    *,
    model: str | None = None,
    threshold: float | None = None,
    alternatives: int | None = None,
    progress: bool | None = None,
    reranker: str | Path | None = None,
    build: bool = True,
    make_embedder: Callable[[str], Embedder] | None = None,
    confidence_path: str | Path | None = None,
    make_reranker: Callable[[str], Reranker] = load_reranker,
    backend: str | None = None,
    verifier: bool = True,
    follow_symlinks: bool | None = None,
) -> Answerer:
    """Load (building when needed) the index and return a ready `Answerer`.

    ``corpus`` None means the corpus the index was built from (or ./corpus for a new index).
    ``progress`` shows a bar while the index is (re)built (None: on a terminal); ``build=False`` never builds (a
    replica); ``make_embedder(model name)`` makes the embedder (tests pass a fake one; by
    default `open_embedder` on ``backend``, None meaning the index's own). The
    confidence is the model in ``confidence_path`` (else the shipped one), replaced by its
    calibration stored with the index when there is one; ``threshold`` (a probability)
    overrides its threshold. ``reranker``, a local cross-encoder folder, is loaded with
    ``make_reranker(path)`` and reorders the top candidates. ``verifier`` False answers
    without the shipped verifier (``--no-verifier``: the confidence model without its score,
    no exact-answer spans). ``follow_symlinks``
    True reads links leaving the corpus folder when building (None: the index's own setting).
    """
    from qabot.answering.adaptive import fusion_record
    from qabot.answering.confidence import default_model
    from qabot.index.startup import ensure_index
    from qabot.models.verifier import verifier_identity

    # Loaded first: a wrong path should fail before a long index build, not after.
    loaded_reranker = make_reranker(str(reranker)) if reranker else None
    loaded_verifier = load_verifier() if verifier else None
    base = default_model(confidence_path, verified=loaded_verifier is not None)

    def default_embedder(name: str) -> Embedder:
        return open_embedder(name, backend, index_dir=index_dir)

    index, embedder = ensure_index(
        corpus,
        index_dir,
        make_embedder or default_embedder,
        model=model,
        default_model=DEFAULT_MODEL,
        default_corpus=DEFAULT_CORPUS,
        progress=on_terminal() if progress is None else progress,
        build=build,
        log=log,
        confidence=base.record(),
        verifier=verifier_identity() if loaded_verifier else None,
        choose_fusion=fusion_record,
        follow_symlinks=follow_symlinks,
    )
    return answerer_for(
        index,
        embedder,
        threshold=threshold,
        alternatives=alternatives,
        confidence=base,
        reranker=loaded_reranker,
        verifier=loaded_verifier,
    )


def answerer_from_options(args: argparse.Namespace, **settings: Any) -> Answerer:
    """`open_answerer` on the options `add_index_options` and `add_answering_options` added
    (corpus, index folder, model, backend, symlinks, reranker, verifier); ``settings`` are the
    command's own (threshold, alternatives, build, ...)."""
    return open_answerer(
        args.corpus,
        args.index_dir,
        model=args.model,
        reranker=args.reranker,
        verifier=args.verifier,
        follow_symlinks=args.follow_symlinks,
        backend=args.backend,
        **settings,
    )


def answerer_for(
    index: Index,
    embedder: Embedder,
    *,
    threshold: float | None = None,
    alternatives: int | None = None,
    confidence: ConfidenceModel | None = None,
    reranker: Reranker | None = None,
    verifier: Verifier | None = None,
) -> Answerer:
    """An `Answerer` for a loaded index (a new build the server follows, too).

    ``confidence`` is the base model (the shipped one by default), replaced by the index's
    stored calibration when there is one; ``threshold`` None means that model's threshold.
    ``verifier`` reads passage answers to questions, for the verified confidence (the default
    ``confidence`` when it is given) and their exact words. Small talk is the
    default set, overridden by the corpus folder's ``smalltalk.jsonl``.
    """
    from qabot.answering.answerer import DEFAULT_ALTERNATIVES, Answerer
    from qabot.answering.calibrated import calibrated_model
    from qabot.answering.confidence import default_model
    from qabot.answering.retrieval import Retriever
    from qabot.answering.smalltalk import load_smalltalk

    base = confidence or default_model(verified=verifier is not None)
    return Answerer(
        Retriever(index, embedder),
        confidence=calibrated_model(index.index_dir, index.manifest, base) or base,
        threshold=threshold,
        alternatives=DEFAULT_ALTERNATIVES if alternatives is None else alternatives,
        reranker=reranker,
        verifier=verifier,
        smalltalk=load_smalltalk(index.manifest.corpus_path),
    )


def add_index_options(parser: argparse.ArgumentParser, *, corpus_positional: bool) -> None:
    if corpus_positional:
        parser.add_argument(
            "corpus",
            nargs="?",
            default=env("QABOT_CORPUS", DEFAULT_CORPUS),
            help=f"folder or file of documents (default: $QABOT_CORPUS or ./{DEFAULT_CORPUS})",
        )
    else:
        parser.add_argument(
            "--corpus",
            default=os.environ.get("QABOT_CORPUS") or None,
            help="documents to (re)build from when the index is missing or stale (default: "
            f"$QABOT_CORPUS, else the corpus the index was built from, else ./{DEFAULT_CORPUS})",
        )
    parser.add_argument(
        "--index-dir",
        default=env("QABOT_INDEX_DIR", DEFAULT_INDEX_DIR),
        help=f"index folder (default: $QABOT_INDEX_DIR or ./{DEFAULT_INDEX_DIR})",
    )
    parser.add_argument(
        "--model",
        default=os.environ.get("QABOT_MODEL") or None,
        help="sentence-transformers model name or local path (default: $QABOT_MODEL, else the "
        f"index's model, else the bundled {DEFAULT_MODEL}); never downloaded",
    )
    parser.add_argument(
        "--follow-symlinks",
        action="store_true",
        default=os.environ.get("QABOT_FOLLOW_SYMLINKS", "") not in ("", "0") or None,
        help="read symlinks that lead outside the corpus folder (by default they are skipped "
        "and listed, so a link cannot publish a file from elsewhere; default: "
        "$QABOT_FOLLOW_SYMLINKS set to 1, else "
        + ("off)" if corpus_positional else "the index's own setting, else off)"),
    )
    index_default = "" if corpus_positional else "the index's own, else "
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default=os.environ.get("QABOT_BACKEND") or None,
        help="what runs the model: torch, onnx (fp32 export) or onnx-int8 (quantised export); "
        "index and questions always use the same one (default: $QABOT_BACKEND, else "
        f"{index_default}{DEFAULT_BACKEND})",
    )


def add_answering_options(parser: argparse.ArgumentParser) -> None:
    """``--reranker PATH`` and ``--no-verifier`` for the commands that answer (ask, serve, eval)."""
    parser.add_argument(
        "--no-verifier",
        dest="verifier",
        action="store_false",
        default=os.environ.get("QABOT_NO_VERIFIER", "") in ("", "0"),
        help="answer without the shipped answerability verifier, which reads passage answers "
        "to questions: its score joins the confidence (the verified model) and it finds their "
        "exact words (the span); without it, faster on passages, scored by the confidence "
        "model alone (default: $QABOT_NO_VERIFIER set to 1, else the verifier is on)",
    )
    parser.add_argument(
        "--reranker",
        default=os.environ.get("QABOT_RERANKER") or None,
        metavar="PATH",
        help="local sentence-transformers CrossEncoder folder that rescores the top "
        "candidates (default: $QABOT_RERANKER, else none); never downloaded",
    )


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    return _whole_number(text, minimum=1)


def alternatives_count(text: str) -> int:
    """An argparse type: how many alternatives to show, 0 to the API's cap."""
    from qabot.answering.answerer import MAX_ALTERNATIVES

    return _whole_number(text, minimum=0, maximum=MAX_ALTERNATIVES)


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 1 to 65535."""
    return _whole_number(text, minimum=1, maximum=65535)


def positive_float(text: str) -> float:
    """An argparse type: a number of seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a number above 0")
    return value


def _whole_number(text: str, minimum: int, maximum: int | None = None) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise argparse.ArgumentTypeError(f"{text!r} must be at most {maximum}")
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


def default_threshold() -> str:
    """The shipped confidence models' thresholds, as the help texts show them."""
    from qabot.answering.confidence import default_model

    verified, plain = default_model(verified=True), default_model()
    return f"{verified.threshold:.4g}; {plain.threshold:.4g} with --no-verifier"
