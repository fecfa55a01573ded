"""Speed of the core, against the bare model: prints figures, asserts nothing.

1. One question answered in-process vs bare ``model.encode`` + FAISS search (p50 over 200, in
   alternating blocks of 50: each side runs without the other's threads still spinning).
2. Many questions answered batched (the path ``qabot ask -`` takes) vs bare batched encoding.
3. Index build vs bare ``SentenceTransformer.encode`` of the same passages.

qabot runs on ``--backend`` (default: qabot's default backend); the bare side is always
sentence-transformers on torch, as a user would run the model without qabot. The goals printed
are issue 10's for an ONNX backend, issue 8's for torch.

Corpus and questions: StackFAQ (`bench.data.benchmarks`), 719 FAQ entries, real user
questions; ``--build-corpus`` measures the build on another corpus (issue 10 names SciFact's
5,183 abstracts).

    .venv/bin/python -m bench.speed [--questions 200] [--backend onnx]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import faiss
import numpy as np

from bench.data import benchmarks, read_jsonl
from qabot.answering.answerer import Answerer
from qabot.answering.retrieval import Retriever
from qabot.cli.wiring import cache_dir, load_verifier, threads
from qabot.documents.chunking import chunk_documents
from qabot.documents.corpus import load_corpus
from qabot.index.build import build_index, load_index
from qabot.index.grains import grain_rows
from qabot.models.backends import BACKENDS, DEFAULT_BACKEND, load_embedder
from qabot.models.embedding import DEFAULT_MODEL, SentenceTransformerEmbedder

# (one question p50 ratio, batched ratio, build ratio): qabot against the bare model.
GOALS = {
    "torch": ("<= 1.3x", ">= 0.8x", ">= 0.67x (build <= 1.5x)"),
    "onnx": ("<= 0.5x", ">= 2x", ">= 2x"),
}


_BLOCK = 50  # single questions are timed in alternating blocks of this many, bare then qabot


def _p50(samples: list[float]) -> float:
    return statistics.median(samples)


def ask_stream_seconds(questions: list[str], corpus: Path, index_dir: Path, *flags: str) -> float:
    """Wall time of one `qabot ask -` process (with ``flags``) answering ``questions``."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "qabot", "ask", "-", "--index-dir", str(index_dir), *flags],
        input="\n".join(q.replace("\n", " ") for q in questions) + "\n",
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "QABOT_CORPUS": str(corpus)},
    )
    return time.perf_counter() - start


def _alternate(repeats: int, bare: Callable[[], object], qabot: Callable[[], object]):
    """Seconds of each call of ``bare`` and of ``qabot``, called in turn ``repeats`` times."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for side, run in zip(times, (bare, qabot), strict=True):
            start = time.perf_counter()
            run()
            side.append(time.perf_counter() - start)
    return times


def _builds(model, embedder, corpus: Path, tmp: str, repeats: int):
    """Texts embedded, bare encode seconds and qabot build seconds (each of ``repeats``)."""
    # Every grain row qabot embeds (whole texts, FAQ questions, sentences), deduplicated as the
    # build does: the bare model encodes exactly the same texts.
    _, _, grain_texts = grain_rows(chunk_documents(load_corpus(corpus).documents))
    texts = list(dict.fromkeys(grain_texts))
    bare, qabot = _alternate(
        repeats,
        lambda: model.encode(texts, batch_size=64, normalize_embeddings=True),
        # A cold build: no embedding cache, or every repeat after the first would embed nothing.
        lambda: build_index(corpus, Path(tmp) / "idx", embedder, cache_dir=None),
    )
    return len(texts), bare, qabot


def _bare_search(model, corpus: Path) -> tuple[list[str], faiss.IndexFlatIP]:
    """The texts qabot embeds for ``corpus``, encoded by the bare model into a flat FAISS index:
    the bare side searches every row it encoded."""
    texts = list(dict.fromkeys(grain_rows(chunk_documents(load_corpus(corpus).documents))[2]))
    vectors = model.encode(texts, batch_size=64, normalize_embeddings=True)
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return texts, flat


def _single(answerer: Answerer, model, flat, queries: list[str]) -> tuple[list, list]:
    """Seconds per question, bare encode + FAISS and qabot's answer, in alternating blocks."""
    # Right after a torch call its OpenMP threads still spin on both cores, which slowed the
    # next onnxruntime call by a third when the two alternated question by question (5.9 -> 9.0
    # ms here): hence blocks of questions.
    for q in queries[:20]:
        answerer.answer(q)
    bare, qabot = [], []
    for start_at in range(0, len(queries), _BLOCK):
        block = queries[start_at : start_at + _BLOCK]
        for q in block:
            start = time.perf_counter()
            flat.search(model.encode([q], normalize_embeddings=True), 10)
            bare.append(time.perf_counter() - start)
        for q in block:
            start = time.perf_counter()
            answerer.answer(q)
            qabot.append(time.perf_counter() - start)
    return bare, qabot


