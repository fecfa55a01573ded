"""Embedding speed of the backends: torch (sentence-transformers), ONNX fp32, ONNX int8.

On the same StackFAQ questions, in the same process, rounds interleaved so that a change in
the machine's load hits every backend alike:

- batched: all 1,249 questions in one ``embed_batch`` call, texts per second;
- single: one question per call, p50 latency over ``--singles`` questions;
- start-up: a fresh Python process, from spawn to its first embedding (median of ``--starts``).

    .venv/bin/python -m bench.onnx_speed
    .venv/bin/python -m bench.onnx_speed --threads 1 --rounds 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from bench.data import ROOT, stackfaq_queries
from bench.onnx_quality import make_backend, onnx_folder

BACKENDS = ("torch", "onnx", "onnx-int8")
_START = {
    "torch": "from qabot.models.embedding import SentenceTransformerEmbedder as E; e = E()",
    "onnx": "from qabot.models.onnx_embedder import OnnxEmbedder as E; e = E({folder!r})",
    "onnx-int8": "from qabot.models.onnx_embedder import OnnxEmbedder as E; e = E({folder!r}, quantized=True)",
}


def questions() -> list[str]:
    """Every StackFAQ question, both blocks (1,249): speed reads no answer."""
    return [row["text"] for row in stackfaq_queries()]


def in_process(
    texts: list[str], rounds: int, singles: int, threads: int | None, names=BACKENDS
) -> dict:
    """Batched texts/s (best round) and single-question p50 (over all rounds) per backend."""
    embedders = {name: make_backend(name, threads) for name in names}
    return time_embedders(embedders, texts, rounds, singles)


def time_embedders(embedders: dict, texts: list[str], rounds: int, singles: int) -> dict:
    """Batched texts/s (best round) and single-text p50 ms per embedder, rounds interleaved."""
    names = list(embedders)
    for embedder in embedders.values():
        embedder.embed_batch(texts[:32])  # warm-up: first-call allocations, lazy inits
    batched: dict[str, list[float]] = {name: [] for name in names}
    single: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(rounds):
        for name, embedder in embedders.items():
            started = time.perf_counter()
            embedder.embed_batch(texts)
            batched[name].append(len(texts) / (time.perf_counter() - started))
            for text in texts[:singles]:
                started = time.perf_counter()
                embedder.embed_batch([text])
                single[name].append((time.perf_counter() - started) * 1000)
    return {
        name: {"texts/s": max(batched[name]), "p50 ms": statistics.median(single[name])}
        for name in names
    }


def start_up(name: str, starts: int) -> float:
    """Median seconds from spawning a Python process to its first embedding."""
    code = _START[name].format(folder=str(onnx_folder())) + "; e.embed_batch(['hello'])"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    times = []
    for _ in range(starts):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env=env, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--singles", type=int, default=100, help="questions timed one by one")
    parser.add_argument("--starts", type=int, default=3, help="fresh processes per backend")
    parser.add_argument("--threads", type=int, default=None, help="onnxruntime intra-op threads")
    parser.add_argument(
        "--backends", nargs="+", default=list(BACKENDS), help="torch first; int8 variants too"
    )
    args = parser.parse_args(argv)
    onnx_folder()  # export before timing anything
    load_before = os.getloadavg()[0]
    texts = questions()
    names = args.backends
    figures = in_process(texts, args.rounds, args.singles, args.threads, names)
    for name in names:
        # A variant starts as onnx-int8 does (same runtime, a file of about the same size).
        figures[name]["start s"] = start_up(name, args.starts) if name in _START else float("nan")
    base = figures["torch"]
    print(
        f"{len(texts)} StackFAQ questions, {args.rounds} rounds, onnx threads "
        f"{args.threads or 'auto'}; load average {load_before:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after\n"
    )
    print(
        "| backend | batched texts/s | × torch | single p50 ms | × torch | start-up s | × torch |"
    )
    print("|---|---|---|---|---|---|---|")
    for name in names:
        f = figures[name]
        print(
            f"| {name} | {f['texts/s']:.0f} | {f['texts/s'] / base['texts/s']:.2f} | "
            f"{f['p50 ms']:.1f} | {f['p50 ms'] / base['p50 ms']:.2f} | {f['start s']:.2f} | "
            f"{f['start s'] / base['start s']:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
