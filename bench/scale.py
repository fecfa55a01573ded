"""Scale: build time, serving RSS, per-question latency and recall@10 at 10k to 1M passages.

    .venv/bin/python -m bench.scale --passages 100000
    .venv/bin/python -m bench.scale --passages 1000000 --json   # last line: JSON

SYNTHETIC: embedding a million real texts takes hours here, so the texts are generated and
embedded by a bag-of-words model over clustered word vectors (64 topics, 384 dimensions): a
passage is one sentence drawn mostly from one topic's words, so vectors cluster as real ones
do, and a question made of some of a passage's words lands near it (dense) and shares its
words (BM25). Everything else is the product: `build_index` over a JSONL corpus (1 in 10 rows an
FAQ entry), `load_index` in a fresh process, `Answerer.answer` one question at a time.

Encode included: the synthetic encode costs microseconds, so each question is also encoded by
the real model (all-MiniLM-L6-v2 on the default ONNX backend, exported to the user's cache on
first use) and that vector thrown away: the latency is a real question's, while the search uses
the synthetic vector that matches the synthetic passages. ``--no-real-encode`` leaves it out.

Reported: build seconds; the serving process's RSS after loading and answering; p50/p99 per
question, and p50 without the encode (``p50_retrieval_ms``); recall@10 of the store's
candidates against an exact search of the same rows; and p50 of the same run at 10k passages
(``p50_ms_10k``) for the latency target.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.data import ROOT

DIMENSION, TOPICS, VOCABULARY, QUESTIONS = 384, 64, 20_000, 300
_WORD = re.compile(r"\w\w+")


def vocabulary() -> list[str]:
    """Pronounceable generated words (three syllables), distinct and stable."""
    syllables = [c + v for c in "bdfgklmnprtvz" for v in "aiou"]  # 52, none a stemmer suffix
    words = [a + b + c for a in syllables for b in syllables for c in syllables]
    return [w for w in np.random.default_rng(7).permutation(words)[:VOCABULARY]]


class SyntheticEmbedder:
    """Bag-of-words over clustered word vectors: texts sharing words get similar vectors."""

    name = "synthetic-bow-384"
    dimension = DIMENSION
    backend = "synthetic"
    folder = None

    def __init__(self) -> None:
        rng = np.random.default_rng(11)
        centres = rng.normal(size=(TOPICS, DIMENSION))
        topic = np.arange(VOCABULARY) % TOPICS
        self.word_vectors = (
            centres[topic] + 1.2 * rng.normal(size=(VOCABULARY, DIMENSION))
        ).astype(np.float32)
        self.ids = {w: i for i, w in enumerate(vocabulary())}

    def embed_batch(self, texts, *, progress=False, role="document"):
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        for start in range(0, len(texts), 8192):  # bounded memory at a million texts
            chunk = texts[start : start + 8192]
            ids = [[self.ids.get(w, hash(w) % VOCABULARY) for w in _WORD.findall(t)] for t in chunk]
            lengths = np.array([max(len(i), 1) for i in ids])
            flat = np.array([w for i in ids for w in (i or [0])])
            sums = np.add.reduceat(self.word_vectors[flat], np.r_[0, np.cumsum(lengths)[:-1]])
            out[start : start + len(chunk)] = sums
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out


class RealEncodeEmbedder:
    """The synthetic vectors, after paying for the real model's encode of the same questions."""

    name, dimension = SyntheticEmbedder.name, DIMENSION
    backend, folder = SyntheticEmbedder.backend, None

    def __init__(self, synthetic: SyntheticEmbedder) -> None:
        from qabot.cli.wiring import cache_dir
        from qabot.models.backends import load_embedder
        from qabot.models.embedding import DEFAULT_MODEL

        self.synthetic = synthetic
        self.real = load_embedder(DEFAULT_MODEL, "onnx", cache_dir=cache_dir())
        self.encode_ms = 0.0  # in total

    def embed_batch(self, texts, *, progress=False, role="document"):
        started = time.perf_counter()
        self.real.embed_batch(list(texts), role=role)
        self.encode_ms += (time.perf_counter() - started) * 1000
        return self.synthetic.embed_batch(texts, role=role)


