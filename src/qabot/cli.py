"""The ``qabot`` command line: the only place that reads environment variables or prints.

Each command's help text is its function's docstring, with runnable examples. Library errors
(`QabotError`) become one clear line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from qabot.errors import QabotError, QuestionError

DEFAULT_CORPUS = "corpus"
DEFAULT_INDEX_DIR = "index"
EXIT_ERROR = 2

# Commands defined in later sections of this module append a ``register(subparsers)`` here.
_EXTRA_COMMANDS: list[Callable] = []

_OFFLINE_ENV = {
    # Nothing qabot runs may reach the internet: models load from disk, Gradio stays quiet.
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "TOKENIZERS_PARALLELISM": "false",
}


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


# --- shared wiring -------------------------------------------------------------------------


def _make_embedder_factory(progress: bool) -> Callable[[str], object]:
    def make(model: str) -> object:
        from qabot.embedding import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(model, progress=progress)

    return make


def open_answerer(
    corpus: str | Path,
    index_dir: str | Path,
    *,
    model: str | None = None,
    threshold: float | None = None,
    top_k: int | None = None,
    progress: bool = True,
):
    """Load (building when needed) the index and return a ready `Answerer`."""
    from qabot.answering import DEFAULT_THRESHOLD, DEFAULT_TOP_K, Answerer
    from qabot.embedding import DEFAULT_MODEL
    from qabot.index import ensure_index, read_calibration
    from qabot.retrieval import Retriever

    index, embedder = ensure_index(
        corpus,
        index_dir,
        _make_embedder_factory(progress),
        model=model,
        default_model=DEFAULT_MODEL,
        log=_log,
    )
    if threshold is None:
        calibration = read_calibration(index_dir)
        if calibration and calibration.get("model") == index.manifest.model:
            threshold = float(calibration["threshold"])
    return Answerer(
        Retriever(index, embedder),
        threshold=DEFAULT_THRESHOLD if threshold is None else threshold,
        top_k=top_k or DEFAULT_TOP_K,
    )


def _add_index_options(parser: argparse.ArgumentParser, *, corpus_positional: bool) -> None:
    if corpus_positional:
        parser.add_argument(
            "corpus",
            nargs="?",
            default=_env("QABOT_CORPUS", DEFAULT_CORPUS),
            help="folder or file of documents (default: $QABOT_CORPUS or ./corpus)",
        )
    else:
        parser.add_argument(
            "--corpus",
            default=_env("QABOT_CORPUS", DEFAULT_CORPUS),
            help="documents to (re)build from when the index is missing or stale "
            "(default: $QABOT_CORPUS or ./corpus)",
        )
    parser.add_argument(
        "--index-dir",
        default=_env("QABOT_INDEX_DIR", DEFAULT_INDEX_DIR),
        help="index folder (default: $QABOT_INDEX_DIR or ./index)",
    )
    parser.add_argument(
        "--model",
        default=os.environ.get("QABOT_MODEL") or None,
        help="sentence-transformers model name or local path (default: $QABOT_MODEL, else the "
        "index's model, else the bundled all-MiniLM-L6-v2); never downloaded",
    )


# --- commands ------------------------------------------------------------------------------


def cmd_index(args: argparse.Namespace) -> int:
    """Build (or rebuild) the index from a folder or file of documents.

    Reads .txt, .md, .html, .pdf, and .jsonl/.jsonl.gz/.csv rows (FAQ entries with
    question+answer, or documents with title+text). Files that cannot be read are listed and
    skipped; the previous index stays in place until the new one is complete.

    Examples:
      qabot index
      qabot index docs/ --index-dir /tmp/docs-index
      qabot index faq.csv --model /models/all-mpnet-base-v2
    """
    from qabot.embedding import DEFAULT_MODEL, SentenceTransformerEmbedder
    from qabot.index import build_index

    model = args.model or DEFAULT_MODEL
    embedder = SentenceTransformerEmbedder(model, progress=True)
    _log(f"Indexing {args.corpus} with {model} ...")
    index = build_index(args.corpus, args.index_dir, embedder, max_chars=args.max_chars)
    for problem in index.manifest.problems:
        _log(f"skipped: {problem}")
    m = index.manifest
    print(
        f"Indexed {m.documents} documents: {m.passages} passages and {m.faq_entries} FAQ entries "
        f"into {args.index_dir} (model {m.model}, {m.dimension} dimensions)."
    )
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    """Answer a question from the documents, quoting them and citing the source.

    Builds the index first when it is missing, stale (the corpus changed) or made with
    another model. With "-" as the question, reads one question per line from stdin and
    answers them all in one batch, printing one JSON object per line.

    Examples:
      qabot ask "What is NATO?"
      qabot ask "how does nato help ukraine" --json
      printf 'What is NATO?\\nWho won the 1998 World Cup?\\n' | qabot ask - --json
    """
    answerer = open_answerer(
        args.corpus,
        args.index_dir,
        model=args.model,
        threshold=args.threshold,
        top_k=args.top_k,
    )
    if args.question == "-":
        return _ask_stream(answerer, sys.stdin, args.top_k)
    answer = answerer.answer(args.question, args.top_k)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False))
    else:
        print(format_answer(answer))
    return 0


def _ask_stream(answerer, lines, top_k: int | None, batch_size: int = 256) -> int:
    from qabot.answering import clean_question

    def flush(batch: list[str]) -> None:
        valid = []
        for question in batch:
            try:
                clean_question(question)
                valid.append(question)
            except QuestionError:
                pass
        answers = iter(answerer.answer_batch(valid, top_k)) if valid else iter(())
        for question in batch:
            if question in valid:
                record = next(answers).to_dict()
            else:
                record = {"question": question, "error": "The question is empty."}
            print(json.dumps(record, ensure_ascii=False), flush=False)
        sys.stdout.flush()

    batch: list[str] = []
    for line in lines:
        batch.append(line.rstrip("\n"))
        if len(batch) >= batch_size:
            flush(batch)
            batch = []
    if batch:
        flush(batch)
    return 0


def format_answer(answer) -> str:
    """A plain-text rendering of an `Answer` for the terminal."""
    if not answer.found:
        lines = [answer.answer]
        if answer.suggestions:
            lines.append("Did you mean:")
            lines += [f"  - {s}" for s in answer.suggestions]
        return "\n".join(lines)
    text = answer.answer
    if answer.highlight and answer.highlight != text and answer.highlight in text:
        text = text.replace(answer.highlight, f">>> {answer.highlight} <<<", 1)
    kind = "FAQ" if answer.kind == "faq" else "passage"
    lines = []
    if answer.faq_question:
        lines.append(f"Q: {answer.faq_question}")
    lines += [text, ""]
    source = answer.source
    dated = f", {source.date}" if source.date else ""
    lines.append(
        f"Source: {source.title}{dated} ({source.passage_id}) — {kind}, score {answer.score:.2f}"
    )
    lines += [f"  {link.label + ': ' if link.label else ''}{link.url}" for link in source.links]
    if answer.alternatives:
        lines.append("See also:")
        for alt in answer.alternatives:
            label = alt.faq_question or alt.text[:90] + ("…" if len(alt.text) > 90 else "")
            lines.append(f"  - {label} ({alt.passage_id}, {alt.score:.2f})")
    if answer.truncated:
        lines.append("(The question was very long and was trimmed.)")
    return "\n".join(lines)


# --- chat commands: serve, feedback ---------------------------------------------------------


# --- evaluation commands: eval, lint ---------------------------------------------------------


# --- parser --------------------------------------------------------------------------------


def _command(subparsers, name: str, func: Callable, summary: str) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        name,
        help=summary,
        description=func.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(func=func)
    return parser


def build_parser() -> argparse.ArgumentParser:
    from qabot.chunking import DEFAULT_MAX_CHARS

    parser = argparse.ArgumentParser(
        prog="qabot",
        description="Exact, sourced answers from your own documents, offline.\n\n"
        'Examples:\n  qabot index corpus/\n  qabot ask "What is NATO?"',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"qabot {_version()}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    index = _command(subparsers, "index", cmd_index, "build or rebuild the index")
    _add_index_options(index, corpus_positional=True)
    index.add_argument(
        "--max-chars",
        type=int,
        default=DEFAULT_MAX_CHARS,
        help=f"longest passage, in characters, before splitting at sentences (default {DEFAULT_MAX_CHARS})",
    )

    ask = _command(subparsers, "ask", cmd_ask, "answer a question")
    ask.add_argument("question", help='the question, or "-" to read one per line from stdin')
    _add_index_options(ask, corpus_positional=False)
    ask.add_argument("--json", action="store_true", help="print the answer record as JSON")
    ask.add_argument("--top-k", type=int, default=None, help="answer plus alternatives (default 3)")
    ask.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="lowest score that counts as an answer (default: the calibrated one, else 0.5)",
    )
    for register in _EXTRA_COMMANDS:
        register(subparsers)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("qabot")
    except PackageNotFoundError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``qabot`` console script."""
    for name, value in _OFFLINE_ENV.items():
        os.environ.setdefault(name, value)
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "question", None) == "-" and getattr(args, "command", "") == "ask":
        args.json = True
    try:
        return args.func(args)
    except QabotError as exc:
        _log(f"qabot: error: {exc}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        _log("qabot: interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
