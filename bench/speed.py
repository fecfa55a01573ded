"""Speed of the core, against the bare model: prints figures, asserts nothing.

1. One question answered in-process vs bare ``model.encode`` + FAISS search (p50 over 200, in
   alternating blocks of 50: each side runs without the other's threads still spinning).
2. Many questions answered batched (the path ``qabot ask -`` takes) vs bare batched encoding.
3. Index build vs bare ``SentenceTransformer.encode`` of the same passages.

qabot runs on ``--backend`` (default: qabot's default backend); the bare side is always
sentence-transformers on torch, as a user would run the model without qabot. The goals printed
are issue 10's for an ONNX backend, issue 8's for torch.

Corpus and questions: StackFAQ (``../shared/benchmarks/stackfaq``, or $QABOT_BENCHMARKS), 719
FAQ entries, real user questions; ``--build-corpus`` measures the build on another corpus
(issue 10 names SciFact's 5,183 abstracts).
Run: ``PYTHONPATH=src .venv/bin/python bench/speed.py [--questions 200] [--backend onnx]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

from qabot.answering.answerer import Answerer
from qabot.answering.retrieval import Retriever
from qabot.cli.wiring import cache_dir, threads
from qabot.documents.chunking import chunk_documents
from qabot.documents.corpus import load_corpus
from qabot.index.build import build_index, load_index
from qabot.index.grains import grain_rows
from qabot.models.backends import BACKENDS, DEFAULT_BACKEND, backend_of, load_embedder
from qabot.models.embedding import DEFAULT_MODEL, SentenceTransformerEmbedder

BENCHMARKS = Path(
    os.environ.get("QABOT_BENCHMARKS")
    or Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks"
)
BENCH = BENCHMARKS / "stackfaq"
# (one question p50 ratio, batched ratio, build ratio): qabot against the bare model.
GOALS = {
    "torch": ("<= 1.3x", ">= 0.8x", ">= 0.67x (build <= 1.5x)"),
    "onnx": ("<= 0.5x", ">= 2x", ">= 2x"),
}


_BLOCK = 50  # single questions are timed in alternating blocks of this many, bare then qabot


def _p50(samples: list[float]) -> float:
    return statistics.median(samples)


def _ask_stream_seconds(questions: list[str], corpus: Path, index_dir: Path) -> float:
    """Wall time of one `qabot ask -` process answering ``questions``."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "qabot", "ask", "-", "--index-dir", str(index_dir)],
        input="\n".join(q.replace("\n", " ") for q in questions) + "\n",
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "QABOT_CORPUS": str(corpus)},
    )
    return time.perf_counter() - start