def make_corpus(path: Path, passages: int) -> list[str]:
    """A JSONL corpus of ``passages`` one-sentence rows; returns questions about some of them."""
    rng = np.random.default_rng(3)
    words = np.array(vocabulary())
    topic_words = [np.flatnonzero(np.arange(VOCABULARY) % TOPICS == t) for t in range(TOPICS)]
    questions = []
    targets = set(rng.choice(passages, size=min(QUESTIONS, passages), replace=False).tolist())
    with path.open("w", encoding="utf-8") as out:
        for n in range(passages):
            own = topic_words[n % TOPICS]
            picks = np.where(
                rng.random(14) < 0.8,
                own[rng.integers(0, len(own), 14)],
                rng.integers(0, VOCABULARY, 14),
            )
            sentence = " ".join(words[picks[:12]]).capitalize() + "."
            if n % 10 == 9:
                row = {
                    "id": f"f{n}",
                    "question": " ".join(words[picks[12:]]) + "?",
                    "answer": sentence,
                }
            else:
                row = {"id": f"d{n}", "title": f"Note {n}", "text": sentence}
            out.write(json.dumps(row) + "\n")
            if n in targets:
                questions.append(" ".join(words[rng.choice(picks[:12], 5, replace=False)]) + "?")
    return questions


def build(passages: int, work: Path, index_type: str) -> tuple[float, Path, Path]:
    """Generate and index a corpus; returns build seconds, the index folder, the questions file."""
    from qabot.index.build import build_index

    corpus = work / f"corpus-{passages}.jsonl"
    questions = make_corpus(corpus, passages)
    question_file = work / f"questions-{passages}.json"
    question_file.write_text(json.dumps(questions), encoding="utf-8")
    index_dir = work / f"index-{passages}"
    started = time.perf_counter()
    build_index(corpus, index_dir, SyntheticEmbedder(), index_type=index_type, cache_dir=None)
    return time.perf_counter() - started, index_dir, question_file


def serve(index_dir: Path, question_file: Path, real_encode: bool) -> dict:
    """In a fresh process: load, answer one question at a time, then RSS and recall@10."""
    import psutil

    from qabot.answering.answerer import Answerer
    from qabot.answering.retrieval import Retriever
    from qabot.index.build import load_index

    synthetic = SyntheticEmbedder()
    embedder = RealEncodeEmbedder(synthetic) if real_encode else synthetic
    questions = json.loads(question_file.read_text(encoding="utf-8"))
    started = time.perf_counter()
    index = load_index(index_dir)
    answerer = Answerer(Retriever(index, embedder))
    load_s = time.perf_counter() - started
    for question in questions[:20]:  # warm-up: first touches of pages and caches
        answerer.answer(question)
    latencies, retrieval = [], []
    for question in questions:
        encoded = getattr(embedder, "encode_ms", 0.0)
        started = time.perf_counter()
        answerer.answer(question)
        latencies.append((time.perf_counter() - started) * 1000)
        retrieval.append(latencies[-1] - (getattr(embedder, "encode_ms", 0.0) - encoded))
    rss_mb = psutil.Process().memory_info().rss / 2**20
    recall, recall_raw = _recall(index.store, embedder.embed_batch(questions, role="query"))
    return {
        "load_s": round(load_s, 1),
        "rss_mb": round(rss_mb),
        "p50_ms": round(float(np.percentile(latencies, 50)), 2),
        "p99_ms": round(float(np.percentile(latencies, 99)), 2),
        "p50_retrieval_ms": round(float(np.percentile(retrieval, 50)), 2),
        "real_encode": real_encode,
        "recall_at_10": recall,
        "recall_at_10_raw": recall_raw,
        "index_type": index.store.index_type,
    }


