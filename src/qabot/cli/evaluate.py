"""``qabot eval``: measure the answers on a question set, report, calibrate."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from qabot.cli.wiring import (
    add_answering_options,
    add_index_options,
    answerer_from_options,
    command,
    default_threshold,
    env,
    finite_float,
    log,
    on_terminal,
    positive_int,
)

if TYPE_CHECKING:
    from qabot.answering.answerer import Answerer
    from qabot.evaluation.questionsets import EvalCase
    from qabot.evaluation.run import EvalReport

EXIT_BELOW_BAR = 1
DEFAULT_REPORT_DIR = "reports"


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
    accuracy = (answered-correct + declined-unanswerable) / questions; ece, the expected
    calibration error of the answers' scores (P(right), 10 bins); questions-per-second and
    latency-p50-ms / latency-p95-ms (each question's share of its batch).

    Reports in --report-dir: report.json (settings, index manifest, metrics, calibration and
    every question), results.csv, summary.md, threshold.png (precision and coverage against
    the threshold), scores.png (score distributions) and reliability.png (share right against
    the score; the plots need the eval extra: pip install 'qabot[eval]'). --baseline
    OLD/report.json adds the metric changes and the questions that became right or wrong. The
    threshold that maximises accuracy is recommended. --calibrate refits the last step of the
    confidence (Platt scaling) on the set and stores it with the index; ask, serve and eval
    use it from then on, until the index's model or corpus changes (the set needs right and
    wrong answers: add questions the documents cannot answer).
    --fail-under METRIC=VALUE exits with status 1 when a metric is below the bar (for CI).

    Examples:
      qabot eval eval/seed-dev.jsonl
      qabot eval eval/seed-dev.jsonl --calibrate --report-dir reports/seed
      qabot eval eval/seed-dev.jsonl --baseline reports/seed/report.json --fail-under hit@1=0.9
      qabot eval queries.jsonl --qrels qrels/test.tsv --corpus corpus.jsonl.gz --index-dir idx/
      qabot eval queries.jsonl --where block=1 --qrels qrels_pairs.tsv --corpus faq_pairs.jsonl
    """
    from qabot.evaluation.questionsets import load_question_set, read_qrels, resolve_gold
    from qabot.evaluation.reports import PLOTS_SKIPPED, load_report, write_reports

    qrels = read_qrels(args.qrels) if args.qrels else None
    cases, warnings = load_question_set(args.questions, qrels=qrels, where=dict(args.where))
    baseline = load_report(args.baseline) if args.baseline else None
    answerer, source = _open_answerer(args)
    cases, more_warnings = resolve_gold(cases, answerer.passages)
    report = _run(answerer, cases, args, source, warnings + more_warnings)
    paths = write_reports(report, args.report_dir, baseline=baseline)
    if "threshold_plot" not in paths:  # matplotlib, the eval extra, is missing
        log(f"warning: {PLOTS_SKIPPED}")
    _print_results(report, baseline, f"{answerer.threshold:.3f} ({source})")
    if args.calibrate:
        _store_calibration(report, answerer, args)
    print(f"reports: {args.report_dir}/ ({', '.join(p.name for p in paths.values())})")
    return _check_bars(report.metrics, args.fail_under)


def _open_answerer(args: argparse.Namespace) -> tuple[Answerer, str]:
    """The answerer with the confidence in force, and where its threshold came from."""
    from qabot.answering.confidence import default_model

    answerer = answerer_from_options(args, threshold=args.threshold)
    if args.threshold is not None:
        return answerer, "--threshold"
    calibrated = answerer.confidence != default_model(verified=answerer.verifier is not None)
    return answerer, "calibrated" if calibrated else "default"


def _run(
    answerer: Answerer,
    cases: Sequence[EvalCase],
    args: argparse.Namespace,
    source: str,
    warnings: Sequence[str],
) -> EvalReport:
    """Evaluate with a progress bar, recording the command's inputs in the report."""
    from tqdm import tqdm

    from qabot.evaluation.run import evaluate

    settings = {
        "questions": str(args.questions),
        "qrels": str(args.qrels) if args.qrels else None,
        "where": dict(args.where),
        "index_dir": str(args.index_dir),
        "threshold_source": source,
    }
    bar = tqdm(
        total=len(cases), desc="Evaluating", unit="q", file=sys.stderr, disable=not on_terminal()
    )
    with bar:
        return evaluate(
            answerer,
            cases,
            top_k=args.top_k,
            batch_size=args.batch_size,
            progress=bar.update,
            settings=settings,
            warnings=warnings,
        )


