"""Answering at the encoder's floor: answers against the same backend's bare encode, and a profile.

Builds (once, under ``artifacts/answer-profile/``) an index of the chosen set with the product's
defaults, then times, in one run, on the same questions and the same embedder:

1. batched, in-process: the bare question encode (the floor), retrieval (encode + FAISS + BM25 +
   fusion) and full answers, verifier off and on (the fastest of ``--repeat`` rounds, each
   timing every figure once);
2. ``qabot ask -``, the path a user batches through: the marginal questions/s of one process
   answering every question against one answering one (start-up left out; the fastest of
   ``--repeat // 2`` processes each), verifier off and on;
3. one question at a time: p50 of the bare encode + the store's FAISS search, against p50 of a
   full answer, verifier off and on, in alternating blocks (each side runs without the other's
   threads still busy).

Then a cProfile of full batched answers (verifier off), sorted by own time.

Sets: ``stackfaq`` (an FAQ collection: the verifier reads none of its answers) and ``heldout``
(the verifier's held-out SQuAD articles as paragraphs: it reads every answer to a question).

    .venv/bin/python -m bench.answer_profile [--set stackfaq|heldout]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench.data import ARTIFACTS, benchmarks, read_jsonl, stackfaq_queries
from bench.provenance import produced_by
from bench.speed import ask_stream_seconds

WORK = ARTIFACTS / "answer-profile"
_BLOCK = 50


def best_of(repeat: int, run: Callable[[], object]) -> float:
    """The fastest of ``repeat`` runs, in seconds (a shared machine's noise only adds)."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def question_set(name: str) -> tuple[Path, list[str]]:
    """The corpus and the questions of a set."""
    if name == "stackfaq":
        return benchmarks() / "stackfaq" / "faq_pairs.jsonl", [
            q["text"] for q in stackfaq_queries()
        ]
    from bench.verifier_e2e import heldout_sets

    whole = heldout_sets(WORK)[0]
    return whole.corpus, [q["question"] for q in read_jsonl(whole.questions)]


def one_at_a_time(runs: dict[str, Callable[[str], object]], questions: list[str]) -> dict:
    """Seconds per question of each run, in alternating blocks of `_BLOCK` questions."""
    for run in runs.values():
        for question in questions[:20]:  # warm: caches, thread pools
            run(question)
    times: dict[str, list[float]] = {name: [] for name in runs}
    for start_at in range(0, len(questions), _BLOCK):
        for name, run in runs.items():
            for question in questions[start_at : start_at + _BLOCK]:
                started = time.perf_counter()
                run(question)
                times[name].append(time.perf_counter() - started)
    return {name: statistics.median(samples) for name, samples in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", choices=("stackfaq", "heldout"), default="stackfaq")
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure; the fastest counts")
    parser.add_argument("--single", type=int, default=200, help="questions timed one at a time")
    parser.add_argument("--rows", type=int, default=25, help="profile rows shown")
    args = parser.parse_args(argv)
    from qabot.cli.wiring import open_answerer

    corpus, questions = question_set(args.set)
    index_dir = WORK / f"{args.set}-index"
    answerers = {
        verified: open_answerer(corpus, index_dir, verifier=verified, progress=False)
        for verified in (False, True)
    }
    plain, verified = answerers[False], answerers[True]
    embedder, store = plain.retriever.embedder, plain.retriever.index.store
    read = sum(v is not None for v in verified.verify(questions, plain.search_batch(questions, 1)))
    batched = {
        "encode only": lambda: embedder.embed_batch(questions, role="query"),
        "retrieval (search_batch)": lambda: plain.retriever.search_batch(questions, 10),
        "answers, verifier off": lambda: plain.answer_batch(questions),
        "answers, verifier on": lambda: verified.answer_batch(questions),
    }
    # In rounds, each figure once a round: a machine that slows for a while slows all of them.
    rounds = [{what: best_of(1, run) for what, run in batched.items()} for _ in range(args.repeat)]
    seconds = {what: min(r[what] for r in rounds) for what in batched}
    # `qabot ask -`: one process for one question, one for all; the difference is the answering.
    for flags, what in (
        ((), "`qabot ask -`, verifier on"),
        (("--no-verifier",), "`qabot ask -`, verifier off"),
    ):
        runs = max(1, args.repeat // 2)  # whole processes: fewer, the fastest of each counts
        one = min(ask_stream_seconds(questions[:1], corpus, index_dir, *flags) for _ in range(runs))
        many = min(ask_stream_seconds(questions, corpus, index_dir, *flags) for _ in range(runs))
        seconds[what] = (many - one) * len(questions) / (len(questions) - 1)
    single = one_at_a_time(
        {
            "encode + search": lambda q: store.search_batch(
                embedder.embed_batch([q], role="query"), 10
            ),
            "answer, verifier off": plain.answer,
            "answer, verifier on": verified.answer,
        },
        questions[: args.single],
    )
    print(f"# Answering at the floor: {args.set}\n")
    print(produced_by("bench.answer_profile", argv) + "\n")
    print(
        f"{args.set}: {len(questions)} questions, backend {embedder.backend}; the verifier reads "
        f"{read} of their top answers. Batched figures: the fastest of {args.repeat}; "
        f"`qabot ask -`: the fastest of {max(1, args.repeat // 2)} processes each.\n"
    )
    encode = seconds["encode only"]
    print("| batched | seconds | questions/s | ÷ encode-only throughput |")
    print("|---|---|---|---|")
    for what, took in seconds.items():
        print(f"| {what} | {took:.2f} | {len(questions) / took:.0f} | {encode / took:.2f}× |")
    floor = single["encode + search"]
    print(f"\n| one question ({args.single}, p50) | ms | ÷ encode + search |")
    print("|---|---|---|")
    for what, took in single.items():
        print(f"| {what} | {took * 1000:.2f} | {took / floor:.2f}× |")
    profile = cProfile.Profile()
    profile.enable()
    plain.answer_batch(questions)
    profile.disable()
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(args.rows)
    print("\nProfile of batched answers, verifier off (sorted by own time):\n\n```")
    print(out.getvalue().strip())
    print("```")
    return 0


if __name__ == "__main__":
    sys.exit(main())
