"""What the verifier costs: qabot with it (the default) against qabot without it, in one run.

Without the verifier (``--no-verifier``) qabot answers exactly as the release before the
verifier did, so this is the issue's "against the release before it". On one index and one
set of real questions, both sides are timed in alternating blocks:

1. one question answered in-process (``Answerer.answer``): p50 and p95;
2. all the questions answered in one batch (``Answerer.answer_batch``): questions/s;
3. the real ``qabot ask -`` process: marginal questions/s over one question;

and the share of questions the verifier read (found passage answers:
`qabot.answering.verification.reads`).

    .venv/bin/python -m bench.verifier_cost                       # StackFAQ, 200 questions
    .venv/bin/python -m bench.verifier_cost --corpus artifacts/verifier-e2e/heldout-removed/corpus \
        --questions-file artifacts/verifier-e2e/heldout-removed/questions.jsonl   # passages
    .venv/bin/python -m bench.verifier_cost --corpus corpus --questions-file eval/seed-dev.jsonl
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.data import benchmarks, read_jsonl
from bench.provenance import produced_by
from bench.speed import ask_stream_seconds
from qabot.answering.answerer import Answerer
from qabot.answering.retrieval import Retriever
from qabot.cli.wiring import cache_dir, load_verifier, threads
from qabot.index.build import build_index, load_index
from qabot.models.backends import DEFAULT_BACKEND, load_embedder
from qabot.models.embedding import DEFAULT_MODEL

BLOCK = 25


def _single(sides: dict[str, Answerer], questions: list[str]) -> dict[str, list[float]]:
    """Seconds per question of each side, timed in alternating blocks of `BLOCK`."""
    times: dict[str, list[float]] = {name: [] for name in sides}
    for low in range(0, len(questions), BLOCK):
        for name, answerer in sides.items():
            for q in questions[low : low + BLOCK]:
                start = time.perf_counter()
                answerer.answer(q)
                times[name].append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    stackfaq = benchmarks() / "stackfaq"
    parser.add_argument("--corpus", type=Path, default=stackfaq / "faq_pairs.jsonl")
    parser.add_argument("--questions-file", type=Path, default=stackfaq / "queries.jsonl")
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    rows = read_jsonl(args.questions_file)
    every = [str(r.get("question") or r.get("text")) for r in rows]
    questions = every[: args.questions]
    embedder = load_embedder(
        DEFAULT_MODEL, DEFAULT_BACKEND, cache_dir=cache_dir(), threads=threads()
    )
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = Path(tmp) / "idx"
        build_index(args.corpus, index_dir, embedder)
        retriever = Retriever(load_index(index_dir), embedder)
        verifier = load_verifier()
        sides = {
            "without the verifier": Answerer(retriever),
            "with the verifier": Answerer(retriever, verifier=verifier),
        }
        read = sum(a.verifier is not None for a in sides["with the verifier"].answer_batch(every))
        for answerer in sides.values():  # warm both
            answerer.answer_batch(questions[:20])
        single = _single(sides, questions)
        batched: dict[str, list[float]] = {name: [] for name in sides}
        for _ in range(args.repeats):
            for name, answerer in sides.items():
                start = time.perf_counter()
                answerer.answer_batch(questions)
                batched[name].append(time.perf_counter() - start)
        stream = {}
        for name, flags in (
            ("without the verifier", ("--no-verifier",)),
            ("with the verifier", ()),
        ):
            one = ask_stream_seconds(every[:1], args.corpus, index_dir, *flags)
            many = ask_stream_seconds(every, args.corpus, index_dir, *flags)
            stream[name] = (len(every) - 1) / (many - one)
    print("# What the verifier costs\n")
    print(produced_by("bench.verifier_cost", argv) + "\n")
    print(
        f"Corpus {args.corpus.name}; {len(questions)} questions in-process, {len(every)} through "
        f"`qabot ask -`; the verifier read {read} of {len(every)} ({read / len(every):.0%}).\n"
    )
    print("| measure | without the verifier | with it | ratio |\n|---|---|---|---|")
    plain, verified = (sorted(single[n]) for n in sides)
    for label, q in (("p50", 0.5), ("p95", 0.95)):
        a, b = (x[int(q * (len(x) - 1))] * 1000 for x in (plain, verified))
        print(f"| one question, {label} | {a:.1f} ms | {b:.1f} ms | {b / a:.2f}x |")
    a, b = (len(questions) / min(batched[n]) for n in sides)
    print(f"| batched questions/s (best of {args.repeats}) | {a:.0f} | {b:.0f} | {b / a:.2f}x |")
    a, b = (stream[n] for n in sides)
    print(f"| `qabot ask -` questions/s (marginal) | {a:.0f} | {b:.0f} | {b / a:.2f}x |")
    print(f"\nmean of one question: {statistics.mean(plain) * 1000:.1f} ms without, ", end="")
    print(f"{statistics.mean(verified) * 1000:.1f} ms with")
    return 0


if __name__ == "__main__":
    sys.exit(main())