def _recall(store, queries: np.ndarray) -> tuple[float, float]:
    """Recall@10 of the product's dense candidates, and of the approximate index's own top 10,
    against an exact search of the same rows."""
    from qabot.answering.retrieval import DEFAULT_POOL
    from qabot.documents.grains import GRAIN_SENTENCE

    searchable = np.flatnonzero(store.row_grain != GRAIN_SENTENCE)
    best = np.full((len(queries), 10), -np.inf, dtype=np.float32)
    best_rows = np.zeros((len(queries), 10), dtype=np.int64)
    for start in range(0, len(searchable), 65536):  # exact search, in slices of rows
        rows = searchable[start : start + 65536]
        scores = queries @ np.asarray(store.vectors[rows]).T
        merged = np.concatenate([best, scores], axis=1)
        merged_rows = np.concatenate([best_rows, np.broadcast_to(rows, scores.shape)], axis=1)
        top = np.argsort(-merged, axis=1)[:, :10]
        best, best_rows = (
            np.take_along_axis(merged, top, 1),
            np.take_along_axis(merged_rows, top, 1),
        )
    # Passages, not rows: the exact top 10 distinct passages are taken from the top rows.
    # The retriever asks the store for its best DEFAULT_POOL and scores their rows
    # exactly (`VectorStore.evidence`): recall_at_10 is that pool's exact top 10 (the product's
    # dense side), recall_at_10_raw the approximate index's own top 10.
    raw = store.search_batch(queries, 10)
    pooled = store.search_batch(queries, DEFAULT_POOL)
    recall, recall_raw = [], []
    for q, query in enumerate(queries):
        exact = set(list(dict.fromkeys(store.row_passage[best_rows[q]].tolist()))[:10])
        recall_raw.append(len(exact & set(raw[q].numbers.tolist())) / len(exact))
        searched = store.evidence(query, pooled[q].numbers).grains[:, :2].max(axis=1)
        top = pooled[q].numbers[np.argsort(-searched, kind="stable")[:10]]
        recall.append(len(exact & set(top.tolist())) / len(exact))
    return round(float(np.mean(recall)), 4), round(float(np.mean(recall_raw)), 4)


def measure(passages: int, work: Path, index_type: str, real_encode: bool) -> dict:
    build_s, index_dir, question_file = build(passages, work, index_type)
    command = [sys.executable, "-m", "bench.scale", "--serve", str(index_dir), str(question_file)]
    command += [] if real_encode else ["--no-real-encode"]
    done = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
    served = json.loads(done.stdout)
    return {"passages": passages, "build_s": round(build_s, 1), **served}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--index-type", default="auto", help="see qabot index --index-type")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--work-dir", type=Path, default=None, help="default: a temporary one")
    parser.add_argument(
        "--no-real-encode",
        dest="real_encode",
        action="store_false",
        help="do not time the real model's question encode (retrieval only)",
    )
    parser.add_argument("--serve", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        print(json.dumps(serve(*args.serve, args.real_encode)))
        return 0
    print("SYNTHETIC vectors and texts (see the docstring); the rest is the product.", flush=True)
    with tempfile.TemporaryDirectory(dir=args.work_dir) as tmp:
        result = measure(args.passages, Path(tmp), args.index_type, args.real_encode)
        print(f"{args.passages:,} passages: {result}", flush=True)
        small = (
            result
            if args.passages == 10_000
            else measure(10_000, Path(tmp), args.index_type, args.real_encode)
        )
        if small is not result:
            print(f"10,000 passages: {small}", flush=True)
    result["p50_ms_10k"] = small["p50_ms"]
    result["p50_ratio"] = round(result["p50_ms"] / small["p50_ms"], 2)
    result["p50_retrieval_ms_10k"] = small["p50_retrieval_ms"]
    result["p50_retrieval_ratio"] = round(result["p50_retrieval_ms"] / small["p50_retrieval_ms"], 2)
    print(json.dumps(result) if args.json else result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
