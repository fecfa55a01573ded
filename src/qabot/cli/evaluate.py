"""``qabot eval`` and ``qabot lint``: measure the answers, check the knowledge base."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from qabot.cli.wiring import (
    add_index_options,
    command,
    env,
    finite_float,
    log,
    open_answerer,
    positive_int,
)

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

    from qabot.evaluation.questionsets import load_question_set, read_qrels, resolve_gold
    from qabot.evaluation.reports import compare, load_report, summary_table, write_reports
    from qabot.evaluation.run import evaluate
    from qabot.thresholds import calibrated_threshold, write_calibration

    qrels = read_qrels(args.qrels) if args.qrels else None
    cases, warnings = load_question_set(args.questions, qrels=qrels, where=dict(args.where))
    baseline = load_report(args.baseline) if args.baseline else None
    answerer = open_answerer(
        args.corpus, args.index_dir, model=args.model, threshold=args.threshold
    )
    index = answerer.retriever.index
    cases, more_warnings = resolve_gold(cases, index.passages)
    warnings += more_warnings
    if args.threshold is not None:
        source = "--threshold"
    elif calibrated_threshold(args.index_dir, index.manifest) is not None:
        source = "calibrated"
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
        log(f"warning: {warning}")
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
            log(f"warning: {chosen.note}")
    if args.calibrate:
        if chosen is None or not chosen.has_unanswerable:
            log("warning: --calibrate: threshold NOT stored (no unanswerable questions in the set)")
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
        log(f"below the bar: {failure}")
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
    from qabot.evaluation.lint import lint_corpus
    from qabot.index import read_manifest

    model = args.model
    if model is None:
        try:
            model = read_manifest(args.index_dir).model
        except QabotIndexError:
            model = DEFAULT_MODEL
    findings = lint_corpus(
        args.corpus,
        SentenceTransformerEmbedder(model),
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
    log(f"{len(findings)} findings in {args.corpus}" + (f": {detail}" if detail else ""))
    return 1 if findings else 0


def _shown(value: object) -> str:
    return "none" if value is None else f"{value:.4g}"


def _metric_bar(text: str) -> tuple[str, float]:
    from qabot.evaluation.run import METRIC_KEYS

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


def register(subparsers) -> None:
    from qabot.evaluation.lint import DEFAULT_PASSAGE_SIMILARITY, DEFAULT_QUESTION_SIMILARITY
    from qabot.evaluation.run import DEFAULT_BATCH_SIZE, DEFAULT_EVAL_TOP_K

    evaluate = command(subparsers, "eval", cmd_eval, "measure answers on a question set")
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
    add_index_options(evaluate, corpus_positional=False)
    evaluate.add_argument(
        "--report-dir",
        type=Path,
        default=Path(env("QABOT_REPORT_DIR", "reports")),
        help="where the reports go (default: $QABOT_REPORT_DIR or ./reports)",
    )
    evaluate.add_argument(
        "--top-k",
        type=positive_int,
        default=DEFAULT_EVAL_TOP_K,
        help=f"hits ranked per question for the ranking metrics (default {DEFAULT_EVAL_TOP_K})",
    )
    evaluate.add_argument(
        "--threshold",
        type=finite_float,
        default=None,
        help="lowest score that counts as an answer (default: the calibrated one, else 0.42)",
    )
    evaluate.add_argument(
        "--batch-size",
        type=positive_int,
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

    lint = command(subparsers, "lint", cmd_lint, "find conflicting FAQ entries and other problems")
    add_index_options(lint, corpus_positional=True)
    lint.add_argument(
        "--question-similarity",
        type=finite_float,
        default=DEFAULT_QUESTION_SIMILARITY,
        help=f"cosine from which FAQ questions are near-duplicates (default {DEFAULT_QUESTION_SIMILARITY})",
    )
    lint.add_argument(
        "--passage-similarity",
        type=finite_float,
        default=DEFAULT_PASSAGE_SIMILARITY,
        help=f"cosine from which passages are near-identical (default {DEFAULT_PASSAGE_SIMILARITY})",
    )
    lint.add_argument("--json", action="store_true", help="print one JSON object per finding")
