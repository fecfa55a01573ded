"""The shipped verifier against the shipped confidence, on the top answers of `qabot eval` reports.

For each question of each report, the verifier reads (question, the top hit's text) and gives
P(the text answers). Both that probability and the answer's confidence score are then judged as
detectors of "the top answer is right" (an answerable question whose top hit is gold), by AUROC.
A diagnostic, not a fit: nothing is chosen from it.

    .venv/bin/qabot eval eval/seed-dev.jsonl --index-dir /tmp/seedidx --report-dir /tmp/seed-dev
    .venv/bin/qabot eval eval/seed-check.jsonl --index-dir /tmp/seedidx --report-dir /tmp/seed-check
    .venv/bin/python -m bench.verifier /tmp/seed-dev/report.json /tmp/seed-check/report.json \\
        --index-dir /tmp/seedidx

The held-out SQuAD figures of the verifier alone come from ``training/evaluate_verifier.py``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qabot.index.build import load_index
from qabot.models.verifier import OnnxVerifier


def auroc(scores: Sequence[float], labels: Sequence[int]) -> float:
    """P(a random positive outscores a random negative), ties counting one half."""
    scores, labels = np.asarray(scores, dtype=float), np.asarray(labels, dtype=bool)
    positive, negative = scores[labels], scores[~labels]
    if not len(positive) or not len(negative):
        return float("nan")
    wins = (positive[:, None] > negative[None, :]).sum()
    ties = (positive[:, None] == negative[None, :]).sum()
    return float((wins + 0.5 * ties) / (len(positive) * len(negative)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reports", nargs="+", type=Path, help="report.json files of qabot eval")
    parser.add_argument("--index-dir", type=Path, required=True, help="the index they were run on")
    args = parser.parse_args(argv)
    index = load_index(args.index_dir)
    verifier = OnnxVerifier()
    print("| report | questions | top answer right | AUROC confidence | AUROC verifier |")
    print("|---|---|---|---|---|")
    for path in args.reports:
        report = json.loads(path.read_text(encoding="utf-8"))["questions"]
        questions = [q for q in report if q["top_id"]]  # a question with no hit has no pair
        pairs = []
        for q in questions:
            passage = index.passage(q["top_id"])
            text = f"{passage.question} {passage.text}" if passage.kind == "faq" else passage.text
            pairs.append((q["question"], text))
        verified = [v.probability for v in verifier.verify_batch(pairs)]
        right = [int(bool(q["gold"]["answerable"] and q["top_correct"])) for q in questions]
        confidence = [q["score"] for q in questions]
        print(
            f"| {path} | {len(questions)} | {sum(right)} | {auroc(confidence, right):.3f} "
            f"| {auroc(verified, right):.3f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
