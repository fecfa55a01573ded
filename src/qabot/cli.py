"""The ``qabot`` command line: the only place that reads environment variables or prints.

Each command's help text is its function's docstring, with runnable examples. Library errors
(`QabotError`) become one clear line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from qabot.errors import QabotError, QabotIndexError, QuestionError

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
    corpus: str | Path | None,
    index_dir: str | Path,
    *,
    model: str | None = None,
    threshold: float | None = None,
    top_k: int | None = None,
    progress: bool = True,
):
    """Load (building when needed) the index and return a ready `Answerer`.

    ``corpus`` None means the corpus the index was built from (or ./corpus for a new index).
    """
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
        default_corpus=DEFAULT_CORPUS,
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
            default=os.environ.get("QABOT_CORPUS") or None,
            help="documents to (re)build from when the index is missing or stale (default: "
            "$QABOT_CORPUS, else the corpus the index was built from, else ./corpus)",
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
        # Undecodable bytes must not end a long batch: they become U+FFFD, the rest is answered.
        lines = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
        return _ask_stream(answerer, lines, args.top_k)
    answer = answerer.answer(args.question, args.top_k)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False))
    else:
        print(format_answer(answer))
    return 0


def _ask_stream(answerer, lines, top_k: int | None, batch_size: int = 1024) -> int:
    """Answer one question per line in batches, printing one JSON object per line, in order."""
    from qabot.answering import clean_question

    def usable(question: str) -> bool:
        try:
            clean_question(question)
        except QuestionError:
            return False
        return True

    def flush(batch: list[str]) -> None:
        ok = [usable(question) for question in batch]
        wanted = [q for q, good in zip(batch, ok, strict=True) if good]
        answers = iter(answerer.answer_batch(wanted, top_k))
        for question, good in zip(batch, ok, strict=True):
            record = (
                next(answers).to_dict()
                if good
                else {"question": question, "error": "The question is empty."}
            )
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

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860


def _feedback_path(args: argparse.Namespace) -> Path:
    from qabot.feedback import DEFAULT_FEEDBACK_FILE

    return Path(args.feedback or Path(args.index_dir) / DEFAULT_FEEDBACK_FILE)


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the chat page, the JSON API and the embeddable widget.

    Builds the index first when it is missing, stale or made with another model; loads the
    model and the index once. Binds 127.0.0.1 unless --host says otherwise. By default any
    site may embed the chat; --allowed-origin (repeatable) limits embedding and browser API
    calls to the sites named. Questions and votes are stored in --feedback (SQLite).

    Pages:
      http://HOST:PORT/chat/      the chat          http://HOST:PORT/docs        the API
      http://HOST:PORT/widget.js  the launcher      http://HOST:PORT/healthz     health

    Examples:
      qabot serve
      qabot serve --port 8000 --allowed-origin https://www.example.org
      curl -s localhost:7860/api/ask -H 'content-type: application/json' \\
           -d '{"question": "What is NATO?"}'
    """
    import uvicorn

    from qabot.feedback import FeedbackStore
    from qabot.server import build_app

    answerer = open_answerer(args.corpus, args.index_dir, model=args.model, top_k=args.top_k)
    answerer.answer("warm up")  # the first real question should not pay for lazy set-up
    feedback = FeedbackStore(_feedback_path(args))
    origins = args.allowed_origin or ["*"]
    app = build_app(answerer, feedback=feedback, allowed_origins=origins, title=args.title)
    if origins == ["*"]:
        _log("Any site may embed the chat and call the API (restrict with --allowed-origin).")
    else:
        _log(f"Only these sites may embed the chat: {', '.join(origins)}")
    _log(f"Feedback is stored in {feedback.path}")
    _log(f"Chat on http://{args.host}:{args.port}/chat/ (API docs at /docs)")
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


def cmd_feedback(args: argparse.Namespace) -> int:
    """Summarise the chat's feedback: most disliked answers, most frequent unanswered questions.

    With --export FILE.csv, also writes those questions as a question set (columns id,
    question, answerable, ...) that `qabot eval` reads; fill in the expected answers first.

    Examples:
      qabot feedback
      qabot feedback --top 20 --export reports/feedback-questions.csv
    """
    from qabot.feedback import FeedbackStore

    path = _feedback_path(args)
    if not path.is_file():
        raise QabotError(f"No feedback yet: {str(path)!r} does not exist (run qabot serve).")
    store = FeedbackStore(path)
    summary = store.summary(args.top)
    print(
        f"{summary.asked} questions asked, {summary.answered} answered; "
        f"{summary.likes} likes, {summary.dislikes} dislikes ({path})"
    )
    print("\nMost disliked answers:" if summary.disliked else "\nNo disliked answers.")
    for item in summary.disliked:
        print(f"  {item.dislikes:>4} 👎 {item.likes:>3} 👍  {item.answer_id}")
        for question in item.questions[:3]:
            print(f"           asked as: {question}")
    print("\nMost frequent unanswered questions:" if summary.unanswered else "\nNone unanswered.")
    for item in summary.unanswered:
        print(f"  {item.count:>4}×  {item.question}  (best score {item.best_score:.2f})")
    if args.export:
        count = store.export_csv(args.export, args.top)
        print(f"\nWrote {count} questions to {args.export}")
    store.close()
    return 0