def _builds(model, embedder, corpus: Path, tmp: str, repeats: int):
    """Texts embedded, bare encode seconds and qabot build seconds (each of ``repeats``)."""
    # Every grain row qabot embeds (whole texts, FAQ questions, sentences), deduplicated as the
    # build does: the bare model encodes exactly the same texts.
    _, _, grain_texts = grain_rows(chunk_documents(load_corpus(corpus).documents))
    texts = list(dict.fromkeys(grain_texts))
    bare, qabot = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        model.encode(texts, batch_size=64, normalize_embeddings=True)
        bare.append(time.perf_counter() - start)
        start = time.perf_counter()
        # A cold build: no embedding cache, or every repeat after the first would embed nothing.
        build_index(corpus, Path(tmp) / "idx", embedder, cache_dir=None)
        qabot.append(time.perf_counter() - start)
    return len(texts), bare, qabot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=BENCH)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backend", choices=BACKENDS, default=DEFAULT_BACKEND)
    parser.add_argument("--build-corpus", type=Path, help="measure the build on this corpus")
    args = parser.parse_args()

    # The same setting qabot's store applies (see qabot.index.store._faiss): both sides run alike.
    faiss.omp_set_num_threads(1)
    model = SentenceTransformerEmbedder().model  # the bare side
    started = time.perf_counter()
    # The export (a first build's one-off cost) is timed apart; it is cached after that.
    embedder = load_embedder(
        DEFAULT_MODEL, args.backend, cache_dir=cache_dir(), threads=threads(), log=print
    )
    print(f"backend {backend_of(embedder)} ready in {time.perf_counter() - started:.1f} s")
    corpus_file = args.data / "faq_pairs.jsonl"
    queries = [json.loads(line)["text"] for line in (args.data / "queries.jsonl").open()]
    queries = queries[: args.questions]
    model.encode(queries[:64], batch_size=64)  # warm-up

    with tempfile.TemporaryDirectory() as tmp:
        # 3. build throughput (best of repeats for both, to damp noise on a shared 2-core box)
        build_file = args.build_corpus or corpus_file
        rows, bare_build, qabot_build = _builds(model, embedder, build_file, tmp, args.repeats)
        if args.build_corpus:
            build_index(corpus_file, Path(tmp) / "idx", embedder)
        index = load_index(Path(tmp) / "idx")
        texts = list(
            dict.fromkeys(grain_rows(chunk_documents(load_corpus(corpus_file).documents))[2])
        )
        # The bare side searches every row it encoded.
        vectors = model.encode(texts, batch_size=64, normalize_embeddings=True)
        answerer = Answerer(Retriever(index, embedder))
        flat = faiss.IndexFlatIP(vectors.shape[1])  # the bare side searches every row it encoded
        flat.add(np.ascontiguousarray(vectors, dtype=np.float32))

        # 1. single question latency, in alternating blocks of questions: right after a torch
        # call its OpenMP threads still spin on both cores, which slowed the next onnxruntime
        # call by a third when the two alternated question by question (5.9 -> 9.0 ms here).
        for q in queries[:20]:
            answerer.answer(q)
        bare_single, qabot_single = [], []
        for start_at in range(0, len(queries), _BLOCK):
            block = queries[start_at : start_at + _BLOCK]
            for q in block:
                start = time.perf_counter()
                flat.search(model.encode([q], normalize_embeddings=True), 10)
                bare_single.append(time.perf_counter() - start)
            for q in block:
                start = time.perf_counter()
                answerer.answer(q)
                qabot_single.append(time.perf_counter() - start)

        # 2. batched throughput
        bare_batch, qabot_batch = [], []
        for _ in range(args.repeats):
            start = time.perf_counter()
            model.encode(queries, batch_size=64, normalize_embeddings=True)
            bare_batch.append(time.perf_counter() - start)
            start = time.perf_counter()
            answerer.answer_batch(queries)
            qabot_batch.append(time.perf_counter() - start)

        # 2b. the real `qabot ask -` process: the marginal cost of many questions over one
        all_queries = [json.loads(line)["text"] for line in (args.data / "queries.jsonl").open()]
        cli_one = _ask_stream_seconds(all_queries[:1], corpus_file, Path(tmp) / "idx")
        cli_many = _ask_stream_seconds(all_queries, corpus_file, Path(tmp) / "idx")
        start = time.perf_counter()
        model.encode(all_queries, batch_size=64, normalize_embeddings=True)
        bare_all = len(all_queries) / (time.perf_counter() - start)
        cli_rate = (len(all_queries) - 1) / (cli_many - cli_one)

    n = len(queries)
    single_goal, batch_goal, build_goal = GOALS["torch" if args.backend == "torch" else "onnx"]
    bare_rate, qabot_rate = rows / min(bare_build), rows / min(qabot_build)
    print(
        f"backend {args.backend}; corpus: {index.manifest.faq_entries} FAQ entries, "
        f"{len(texts)} embedded texts; {n} questions; build on {build_file.name}, {rows} texts"
    )
    print("| measure | bare model | qabot | ratio | goal |")
    print("|---|---|---|---|---|")
    single_ratio = _p50(qabot_single) / _p50(bare_single)
    print(
        f"| one question, p50 latency | {_p50(bare_single) * 1000:.1f} ms | "
        f"{_p50(qabot_single) * 1000:.1f} ms | {single_ratio:.2f}x | {single_goal} |"
    )
    bq, qq = n / min(bare_batch), n / min(qabot_batch)
    print(f"| batched questions/s | {bq:.0f} | {qq:.0f} | {qq / bq:.2f}x | {batch_goal} |")
    print(
        f"| `qabot ask -` questions/s ({len(all_queries)}, marginal over one) | {bare_all:.0f} | "
        f"{cli_rate:.0f} | {cli_rate / bare_all:.2f}x | {batch_goal} |"
    )
    print(
        f"| index build, texts/s | {bare_rate:.0f} | {qabot_rate:.0f} | "
        f"{qabot_rate / bare_rate:.2f}x | {build_goal} |"
    )
    print(f"threads: faiss {faiss.omp_get_max_threads()}, numpy {np.__version__}")


if __name__ == "__main__":
    main()
