"""``qabot lint``: check a knowledge base for the problems that make an FAQ bot answer wrongly."""

from __future__ import annotations

import argparse
import json

from qabot.cli.wiring import add_index_options, command, finite_float, log, open_embedder

EXIT_FINDINGS = 1


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
    from qabot.errors import QabotIndexError
    from qabot.evaluation.lint import lint_corpus
    from qabot.index.manifest import read_manifest
    from qabot.models.embedding import DEFAULT_MODEL

    model = args.model
    if model is None:
        try:
            model = read_manifest(args.index_dir).model
        except QabotIndexError:
            model = DEFAULT_MODEL
    findings = lint_corpus(
        args.corpus,
        open_embedder(model, args.backend, index_dir=args.index_dir),
        question_similarity=args.question_similarity,
        passage_similarity=args.passage_similarity,
        follow_symlinks=bool(args.follow_symlinks),
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
    return EXIT_FINDINGS if findings else 0


def register(subparsers) -> None:
    """Add ``lint`` to the command line."""
    from qabot.evaluation.lint import DEFAULT_PASSAGE_SIMILARITY, DEFAULT_QUESTION_SIMILARITY

    parser = command(
        subparsers, "lint", cmd_lint, "find conflicting FAQ entries and other problems"
    )
    add_index_options(parser, corpus_positional=True)
    parser.add_argument(
        "--question-similarity",
        type=finite_float,
        default=DEFAULT_QUESTION_SIMILARITY,
        help="cosine from which FAQ questions are near-duplicates "
        f"(default {DEFAULT_QUESTION_SIMILARITY})",
    )
    parser.add_argument(
        "--passage-similarity",
        type=finite_float,
        default=DEFAULT_PASSAGE_SIMILARITY,
        help=f"cosine from which passages are near-identical (default {DEFAULT_PASSAGE_SIMILARITY})",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object per finding")