def _ask_stream(model, questions: list[str], corpus: Path, index_dir: Path) -> tuple[float, float]:
    """Questions/s of bare batched encoding, and the marginal questions/s of `qabot ask -`
    (many questions against one: the process's start-up left out)."""
    one = ask_stream_seconds(questions[:1], corpus, index_dir)
    many = ask_stream_seconds(questions, corpus, index_dir)
    start = time.perf_counter()
    model.encode(questions, batch_size=64, normalize_embeddings=True)
    return len(questions) / (time.perf_counter() - start), (len(questions) - 1) / (many - one)


def _print_table(backend: str, figures: dict) -> None:
    """The Markdown table of qabot against the bare model, with the goals."""
    single_goal, batch_goal, build_goal = GOALS["torch" if backend == "torch" else "onnx"]
    bare_single, qabot_single = (_p50(x) for x in figures["single"])
    bare_batch, qabot_batch = (figures["questions"] / min(x) for x in figures["batched"])
    bare_all, cli_rate = figures["stream"]
    bare_build, qabot_build = (figures["rows"] / min(x) for x in figures["build"])
    print("| measure | bare model | qabot | ratio | goal |")
    print("|---|---|---|---|---|")
    print(
        f"| one question, p50 latency | {bare_single * 1000:.1f} ms | "
        f"{qabot_single * 1000:.1f} ms | {qabot_single / bare_single:.2f}x | {single_goal} |"
    )
    print(
        f"| batched questions/s | {bare_batch:.0f} | {qabot_batch:.0f} | "
        f"{qabot_batch / bare_batch:.2f}x | {batch_goal} |"
    )
    print(
        f"| `qabot ask -` questions/s ({figures['streamed']}, marginal over one) | "
        f"{bare_all:.0f} | {cli_rate:.0f} | {cli_rate / bare_all:.2f}x | {batch_goal} |"
    )
    print(
        f"| index build, texts/s | {bare_build:.0f} | {qabot_build:.0f} | "
        f"{qabot_build / bare_build:.2f}x | {build_goal} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="a StackFAQ folder (default: the benchmarks')")
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backend", choices=BACKENDS, default=DEFAULT_BACKEND)
    parser.add_argument("--build-corpus", type=Path, help="measure the build on this corpus")
    args = parser.parse_args(argv)
    data = args.data or benchmarks() / "stackfaq"

    # The same setting qabot's store applies (see qabot.index.store._faiss): both sides run alike.
    faiss.omp_set_num_threads(1)
    model = SentenceTransformerEmbedder().model  # the bare side
    started = time.perf_counter()
    # The export (a first build's one-off cost) is timed apart; it is cached after that.
    embedder = load_embedder(
        DEFAULT_MODEL, args.backend, cache_dir=cache_dir(), threads=threads(), log=print
    )
    print(f"backend {embedder.backend} ready in {time.perf_counter() - started:.1f} s")
    corpus_file = data / "faq_pairs.jsonl"
    all_queries = [row["text"] for row in read_jsonl(data / "queries.jsonl")]
    queries = all_queries[: args.questions]
    model.encode(queries[:64], batch_size=64)  # warm-up

    figures: dict = {"questions": len(queries), "streamed": len(all_queries)}
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = Path(tmp) / "idx"
        # 3. build throughput (best of repeats for both, to damp noise on a shared 2-core box)
        build_file = args.build_corpus or corpus_file
        rows, bare_build, qabot_build = _builds(model, embedder, build_file, tmp, args.repeats)
        figures.update(rows=rows, build=(bare_build, qabot_build))
        if args.build_corpus:
            build_index(corpus_file, index_dir, embedder)
        index = load_index(index_dir)
        texts, flat = _bare_search(model, corpus_file)
        # The product's answerer: with the shipped verifier, as `qabot ask` and `serve` answer
        # (what it costs against answering without it: bench.verifier_cost).
        answerer = Answerer(Retriever(index, embedder), verifier=load_verifier())
        figures["single"] = _single(answerer, model, flat, queries)  # 1. one question
        figures["batched"] = _alternate(  # 2. batched
            args.repeats,
            lambda: model.encode(queries, batch_size=64, normalize_embeddings=True),
            lambda: answerer.answer_batch(queries),
        )
        # 2b. the real `qabot ask -` process: the marginal cost of many questions over one
        figures["stream"] = _ask_stream(model, all_queries, corpus_file, index_dir)

    print(
        f"backend {args.backend}; corpus: {index.manifest.faq_entries} FAQ entries, "
        f"{len(texts)} embedded texts; {len(queries)} questions; build on {build_file.name}, "
        f"{figures['rows']} texts"
    )
    _print_table(args.backend, figures)
    print(f"threads: faiss {faiss.omp_get_max_threads()}, numpy {np.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
