"""Incremental builds: a full build of 400 generated documents against the rebuild after editing
one and removing another, measured in the same run with the real model.

    .venv/bin/python -m bench.incremental              # figures as Markdown
    .venv/bin/python -m bench.incremental --ray        # and Ray beside local

The rebuild reuses the embedding cache the full build filled (``index/cache``); the check is
that it equals a full build of the edited corpus without a cache (same passage ids; vectors
equal up to the batch-padding noise of the model, reported). With ``--ray`` the full build's
texts are also embedded on a local Ray with 2 workers, and both throughputs reported.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from qabot.documents.corpus import corpus_fingerprint
from qabot.documents.digest_memo import remembered_fingerprint
from qabot.index.build import build_index, check_fresh
from qabot.index.grains import grain_rows
from qabot.models.embedding import SentenceTransformerEmbedder

TOPICS = ("billing", "shipping", "accounts", "security", "returns", "warranty", "support", "api")
WORDS = [
    "customer",
    "order",
    "invoice",
    "payment",
    "refund",
    "parcel",
    "courier",
    "password",
    "login",
    "token",
    "device",
    "report",
    "update",
    "schedule",
    "contract",
    "service",
    "product",
    "request",
    "limit",
    "region",
    "team",
    "policy",
    "renewal",
    "discount",
    "address",
    "label",
    "tracking",
    "backup",
    "storage",
    "network",
    "upgrade",
    "feature",
]


def make_corpus(folder: Path, documents: int, seed: int = 0) -> None:
    """``documents`` text files of three or four paragraphs of two to four sentences each."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(documents):
        topic = TOPICS[n % len(TOPICS)]
        paragraphs = []
        for p in range(rng.randint(3, 4)):
            sentences = [
                f"The {topic} {rng.choice(WORDS)} {n}-{p}-{s} covers the "
                + " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14)))
                + "."
                for s in range(rng.randint(2, 4))
            ]
            paragraphs.append(" ".join(sentences))
        (folder / f"doc{n:04d}.txt").write_text("\n\n".join(paragraphs), encoding="utf-8")


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=400)
    parser.add_argument("--ray", action="store_true", help="also embed on a local Ray (2 workers)")
    args = parser.parse_args(argv)
    embedder = SentenceTransformerEmbedder()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        corpus = work / "corpus"
        make_corpus(corpus, args.documents)
        full, full_s = timed(build_index, corpus, work / "index", embedder)
        rows = len(full.store)
        edited = corpus / "doc0007.txt"
        edited.write_text(edited.read_text(encoding="utf-8") + " One more sentence.", "utf-8")
        (corpus / "doc0123.txt").unlink()
        rebuilt, rebuild_s = timed(build_index, corpus, work / "index", embedder)
        reference, reference_s = timed(
            build_index, corpus, work / "reference", embedder, cache_dir=None
        )
        same_ids = rebuilt.store.passage_ids == reference.store.passage_ids
        drift = float(np.abs(np.asarray(rebuilt.store.vectors) - reference.store.vectors).max())
        _, first_check = timed(check_fresh, rebuilt.manifest, corpus, index_dir=work / "index")
        _, memo_check = timed(check_fresh, rebuilt.manifest, corpus, index_dir=work / "index")
        _, plain_check = timed(check_fresh, rebuilt.manifest, corpus)
        lines = [
            f"{args.documents} generated documents, {len(full.passages)} passages, {rows} grain "
            f"rows; model {embedder.name} on this machine's CPU.",
            "",
            "| build | seconds | × full |",
            "|---|---|---|",
            f"| full (empty cache) | {full_s:.1f} | 1.00 |",
            f"| rebuild after editing 1 and removing 1 | {rebuild_s:.1f} "
            f"| **{rebuild_s / full_s:.3f}** |",
            f"| full build of the edited corpus, no cache | {reference_s:.1f} "
            f"| {reference_s / full_s:.2f} |",
            "",
            f"Rebuild equals the full build of the edited corpus: same passage ids: {same_ids}; "
            f"largest vector difference {drift:.1e} (the model's batch-padding noise: a text "
            "embedded in another batch).",
            "",
            f"Freshness check (`check_fresh`): {plain_check * 1000:.1f} ms hashing every file, "
            f"{first_check * 1000:.1f} ms filling the memo, {memo_check * 1000:.1f} ms with it.",
        ]
        lines += ["", fingerprint_times(work / "big")]
        if args.ray:
            lines += ["", ray_throughput(embedder, full.passages)]
    print("\n".join(lines))
    return 0


def fingerprint_times(folder: Path, files: int = 50, megabytes: int = 4) -> str:
    """The freshness check of a corpus of big files: hashing every byte, and with the memo."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    for n in range(files):
        words = rng.choice(WORDS, size=megabytes * 2**20 // 8)
        (folder / f"big{n}.txt").write_text(" ".join(words), encoding="utf-8")
    settled = time.time() - 60  # as files are when a later check comes
    for file in folder.iterdir():
        os.utime(file, (settled, settled))
    memo = folder.parent / "memo.json"
    _, plain = timed(corpus_fingerprint, folder)
    _, filling = timed(remembered_fingerprint, folder, memo)
    _, remembered = timed(remembered_fingerprint, folder, memo)
    size = sum(f.stat().st_size for f in folder.iterdir()) / 2**20
    return (
        f"On {files} files of {size / files:.0f} MB ({size:.0f} MB): {plain * 1000:.0f} ms hashing "
        f"every byte, {filling * 1000:.0f} ms filling the memo, {remembered * 1000:.1f} ms with it."
    )


def ray_throughput(embedder: SentenceTransformerEmbedder, passages) -> str:
    """Texts per second embedding the corpus's grain rows locally and on a 2-worker local Ray."""
    import ray

    from qabot.models.ray_embedding import RayEmbedder

    texts = list(dict.fromkeys(grain_rows(passages)[2]))
    _, local_s = timed(embedder.embed_batch, texts)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    distributed = RayEmbedder(embedder.name, dimension=embedder.dimension, workers=2)
    _, ray_s = timed(distributed.embed_batch, texts)  # actors' model loading included
    ray.shutdown()
    return (
        f"Embedding {len(texts)} texts: local {len(texts) / local_s:.0f} texts/s, "
        f"Ray (2 local workers, 1 thread each, model loading included) "
        f"{len(texts) / ray_s:.0f} texts/s."
    )


if __name__ == "__main__":
    sys.exit(main())
