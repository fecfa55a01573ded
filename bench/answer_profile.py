"""Where `Answerer.answer_batch`'s time goes beside the question encode, with a cProfile table.

Builds (once, under ``artifacts/answer-profile/``) the StackFAQ index with the product's
defaults on the fp32 ONNX backend, then answers StackFAQ's questions in one batch and times,
in the same run: the bare question encode, retrieval (encode + FAISS + BM25 + fusion) and full
answers (verifier off, then on). The profile is of full answers, verifier off; its table lists
the functions with the most time of their own.

    .venv/bin/python -m bench.answer_profile
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time

from bench.data import ARTIFACTS, benchmarks, stackfaq_queries
from bench.provenance import produced_by


def best_of(repeat: int, run) -> float:
    """The fastest of ``repeat`` runs, in seconds (a shared machine's noise only adds)."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the fastest counts")
    parser.add_argument("--rows", type=int, default=25, help="profile rows shown")
    args = parser.parse_args(argv)
    from qabot.cli.wiring import open_answerer

    corpus = benchmarks() / "stackfaq" / "faq_pairs.jsonl"
    index_dir = ARTIFACTS / "answer-profile" / "stackfaq-index"
    answerers = {
        verified: open_answerer(corpus, index_dir, verifier=verified, progress=False)
        for verified in (False, True)
    }
    plain = answerers[False]
    questions = [q["text"] for q in stackfaq_queries()]
    embedder = plain.retriever.embedder
    figures = {
        "encode only": best_of(args.repeat, lambda: embedder.embed_batch(questions, role="query")),
        "retrieval (search_batch)": best_of(
            args.repeat, lambda: plain.retriever.search_batch(questions, 10)
        ),
        "answers, verifier off": best_of(args.repeat, lambda: plain.answer_batch(questions)),
        "answers, verifier on": best_of(
            args.repeat, lambda: answerers[True].answer_batch(questions)
        ),
    }
    print("# Answering at the floor: where answer_batch's time goes\n")
    print(produced_by("bench.answer_profile", argv) + "\n")
    print(
        f"StackFAQ: {len(questions)} questions in one batch, backend {embedder.backend}, "
        f"fastest of {args.repeat}. Shared 2-core machine.\n"
    )
    encode = figures["encode only"]
    print("| what | seconds | questions/s | ÷ encode-only throughput |")
    print("|---|---|---|---|")
    for what, seconds in figures.items():
        print(
            f"| {what} | {seconds:.2f} | {len(questions) / seconds:.0f} | {encode / seconds:.2f}× |"
        )
    profile = cProfile.Profile()
    profile.enable()
    plain.answer_batch(questions)
    profile.disable()
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(args.rows)
    print("\nProfile of answers, verifier off (sorted by own time):\n\n```")
    print(out.getvalue().strip())
    print("```")
    return 0


if __name__ == "__main__":
    sys.exit(main())