def _register_chat(subparsers) -> None:
    serve = _command(subparsers, "serve", cmd_serve, "serve the chat, the API and the widget")
    _add_index_options(serve, corpus_positional=False)
    serve.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST})"
    )
    serve.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
    )
    serve.add_argument(
        "--allowed-origin",
        action="append",
        metavar="URL",
        help="a site allowed to embed the chat and call the API, e.g. https://www.example.org "
        "(repeatable; default: any site)",
    )
    serve.add_argument(
        "--feedback",
        default=None,
        help="SQLite file for questions and votes (default: INDEX_DIR/feedback.sqlite3)",
    )
    serve.add_argument("--title", default="qabot", help="the chat page's title")
    serve.add_argument("--top-k", type=int, default=None, help="answer plus alternatives")
    serve.add_argument("--log-level", default="warning", help="uvicorn log level")

    feedback = _command(subparsers, "feedback", cmd_feedback, "summarise the chat's feedback")
    feedback.add_argument(
        "--index-dir",
        default=_env("QABOT_INDEX_DIR", DEFAULT_INDEX_DIR),
        help="index folder holding feedback.sqlite3 (default: $QABOT_INDEX_DIR or ./index)",
    )
    feedback.add_argument("--feedback", default=None, help="the SQLite file (overrides)")
    feedback.add_argument("--top", type=int, default=10, help="how many of each to list")
    feedback.add_argument("--export", default=None, metavar="CSV", help="write a question set")


_EXTRA_COMMANDS.append(_register_chat)


# --- evaluation commands: eval, lint ---------------------------------------------------------


EXIT_BELOW_BAR = 1


