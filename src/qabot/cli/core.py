"""``qabot index`` and ``qabot ask``: build the index, answer questions."""

from __future__ import annotations

import argparse
import io
import json
import os
import sys

from qabot.answering.answer import ANSWER_KEYS
from qabot.answering.answerer import DEFAULT_ALTERNATIVES
from qabot.cli.wiring import (
    add_answering_options,
    add_index_options,
    alternatives_count,
    answerer_from_options,
    cache_dir,
    command,
    default_threshold,
    env,
    finite_float,
    log,
    on_terminal,
    open_embedder,
    positive_int,
)
from qabot.documents.chunking import DEFAULT_MAX_CHARS
from qabot.documents.files import printable
from qabot.errors import QuestionError
from qabot.index.embed_cache import DEFAULT_CACHE_DIR
from qabot.index.faiss_search import FLAT_MAX_ROWS, INDEX_TYPES
from qabot.index.late_chunking import SENTENCE_VECTORS
from qabot.models.backends import DEFAULT_BACKEND
from qabot.models.embedding import DEFAULT_MODEL


def cmd_index(args: argparse.Namespace) -> int:
    """Build (or rebuild) the index from a folder or file of documents.

    Reads .txt, .md, .html, .pdf, and .jsonl/.jsonl.gz/.csv rows (FAQ entries with
    question+answer, or documents with title+text). Files that cannot be read are listed and
    skipped; the previous index stays in place until the new one is complete. Texts embedded
    by an earlier build are taken from the embedding cache, so a rebuild embeds only changes.

    Examples:
      qabot index
      qabot index docs/ --index-dir /tmp/docs-index
      qabot index faq.csv --model /models/all-mpnet-base-v2
      qabot index --backend onnx-int8
      qabot index docs/ --engine ray --ray-address ray://head:10001
      qabot index docs/ --embedding-cache /shared/qabot-cache --index-type hnsw
      qabot index docs/ --sentence-vectors late
    """
    from qabot.answering.adaptive import fusion_record
    from qabot.answering.confidence import default_model
    from qabot.index.build import build_index
    from qabot.models.verifier import verifier_identity

    model = args.model or DEFAULT_MODEL
    # An explicit build takes the default backend, not the previous index's (like --max-chars).
    embedder = open_embedder(model, args.backend or DEFAULT_BACKEND, index_dir=args.index_dir)
    if args.engine == "ray":
        from qabot.models.ray_embedding import RayEmbedder

        embedder = RayEmbedder.like(embedder, cache_dir=str(cache_dir()), address=args.ray_address)
    log(f"Indexing {args.corpus} with {model} on {embedder.backend} ({args.engine}) ...")
    index = build_index(
        args.corpus,
        args.index_dir,
        embedder,
        max_chars=args.max_chars,
        progress=on_terminal(),
        cache_dir=args.embedding_cache or DEFAULT_CACHE_DIR,
        index_type=args.index_type,
        sentence_vectors=args.sentence_vectors,
        follow_symlinks=bool(args.follow_symlinks),
        confidence=default_model(verified=True).record(),
        verifier=verifier_identity(),  # what will read the answers (not loaded to build)
        choose_fusion=fusion_record,
    )
    for problem in index.manifest.problems:
        log(f"skipped: {problem}")
    m = index.manifest
    print(
        f"Indexed {m.documents} documents: {m.passages} passages and {m.faq_entries} FAQ entries "
        f"into {args.index_dir} (model {m.model}, {m.dimension} dimensions, backend {m.backend})."
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
    answerer = answerer_from_options(args, threshold=args.threshold, alternatives=args.alternatives)
    if args.question == "-":
        # Undecodable bytes must not end a long batch: they become U+FFFD, the rest is answered.
        lines = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
        return _ask_stream(answerer, lines, args.alternatives)
    answer = answerer.answer(args.question, args.alternatives)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False))
    else:
        print(format_answer(answer))
    return 0


def _ask_stream(answerer, lines, alternatives: int | None, batch_size: int = 1024) -> int:
    """Answer one question per line in batches, printing one JSON object per line, in order."""
    from qabot.answering.questions import clean_question

    def usable(question: str) -> bool:
        try:
            clean_question(question)
        except QuestionError:
            return False
        return True

    def flush(batch: list[str]) -> None:
        ok = [usable(question) for question in batch]
        wanted = [q for q, good in zip(batch, ok, strict=True) if good]
        answers = iter(answerer.answer_batch(wanted, alternatives))
        for question, good in zip(batch, ok, strict=True):
            record = next(answers).to_dict() if good else _error_record(question)
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
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


def _error_record(question: str) -> dict:
    """The record of a line that is no question: every answer key, empty, and why."""
    return {
        **dict.fromkeys(ANSWER_KEYS),
        "question": question,
        "found": False,
        "alternatives": [],
        "suggestions": [],
        "error": "The question is empty (or only control characters).",
    }