def _print_results(report: EvalReport, baseline: dict | None, threshold: str) -> None:
    """Warnings on stderr; the metrics table and the thresholds on stdout."""
    from qabot.evaluation.reports import compare, summary_table

    for warning in report.warnings:
        log(f"warning: {warning}")
    deltas = compare(report.to_dict(), baseline)["deltas"] if baseline is not None else None
    print(summary_table(report.metrics, deltas))
    print(f"threshold in force: {threshold}")
    chosen = report.calibration
    if chosen is not None:
        print(
            f"recommended threshold: {chosen.threshold:.3f} (maximises accuracy: "
            f"{chosen.accuracy:.3f}, coverage {chosen.coverage:.3f})"
        )
        if chosen.note:
            log(f"warning: {chosen.note}")


def _store_calibration(report: EvalReport, answerer: Answerer, args: argparse.Namespace) -> None:
    """``--calibrate``: refit the confidence's last step on the set and store it with the index."""
    from qabot.answering.confidence import default_model
    from qabot.evaluation.refit import refit_confidence, store_calibration

    base = default_model(verified=answerer.verifier is not None)
    manifest = answerer.manifest
    _, why_not = refit_confidence(base, report.results)
    if why_not is not None:
        log(f"warning: --calibrate: calibration NOT stored ({why_not})")
        return
    record = store_calibration(args.index_dir, report, base, manifest, question_set=args.questions)
    assert record is not None  # refit_confidence said the set supports it
    print(
        f"stored calibrated confidence in {args.index_dir} (ECE on this set "
        f"{record['ece_before']:.3f} -> {record['ece_after']:.3f})"
    )


def _check_bars(metrics: dict, bars: Sequence[tuple[str, float]]) -> int:
    """``--fail-under``: name every metric below its bar; the exit status."""
    failed = [
        f"{name} = {_shown(metrics.get(name))} < {bar}"
        for name, bar in bars
        if metrics.get(name) is None or metrics[name] < bar
    ]
    for failure in failed:
        log(f"below the bar: {failure}")
    return EXIT_BELOW_BAR if failed else 0


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
    """Add ``eval`` to the command line."""
    _register_eval(subparsers)


def _register_eval(subparsers) -> None:
    parser = command(subparsers, "eval", cmd_eval, "measure answers on a question set")
    parser.add_argument("questions", type=Path, help="question set (.jsonl or .csv)")
    parser.add_argument("--qrels", type=Path, help="BEIR-style relevance file with the gold")
    parser.add_argument(
        "--where",
        type=_field_value,
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="keep only question rows whose FIELD equals VALUE (repeatable)",
    )
    add_index_options(parser, corpus_positional=False)
    add_answering_options(parser)
    parser.add_argument(
        "--report-dir",
        type=Path,
        default=Path(env("QABOT_REPORT_DIR", DEFAULT_REPORT_DIR)),
        help=f"where the reports go (default: $QABOT_REPORT_DIR or ./{DEFAULT_REPORT_DIR})",
    )
    _add_eval_run_options(parser)
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="refit the confidence's last step (Platt) on this set and store it with the index",
    )
    parser.add_argument("--baseline", type=Path, help="an earlier report.json to compare with")
    parser.add_argument(
        "--fail-under",
        type=_metric_bar,
        nargs="+",
        action="extend",
        default=[],
        metavar="METRIC=VALUE",
        help="exit with status 1 when a metric is below VALUE, e.g. hit@1=0.9 accuracy=0.8",
    )


def _add_eval_run_options(parser: argparse.ArgumentParser) -> None:
    """How the questions are answered: ranking depth, threshold, batch size."""
    from qabot.evaluation.run import DEFAULT_BATCH_SIZE, DEFAULT_EVAL_TOP_K

    parser.add_argument(
        "--top-k",
        type=positive_int,
        default=DEFAULT_EVAL_TOP_K,
        help=f"hits ranked per question for the ranking metrics (default {DEFAULT_EVAL_TOP_K})",
    )
    parser.add_argument(
        "--threshold",
        type=finite_float,
        default=None,
        help="lowest probability of being right that counts as an answer "
        f"(default: the confidence model's threshold, {default_threshold()}, or its calibration)",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=DEFAULT_BATCH_SIZE,
        help=f"questions per batched retrieval (default {DEFAULT_BATCH_SIZE})",
    )