def cmd_eval(args: argparse.Namespace) -> int:
    """Measure how well qabot answers a question set: metrics, reports, a calibrated threshold.

    The questions go through the same index and answerer as `qabot ask` (built first when the
    index is missing or stale), in batches.

    Question sets are JSONL or CSV. A row has the question ("question" or "text"), an optional
    id ("id", "qid" or "_id") and its gold in one of these forms:
      expected_ids     acceptable FAQ entry, passage or document ids (a JSON list; "a|b" in CSV)
      expected_answer  text the answer must contain (case and spacing are ignored)
      answerable       false for a question the documents cannot answer: it should be declined
    For example (JSONL):
      {"id": "a1", "question": "What is NATO?", "expected_ids": ["nato.txt#faq-0"]}
      {"id": "a2", "question": "Where is NATO based?", "expected_answer": "Brussels"}
      {"id": "o1", "question": "How many calories are in a banana?", "answerable": false}
    and as CSV:
      id,question,expected_ids,answerable
      a1,What is NATO?,nato.txt#faq-0|nato.txt#0,
      o1,How many calories are in a banana?,,false
    Ids name an entry ("doc#3", "doc#faq-0") or a whole document (any of its passages counts,
    and the ranking is scored per document). --qrels FILE takes the gold from a BEIR-style
    relevance file instead (tab-separated "query-id corpus-id score" with a header); then only
    the questions it names are evaluated. --where FIELD=VALUE keeps only rows with that value.

    Metrics: hit@1, hit@5, mrr@10, ndcg@10 and recall@100 over the answerable questions (ties
    count as the average over their orders); at the threshold in force, the counts
    answered-correct, answered-wrong, declined-answerable and declined-unanswerable, and
    accuracy = (answered-correct + declined-unanswerable) / questions; questions-per-second
    and latency-p50-ms / latency-p95-ms (each question's share of its batch).

    Reports in --report-dir: report.json (settings, index manifest, metrics, calibration and
    every question), results.csv, summary.md, threshold.png (precision and coverage against
    the threshold) and scores.png (score distributions). --baseline OLD/report.json adds the
    metric changes and the questions that became right or wrong. The threshold that maximises
    accuracy is always recommended; --calibrate stores it with the index, and ask, serve and
    eval use it from then on (the set must contain unanswerable questions).
    --fail-under METRIC=VALUE exits with status 1 when a metric is below the bar (for CI).

    Examples:
      qabot eval eval/seed-dev.jsonl
      qabot eval eval/seed-dev.jsonl --calibrate --report-dir reports/seed
      qabot eval eval/seed-dev.jsonl --baseline reports/seed/report.json --fail-under hit@1=0.9
      qabot eval queries.jsonl --qrels qrels/test.tsv --corpus corpus.jsonl.gz --index-dir idx/
      qabot eval queries.jsonl --where block=1 --qrels qrels_pairs.tsv --corpus faq_pairs.jsonl
    """
    from tqdm import tqdm

    from qabot.evaluation import evaluate
    from qabot.index import read_calibration, write_calibration
    from qabot.questionsets import load_question_set, read_qrels, resolve_gold
    from qabot.reports import compare, load_report, summary_table, write_reports

    qrels = read_qrels(args.qrels) if args.qrels else None
    cases, warnings = load_question_set(args.questions, qrels=qrels, where=dict(args.where))
    baseline = load_report(args.baseline) if args.baseline else None
    answerer = open_answerer(
        args.corpus, args.index_dir, model=args.model, threshold=args.threshold
    )
    index = answerer.retriever.index
    cases, more_warnings = resolve_gold(cases, index.passages)
    warnings += more_warnings
    calibration = read_calibration(args.index_dir)
    if args.threshold is not None:
        source = "--threshold"
    elif calibration and calibration.get("model") == index.manifest.model:
        source = f"calibrated ({calibration.get('objective', '?')})"
    else:
        source = "default"
    settings = {
        "questions": str(args.questions),
        "qrels": str(args.qrels) if args.qrels else None,
        "where": dict(args.where),
        "index_dir": str(args.index_dir),
        "threshold_source": source,
    }
    with tqdm(total=len(cases), desc="Evaluating", unit="q", file=sys.stderr) as bar:
        report = evaluate(
            answerer,
            cases,
            top_k=args.top_k,
            batch_size=args.batch_size,
            progress=bar.update,
            settings=settings,
            warnings=warnings,
        )
    paths = write_reports(report, args.report_dir, baseline=baseline)
    for warning in report.warnings:
        _log(f"warning: {warning}")
    deltas = compare(report.to_dict(), baseline)["deltas"] if baseline is not None else None
    print(summary_table(report.metrics, deltas))
    print(f"threshold in force: {answerer.threshold:.3f} ({source})")
    chosen = report.calibration
    if chosen is not None:
        print(
            f"recommended threshold: {chosen.threshold:.3f} (maximises accuracy: "
            f"{chosen.accuracy:.3f}, coverage {chosen.coverage:.3f})"
        )
        if chosen.note:
            _log(f"warning: {chosen.note}")
    if args.calibrate:
        if chosen is None or not chosen.has_unanswerable:
            _log(
                "warning: --calibrate: threshold NOT stored (no unanswerable questions in the set)"
            )
        else:
            write_calibration(
                args.index_dir,
                {
                    "threshold": chosen.threshold,
                    "model": index.manifest.model,
                    "objective": chosen.objective,
                    "accuracy": chosen.accuracy,
                    "coverage": chosen.coverage,
                    "questions": chosen.questions,
                    "unanswerable": chosen.unanswerable,
                    "question_set": str(args.questions),
                    "corpus_fingerprint": index.manifest.corpus_fingerprint,
                },
            )
            print(f"stored threshold {chosen.threshold:.3f} in {args.index_dir}")
    print(f"reports: {args.report_dir}/ ({', '.join(p.name for p in paths.values())})")
    failed = [
        f"{name} = {_shown(report.metrics.get(name))} < {bar}"
        for name, bar in args.fail_under
        if report.metrics.get(name) is None or report.metrics[name] < bar
    ]
    for failure in failed:
        _log(f"below the bar: {failure}")
    return EXIT_BELOW_BAR if failed else 0


def cmd_lint(args: argparse.Namespace) -> int:
    """Check a knowledge base for the problems that make an FAQ bot answer wrongly.

    Reports, naming the files and entries involved:
      conflicting-questions    FAQ questions that are the same or near-duplicates but have
                               different answers (an exact question may get the other answer)
      empty-answer             FAQ questions without an answer
      corpus-problem           files or rows that cannot be read
      no-passages              documents that yielded nothing to retrieve
      near-identical-passages  passages that are (nearly) copies of each other
    Similarity is the cosine of the model's embeddings (the index's model when there is an
    index, else the bundled one). Exits with status 1 when there are findings, 0 when clean.

    Examples:
      qabot lint
      qabot lint docs/ --question-similarity 0.9
      qabot lint faq.csv --json
    """
    from qabot.embedding import DEFAULT_MODEL, SentenceTransformerEmbedder
    from qabot.errors import QabotIndexError
    from qabot.index import read_manifest
    from qabot.lint import lint_corpus

    model = args.model
    if model is None:
        try:
            model = read_manifest(args.index_dir).model
        except QabotIndexError:
            model = DEFAULT_MODEL
    findings = lint_corpus(
        args.corpus,
        SentenceTransformerEmbedder(model, progress=False),
        question_similarity=args.question_similarity,
        passage_similarity=args.passage_similarity,
    )
    for finding in findings:
        if args.json:
            record = {**finding.__dict__, "locations": list(finding.locations)}
            print(json.dumps(record, ensure_ascii=False))
        else:
            print(f"{finding}\n")
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding.kind] = counts.get(finding.kind, 0) + 1
    detail = ", ".join(f"{n} {kind}" for kind, n in counts.items())
    _log(f"{len(findings)} findings in {args.corpus}" + (f": {detail}" if detail else ""))
    return 1 if findings else 0