def format_answer(answer) -> str:
    """A plain-text rendering of an `Answer` for the terminal.

    Every name and text from the corpus is escaped (`printable`): a file name or a passage may
    hold escape codes, and a terminal would run them. Only a text's own line breaks are kept.
    """
    if not answer.found:
        lines = [_text(answer.answer)]
        if answer.suggestions:
            lines.append("Try one of these:" if answer.kind == "smalltalk" else "Did you mean:")
            lines += [f"  - {printable(s)}" for s in answer.suggestions]
        return "\n".join(lines)
    pieces, inside = [], False
    for piece, mark in answer.marked_parts():
        if bool(mark) != inside:  # the marked stretch: the sentence, with the span inside it
            pieces.append(">>> " if mark else " <<<")
            inside = bool(mark)
        pieces.append(f"[[{piece}]]" if mark == "span" else piece)
    text = "".join(pieces) + (" <<<" if inside else "")
    kind = "FAQ" if answer.kind == "faq" else "passage"
    lines = []
    if answer.faq_question:
        lines.append(f"Q: {printable(answer.faq_question)}")
    lines += [_text(text), ""]
    source = answer.source
    dated = f", {printable(source.date)}" if source.date else ""
    lines.append(
        f"Source: {printable(source.title)}{dated} ({printable(source.passage_id)}) — {kind}, "
        f"score {answer.score:.2f}"
    )
    lines += [
        "  " + printable(f"{link.label + ': ' if link.label else ''}{link.url}")
        for link in source.links
    ]
    if answer.alternatives:
        lines.append("See also:")
        for alt in answer.alternatives:
            label = alt.faq_question or alt.text[:90] + ("…" if len(alt.text) > 90 else "")
            lines.append(f"  - {printable(label)} ({printable(alt.passage_id)}, {alt.score:.2f})")
    if answer.truncated:
        lines.append("(The question was very long and was trimmed.)")
    return "\n".join(lines)


def _text(text: str) -> str:
    """A text for the terminal: escaped line by line, its line breaks kept."""
    return "\n".join(printable(line) for line in text.split("\n"))


def register(subparsers) -> None:
    """Add ``index`` and ``ask`` to the parser."""
    index = command(subparsers, "index", cmd_index, "build or rebuild the index")
    add_index_options(index, corpus_positional=True)
    index.add_argument(
        "--max-chars",
        type=positive_int,
        default=DEFAULT_MAX_CHARS,
        help=f"longest passage, in characters, before splitting at sentences (default {DEFAULT_MAX_CHARS})",
    )
    index.add_argument(
        "--engine",
        choices=("local", "ray"),
        default=env("QABOT_ENGINE", "local"),
        help="where texts are embedded: this process, or a Ray cluster (pip install "
        "'qabot[ray]') (default: $QABOT_ENGINE or local)",
    )
    index.add_argument(
        "--ray-address",
        default=os.environ.get("RAY_ADDRESS") or None,
        help="Ray cluster to embed on, e.g. ray://head:10001 (default: $RAY_ADDRESS, else a "
        "local Ray)",
    )
    index.add_argument(
        "--index-type",
        choices=INDEX_TYPES,
        default=env("QABOT_INDEX_TYPE", "auto"),
        help="FAISS index: exact flat, or approximate hnsw / ivf-sq8 / ivf-pq (default: "
        f"$QABOT_INDEX_TYPE or auto: flat up to {FLAT_MAX_ROWS:,} rows, then ivf-sq8)",
    )
    index.add_argument(
        "--sentence-vectors",
        choices=SENTENCE_VECTORS,
        default=env("QABOT_SENTENCE_VECTORS", "rows"),
        help="sentence rows embedded each on its own (rows), or pooled from their passage's "
        "pass, several times faster to build (late; ONNX backends) (default: "
        "$QABOT_SENTENCE_VECTORS or rows)",
    )
    index.add_argument(
        "--embedding-cache",
        default=os.environ.get("QABOT_EMBEDDING_CACHE") or None,
        metavar="DIR",
        help="folder of embedded texts reused between builds, shareable between indexes "
        f"(default: $QABOT_EMBEDDING_CACHE or INDEX_DIR/{DEFAULT_CACHE_DIR})",
    )

    ask = command(subparsers, "ask", cmd_ask, "answer a question")
    ask.add_argument("question", help='the question, or "-" to read one per line from stdin')
    add_index_options(ask, corpus_positional=False)
    add_answering_options(ask)
    ask.add_argument("--json", action="store_true", help="print the answer record as JSON")
    ask.add_argument(
        "--alternatives",
        type=alternatives_count,
        default=None,
        help=f"next-best matches shown beside the answer (default {DEFAULT_ALTERNATIVES})",
    )
    ask.add_argument(
        "--threshold",
        type=finite_float,
        default=None,
        help="lowest probability of being right that counts as an answer (default: the "
        f"confidence model's threshold, {default_threshold()}, or its calibration)",
    )
