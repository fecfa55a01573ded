"""The verifier end to end: every question set through ``qabot eval``, with and without it.

For each set the index is built once (``qabot index``), then ``qabot eval`` runs twice: with
the product's defaults (the shipped verifier on) and with ``--no-verifier``. Printed per run:
right first (hit@1 over answerable questions), answered right, answerable declined, each kind
of unanswerable question declined, ECE, and the share of questions the verifier read.

The sets: seed dev and check halves, StackFAQ, DoQA and OR-ShARC test blocks, SciFact test, and the verifier's
held-out SQuAD articles (``training/data/heldout_articles.txt``, never trained on) used as a
corpus: whole (their adversarial unanswerable questions included), and with a quarter of
their paragraphs removed (the questions on those become near-domain: on topic, unanswered).

    .venv/bin/python -m bench.verifier_e2e > bench/results/verifier-e2e.md
    .venv/bin/python -m bench.verifier_e2e --only heldout-removed --reuse
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.data import ARTIFACTS, SEED_CHECK, SEED_CORPUS, SEED_DEV, benchmarks, read_jsonl
from bench.provenance import produced_by
from bench.quality import call
from bench.squad_sets import REMOVED_SHARE, squad_corpus, write_corpus

WORK = ARTIFACTS / "verifier-e2e"


@dataclass(frozen=True)
class QuestionSet:
    """One run: a corpus, its questions and how ``qabot eval`` reads their gold."""

    name: str
    corpus: Path
    questions: Path
    extra: tuple[str, ...] = ()  # --qrels / --where


def heldout_sets(work: Path) -> list[QuestionSet]:
    """The held-out SQuAD articles as a corpus of paragraphs (one document each), whole (with
    their adversarial questions) and with `REMOVED_SHARE` of each article's paragraphs removed."""
    from training.squad_data import read_heldout

    sets = []
    for name, removed in (("heldout-whole", 0.0), ("heldout-removed", REMOVED_SHARE)):
        corpus = squad_corpus(read_heldout(), removed=removed, adversarial=not removed)
        write_corpus(corpus, work / name / "corpus", work / name / "questions.jsonl")
        sets.append(QuestionSet(name, work / name / "corpus", work / name / "questions.jsonl"))
    return sets


def question_sets(work: Path) -> list[QuestionSet]:
    source = benchmarks()
    return [
        QuestionSet("seed-dev", SEED_CORPUS, SEED_DEV),
        QuestionSet("seed-check", SEED_CORPUS, SEED_CHECK),
        QuestionSet(
            "stackfaq-test",
            source / "stackfaq" / "faq_pairs.jsonl",
            source / "stackfaq" / "queries.jsonl",
            ("--qrels", str(source / "stackfaq" / "qrels_pairs.tsv"), "--where", "block=1"),
        ),
        QuestionSet(
            "scifact-test",
            source / "scifact" / "corpus.jsonl.gz",
            source / "scifact" / "queries.jsonl",
            ("--qrels", str(source / "scifact" / "qrels" / "test.tsv")),
        ),
        *(
            QuestionSet(
                f"{name}-test",
                corpus,
                source / name / "queries.jsonl",
                ("--qrels", str(source / name / "qrels.tsv"), "--where", "block=1"),
            )
            for name, corpus in (
                ("doqa", source / "doqa" / "faqs.jsonl"),
                ("orsharc", source / "orsharc" / "corpus"),
            )
        ),
        *heldout_sets(work),
    ]


def run(question_set: QuestionSet, work: Path, qabot: Path, reuse: bool) -> dict[str, dict]:
    """Index once, evaluate with and without the verifier; the two report.json."""
    index_dir = work / question_set.name / "index"
    if not (reuse and (index_dir / "manifest.json").is_file()):
        call([qabot, "index", question_set.corpus, "--index-dir", index_dir])
    reports = {}
    for label, flags in (("verifier", ()), ("no verifier", ("--no-verifier",))):
        report_dir = work / question_set.name / ("report" if not flags else "report-plain")
        command = [qabot, "eval", question_set.questions, *question_set.extra, *flags]
        command += ["--corpus", question_set.corpus, "--index-dir", index_dir]
        call([*command, "--report-dir", report_dir])
        reports[label] = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    return reports


def row(name: str, label: str, report: dict, categories: dict[str, str]) -> str:
    """One Markdown row of figures from a report.json."""
    questions = report["questions"]
    metrics = report["metrics"]
    declined: Counter[str] = Counter()
    asked: Counter[str] = Counter()
    for q in questions:
        category = categories.get(q["id"]) or ("answerable" if q["gold"]["answerable"] else "other")
        category = "answerable" if category in ("single-fact", "faq") else category
        asked[category] += 1
        declined[category] += not q["found"]
    read = metrics["verifier-read"]
    answerable = [q for q in questions if q["gold"]["answerable"]]
    right = sum(1 for q in answerable if q["found"] and q["top_correct"])
    unanswerable = " · ".join(
        f"{c} {declined[c]}/{asked[c]}" for c in sorted(asked) if c != "answerable"
    )
    return (
        f"| {name} | {label} | {metrics['hit@1']:.3f} | {right}/{len(answerable)} | "
        f"{declined['answerable']}/{asked['answerable']} | {unanswerable or '–'} | "
        f"{metrics['ece']:.3f} | {read / max(1, len(questions)):.2f} | "
        f"{metrics['questions-per-second']:.0f} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work-dir", type=Path, default=WORK)
    parser.add_argument("--only", action="append", help="a question set's name (repeatable)")
    parser.add_argument("--reuse", action="store_true", help="keep indexes already built")
    parser.add_argument(
        "--qabot", type=Path, default=Path(sys.executable).parent / "qabot", help="qabot command"
    )
    args = parser.parse_args(argv)
    print("# The verifier end to end\n")
    print(produced_by("bench.verifier_e2e", argv) + "\n")
    print("| set | run | right first (hit@1) | answered right | answerable declined |", end="")
    print(" unanswerable declined | ECE | verifier read | q/s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for question_set in question_sets(args.work_dir):
        if args.only and question_set.name not in args.only:
            continue
        print(f"== {question_set.name}", file=sys.stderr, flush=True)
        categories = {
            str(r.get("id") or r.get("_id")): r.get("category", "")
            for r in read_jsonl(question_set.questions)
        }
        for label, report in run(question_set, args.work_dir, args.qabot, args.reuse).items():
            print(row(question_set.name, label, report, categories), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