def _shown(value: object) -> str:
    return "none" if value is None else f"{value:.4g}"


def _metric_bar(text: str) -> tuple[str, float]:
    from qabot.evaluation import METRIC_KEYS

    name, _, value = text.partition("=")
    if name.strip() not in METRIC_KEYS:
        raise argparse.ArgumentTypeError(
            f"unknown metric {name.strip()!r}; choose from: {', '.join(METRIC_KEYS)}"
        )
    try:
        return name.strip(), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected METRIC=VALUE, like hit@1=0.9, not {text!r}"
        ) from None


def _field_value(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected FIELD=VALUE, like block=1, not {text!r}")
    return name.strip(), value.strip().casefold()


def _register_eval(subparsers) -> None:
    from qabot.evaluation import DEFAULT_BATCH_SIZE, DEFAULT_EVAL_TOP_K
    from qabot.lint import DEFAULT_PASSAGE_SIMILARITY, DEFAULT_QUESTION_SIMILARITY

    evaluate = _command(subparsers, "eval", cmd_eval, "measure answers on a question set")
    evaluate.add_argument("questions", type=Path, help="question set (.jsonl or .csv)")
    evaluate.add_argument("--qrels", type=Path, help="BEIR-style relevance file with the gold")
    evaluate.add_argument(
        "--where",
        type=_field_value,
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="keep only question rows whose FIELD equals VALUE (repeatable)",
    )
    _add_index_options(evaluate, corpus_positional=False)
    evaluate.add_argument(
        "--report-dir",
        type=Path,
        default=Path(_env("QABOT_REPORT_DIR", "reports")),
        help="where the reports go (default: $QABOT_REPORT_DIR or ./reports)",
    )
    evaluate.add_argument(
        "--top-k",
        type=int,
        default=DEFAULT_EVAL_TOP_K,
        help=f"hits ranked per question for the ranking metrics (default {DEFAULT_EVAL_TOP_K})",
    )
    evaluate.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="lowest score that counts as an answer (default: the calibrated one, else 0.42)",
    )
    evaluate.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH_SIZE,
        help=f"questions per batched retrieval (default {DEFAULT_BATCH_SIZE})",
    )
    evaluate.add_argument(
        "--calibrate",
        action="store_true",
        help="store the recommended threshold with the index (ask and serve then use it)",
    )
    evaluate.add_argument("--baseline", type=Path, help="an earlier report.json to compare with")
    evaluate.add_argument(
        "--fail-under",
        type=_metric_bar,
        nargs="+",
        action="extend",
        default=[],
        metavar="METRIC=VALUE",
        help="exit with status 1 when a metric is below VALUE, e.g. hit@1=0.9 accuracy=0.8",
    )

    lint = _command(subparsers, "lint", cmd_lint, "find conflicting FAQ entries and other problems")
    _add_index_options(lint, corpus_positional=True)
    lint.add_argument(
        "--question-similarity",
        type=float,
        default=DEFAULT_QUESTION_SIMILARITY,
        help=f"cosine from which FAQ questions are near-duplicates (default {DEFAULT_QUESTION_SIMILARITY})",
    )
    lint.add_argument(
        "--passage-similarity",
        type=float,
        default=DEFAULT_PASSAGE_SIMILARITY,
        help=f"cosine from which passages are near-identical (default {DEFAULT_PASSAGE_SIMILARITY})",
    )
    lint.add_argument("--json", action="store_true", help="print one JSON object per finding")


_EXTRA_COMMANDS.append(_register_eval)


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
        help="lowest score that counts as an answer (default: the calibrated one, else 0.42)",
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
    except QabotIndexError as exc:
        index_dir = exc.index_dir or getattr(args, "index_dir", DEFAULT_INDEX_DIR)
        _log(f"qabot: error: {exc} Rebuild it with: qabot index CORPUS --index-dir {index_dir}")
        return EXIT_ERROR
    except QabotError as exc:
        _log(f"qabot: error: {exc}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        _log("qabot: interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
