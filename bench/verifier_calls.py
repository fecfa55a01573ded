"""How the verifier's onnxruntime calls are best run: one window per call or batches, side by side or not.

The verifier reads one window per call (`qabot.models.verifier.DEFAULT_BATCH_SIZE`), so that a
pair's probability never depends on what else is read with it, and runs its calls side by side
on one core each. This times the shipped verifier on the held-out articles' questions, each with
a sentence of a paragraph (what the product reads), in those settings, and says whether a pair
reads the same alone as in the batch.

    .venv/bin/python -m bench.verifier_e2e --only heldout-removed   # writes the questions
    .venv/bin/python -m bench.verifier_calls > bench/results/verifier-calls.md
"""

from __future__ import annotations

import argparse
import sys
import time

from bench.data import read_jsonl
from bench.provenance import produced_by
from bench.verifier_e2e import WORK
from qabot.documents.chunking import split_sentences
from qabot.models.verifier import OnnxVerifier

SETTINGS = (  # (windows per call, calls side by side)
    (1, 2),
    (1, 1),
    (16, 2),
)


def pairs(count: int) -> list[tuple[str, str]]:
    """``count`` held-out questions, each with the second sentence of a paragraph (the first
    when it has one), as `qabot.documents.chunking` splits it."""
    folder = WORK / "heldout-removed"
    questions = read_jsonl(folder / "questions.jsonl")[:count]
    sentences = [
        split_sentences(path.read_text(encoding="utf-8"))
        for path in sorted((folder / "corpus").glob("*"))
    ]
    texts = [mine[min(1, len(mine) - 1)] for mine in sentences if mine]
    return [(q["question"], texts[n % len(texts)]) for n, q in enumerate(questions)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=400)
    args = parser.parse_args(argv)
    batch = pairs(args.pairs)
    print("# The verifier's calls\n")
    print(produced_by("bench.verifier_calls", argv) + "\n")
    print(f"{len(batch)} held-out (question, sentence) pairs, best of 3.\n")
    print(
        "| windows per call | calls side by side | ms a pair, batched | one pair p50 (ms) |", end=""
    )
    print(" a pair reads as alone |")
    print("|---|---|---|---|---|")
    for size, workers in SETTINGS:
        verifier = OnnxVerifier(batch_size=size, threads=workers)
        verifier.verify_batch(batch[:8])
        best, verdicts = float("inf"), []
        for _ in range(3):
            started = time.perf_counter()
            verdicts = verifier.verify_batch(batch)
            best = min(best, time.perf_counter() - started)
        alone, times = [], []
        for pair in batch[:50]:
            started = time.perf_counter()
            alone.append(verifier.verify_batch([pair])[0].probability)
            times.append(time.perf_counter() - started)
        same = all(v.probability == a for v, a in zip(verdicts, alone, strict=False))
        p50 = sorted(times)[len(times) // 2]
        print(
            f"| {size} | {workers} | {1000 * best / len(batch):.2f} | {1000 * p50:.2f} | "
            f"{'yes' if same else 'no'} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
