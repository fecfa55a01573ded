"""Where an index build's time goes, stage by stage, and its ratio to the bare passage encode.

The stages are the product's own functions, in `qabot.index.build.build_index`'s order: read
the corpus, chunk it into passages and grain rows, embed the rows (the transformer; the
tokeniser's share is timed on its own beside it), build the FAISS store, build the BM25
indexes, measure the profile, write the files (the ONNX model's copy and the checksums too). "Bare encode" is the same embedder over each
passage's whole row only (no sentence or question rows): what a framework that embeds one
vector per passage pays. Each ``--sentence-vectors`` mode is measured in the same run, so the
figures can be compared on a shared machine; no embedding cache is used.

    .venv/bin/python -m bench.build_stages --corpus seed
    .venv/bin/python -m bench.build_stages --corpus scifact --documents 1000
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from bench.data import ARTIFACTS, SEED_CORPUS, benchmarks
from bench.provenance import produced_by
from qabot.documents.chunking import chunk_documents, with_alternates
from qabot.documents.corpus import load_corpus
from qabot.documents.grains import GRAIN_WHOLE
from qabot.index.embed_cache import cached_embed
from qabot.index.folder import write_checksums
from qabot.index.grains import faq_question_index, grain_rows
from qabot.index.keyword import KeywordIndex
from qabot.index.late_chunking import SENTENCE_VECTORS, late_vectors
from qabot.index.profile import collection_profile
from qabot.index.store import VectorStore
from qabot.models.backends import save_model

STAGES = ("read", "chunk", "tokenise (alone)", "embed", "faiss", "bm25", "profile", "write")


def corpus_path(name: str, documents: int | None) -> Path:
    """The seed corpus, or SciFact (its first ``documents`` abstracts, copied once)."""
    if name == "seed":
        return SEED_CORPUS
    source = benchmarks() / "scifact" / "corpus.jsonl.gz"
    if documents is None:
        return source
    target = ARTIFACTS / "build-stages" / f"scifact-{documents}" / "corpus.jsonl.gz"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(source, "rt", encoding="utf-8") as rows:
            head = [row for _, row in zip(range(documents), rows, strict=False)]
        with gzip.open(target, "wt", encoding="utf-8") as out:
            out.writelines(head)
    return target


def stages(corpus: Path, embedder, mode: str) -> tuple[dict[str, float], dict[str, int]]:
    """Seconds per stage of one build of ``corpus`` (no cache), and the counts it embedded."""
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[stage] = now - clock
        clock = now

    loaded = load_corpus(corpus)
    lap("read")
    passages, _ = with_alternates(chunk_documents(loaded.documents), loaded.alternates)
    row_passage, row_grain, texts = grain_rows(passages)
    lap("chunk")
    embedder.tokenizer.encode_batch(list(dict.fromkeys(texts)))
    lap("tokenise (alone)")
    if mode == "late":
        vectors = late_vectors(texts, row_passage, row_grain, embedder, None)
    else:
        vectors = cached_embed(texts, embedder, None)
    lap("embed")
    ids = [p.passage_id for p in passages]
    store = VectorStore.build(ids, vectors, row_passage, row_grain)
    lap("faiss")
    keyword = KeywordIndex.build(ids, [p.keyword_text() for p in passages])
    faq = faq_question_index(passages)
    lap("bm25")
    collection_profile(vectors, row_passage, row_grain)
    lap("profile")
    with tempfile.TemporaryDirectory() as folder:
        store.save(Path(folder))
        keyword.save(Path(folder) / "keyword")
        if faq is not None:
            faq.save(Path(folder) / "faq")
        with open(Path(folder) / "passages.jsonl", "w", encoding="utf-8") as out:
            out.writelines(json.dumps(asdict(p), ensure_ascii=False) + "\n" for p in passages)
        save_model(embedder, Path(folder))  # the ONNX model travels with the index
        write_checksums(Path(folder))
    lap("write")
    counts = {"documents": len(loaded.documents), "passages": len(passages), "rows": len(texts)}
    return seconds, counts


def bare_encode(corpus: Path, embedder) -> tuple[float, int]:
    """Seconds to embed each passage's whole row alone, and how many there were."""
    loaded = load_corpus(corpus)
    passages, _ = with_alternates(chunk_documents(loaded.documents), loaded.alternates)
    _, row_grain, texts = grain_rows(passages)
    wholes = [t for t, g in zip(texts, row_grain, strict=True) if g == GRAIN_WHOLE]
    started = time.perf_counter()
    embedder.embed_batch(wholes)
    return time.perf_counter() - started, len(wholes)


def fastest(runs: list[tuple[dict[str, float], dict[str, int]]]):
    """Each stage's fastest time over repeated builds (a shared machine's noise only adds)."""
    return {stage: min(r[0][stage] for r in runs) for stage in STAGES}, runs[0][1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", choices=("seed", "scifact"), default="seed")
    parser.add_argument("--documents", type=int, help="SciFact: only its first N abstracts")
    parser.add_argument("--sentence-vectors", nargs="+", choices=SENTENCE_VECTORS,
                        default=list(SENTENCE_VECTORS))  # fmt: skip
    parser.add_argument("--batch-size", type=int, help="the embedder's batch (default: its own)")
    parser.add_argument("--repeat", type=int, default=1, help="builds per mode; the fastest counts")
    args = parser.parse_args(argv)
    from qabot.models.backends import exported_folder
    from qabot.models.onnx_embedder import OnnxEmbedder

    cache = Path(os.environ.get("QABOT_CACHE") or Path.home() / ".cache" / "qabot")
    embedder = OnnxEmbedder(exported_folder("all-MiniLM-L6-v2", cache))
    if args.batch_size:
        embedder.batch_size = args.batch_size
    corpus = corpus_path(args.corpus, args.documents)
    stages(SEED_CORPUS, embedder, "rows")  # warm-up: imports and first-call costs
    bare, wholes = min(bare_encode(corpus, embedder) for _ in range(args.repeat))
    runs = {
        mode: fastest([stages(corpus, embedder, mode) for _ in range(args.repeat)])
        for mode in args.sentence_vectors
    }
    counts = next(iter(runs.values()))[1]
    print(produced_by("bench.build_stages", argv) + "\n")
    print(
        f"{args.corpus}: {counts['documents']} documents, {counts['passages']} passages, "
        f"{counts['rows']} grain rows; backend onnx (fp32), {embedder.threads} threads, "
        f"batch {embedder.batch_size}; fastest of {args.repeat} per stage. Bare encode: {wholes} whole rows in {bare:.3f} s.\n"
    )
    print("| stage | " + " | ".join(f"sentence_vectors={m} (s)" for m in runs) + " |")
    print("|---|" + "---|" * len(runs))
    for stage in STAGES:
        print(f"| {stage} | " + " | ".join(f"{r[0][stage]:.3f}" for r in runs.values()) + " |")
    totals = {
        m: sum(v for k, v in r[0].items() if k != "tokenise (alone)") for m, r in runs.items()
    }
    print(
        "| **build (without tokenise alone)** | "
        + " | ".join(f"**{t:.3f}**" for t in totals.values())
        + " |"
    )
    print(
        "| build ÷ bare encode | " + " | ".join(f"{t / bare:.2f}×" for t in totals.values()) + " |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
