"""Speed of the core, against the bare model: prints figures, asserts nothing.

1. One question answered in-process vs bare ``model.encode`` + FAISS search (p50 over 200).
2. Many questions answered batched (the path ``qabot ask -`` takes) vs bare batched encoding.
3. Index build vs bare ``SentenceTransformer.encode`` of the same passages.

Corpus and questions: StackFAQ (``../shared/benchmarks/stackfaq``), 719 FAQ entries, real user
questions. Run: ``.venv/bin/python bench/speed.py [--questions 200]``.
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

from qabot.answering import Answerer
from qabot.chunking import chunk_documents
from qabot.corpus import load_corpus
from qabot.embedding import SentenceTransformerEmbedder
from qabot.grains import grain_rows
from qabot.index import build_index
from qabot.retrieval import Retriever

BENCH = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks" / "stackfaq"


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=BENCH)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    # The same setting qabot's store applies (see qabot.store._faiss): both sides run alike.
    faiss.omp_set_num_threads(1)
    embedder = SentenceTransformerEmbedder()
    model = embedder.model
    corpus_file = args.data / "faq_pairs.jsonl"
    queries = [json.loads(line)["text"] for line in (args.data / "queries.jsonl").open()]
    queries = queries[: args.questions]
    # Every grain row qabot embeds (whole texts, FAQ questions, sentences), deduplicated as the
    # build does: the bare model encodes exactly the same texts.
    _, _, grain_texts = grain_rows(chunk_documents(load_corpus(corpus_file).documents))
    texts = list(dict.fromkeys(grain_texts))
    model.encode(texts[:64], batch_size=64)  # warm-up

    # 3. build throughput (best of repeats for both, to damp noise on a shared 2-core box)
    bare_build, qabot_build = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            start = time.perf_counter()
            vectors = model.encode(texts, batch_size=64, normalize_embeddings=True)
            bare_build.append(time.perf_counter() - start)
            start = time.perf_counter()
            index = build_index(corpus_file, Path(tmp) / "idx", embedder)
            qabot_build.append(time.perf_counter() - start)
        answerer = Answerer(Retriever(index, embedder))
        flat = faiss.IndexFlatIP(vectors.shape[1])  # the bare side searches every row it encoded
        flat.add(np.ascontiguousarray(vectors, dtype=np.float32))

        # 1. single question latency
        for q in queries[:20]:
            answerer.answer(q)
        bare_single, qabot_single = [], []
        for q in queries:
            start = time.perf_counter()
            flat.search(model.encode([q], normalize_embeddings=True), 10)
            bare_single.append(time.perf_counter() - start)
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

    n, rows = len(queries), len(texts)
    bare_rate, qabot_rate = rows / min(bare_build), rows / min(qabot_build)
    print(f"corpus: {index.manifest.faq_entries} FAQ entries, {rows} embedded texts; {n} questions")
    print("| measure | bare model | qabot | ratio | goal |")
    print("|---|---|---|---|---|")
    single_ratio = _p50(qabot_single) / _p50(bare_single)
    print(
        f"| one question, p50 latency | {_p50(bare_single) * 1000:.1f} ms | "
        f"{_p50(qabot_single) * 1000:.1f} ms | {single_ratio:.2f}x | <= 1.3x |"
    )
    bq, qq = n / min(bare_batch), n / min(qabot_batch)
    print(f"| batched questions/s | {bq:.0f} | {qq:.0f} | {qq / bq:.2f}x | >= 0.8x |")
    print(
        f"| `qabot ask -` questions/s ({len(all_queries)}, marginal over one) | {bare_all:.0f} | "
        f"{cli_rate:.0f} | {cli_rate / bare_all:.2f}x | >= 0.8x |"
    )
    print(
        f"| index build, texts/s | {bare_rate:.0f} | {qabot_rate:.0f} | "
        f"{qabot_rate / bare_rate:.2f}x | >= 0.67x (build <= 1.5x) |"
    )
    print(f"threads: faiss {faiss.omp_get_max_threads()}, numpy {np.__version__}")


if __name__ == "__main__":
    main()
