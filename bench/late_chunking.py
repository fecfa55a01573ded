"""Late-chunked sentence rows against sentences embedded alone, on the five dev corpora.

Each dev corpus's rows as `bench.dev_corpora` caches them (the bundled model on torch), then
the same rows with every pooled sentence row replaced by its late-chunked vector
(`qabot.index.late_chunking`: one fp32 ONNX pass over the passage's whole row). Both are
ranked with the fusion the product would choose for the corpus (its profile measured on the
rows it has) and scored as `bench.adaptive_fusion` does: hit@1 (SciFact: nDCG@10) and MRR@10.
Late vectors are cached in ``artifacts/quality-cache/`` (``<corpus>-late-<digest>.npy``).

    .venv/bin/python -m bench.late_chunking > bench/results/late-chunking.md
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.adaptive_fusion import mrr10
from bench.data import DEV_NAMES
from bench.dev_corpora import CACHE, Bench, load_bench
from bench.fusion_search import evidence_arrays, metric, right_first
from bench.provenance import produced_by
from qabot.index.late_chunking import late_groups, pooled_vectors


def late_bench(bench: Bench, embedder) -> tuple[Bench, int, float]:
    """``bench`` with its pooled sentence rows late-chunked; (bench, rows replaced, seconds)."""
    texts = bench.row_text
    groups = late_groups(texts, bench.row_passage, bench.row_grain)
    rows = [r for g in groups for r in g.sentence_rows]
    digest = hashlib.sha256("\x1f".join(texts).encode()).hexdigest()[:16]
    path = CACHE / f"{bench.name}-late-{digest}.npy"
    started = time.perf_counter()
    if path.is_file():
        sentences = np.load(path)
    else:
        _, sentences = pooled_vectors(texts, groups, embedder)
        CACHE.mkdir(parents=True, exist_ok=True)
        np.save(path, sentences)
    seconds = time.perf_counter() - started
    vectors = bench.row_vectors.copy()
    good = ~np.isnan(sentences).any(axis=1)  # cut off by truncation: the row embedded alone
    vectors[np.asarray(rows, dtype=np.int64)[good]] = sentences[good]
    return replace(bench, row_vectors=vectors), int(good.sum()), seconds


def figures(bench: Bench) -> tuple[float, float, np.ndarray]:
    """(hit@1 or nDCG@10, MRR@10, per question: top passage right) with the product's fusion."""
    arrays = evidence_arrays(bench)
    fusion = bench.fusion()
    fused = fusion.fuse(arrays.grains, arrays.is_faq, arrays.keyword)
    return metric(arrays, fused), mrr10(arrays, fusion), right_first(arrays, fused)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", nargs="+", choices=DEV_NAMES, default=list(DEV_NAMES))
    args = parser.parse_args(argv)
    from qabot.models.backends import exported_folder
    from qabot.models.onnx_embedder import OnnxEmbedder

    cache = Path(os.environ.get("QABOT_CACHE") or Path.home() / ".cache" / "qabot")
    embedder = OnnxEmbedder(exported_folder("all-MiniLM-L6-v2", cache))
    print("# Late chunking: sentence rows pooled from their passage's pass (dev corpora)\n")
    print(produced_by("bench.late_chunking", argv) + "\n")
    print("Cells: hit@1 (SciFact train: nDCG@10) / MRR@10 with the fusion the product chooses;")
    print("changed = dev questions whose top passage turns right (+) or wrong (−).\n")
    print("| corpus | sentence rows | pooled | rows (alone) | late chunking | change | changed |")
    print("|---|---|---|---|---|---|---|")
    for name in args.corpora:
        bench = load_bench(name)
        late, pooled, seconds = late_bench(bench, embedder)
        before, after = figures(bench), figures(late)
        won = int((after[2] & ~before[2]).sum())
        lost = int((before[2] & ~after[2]).sum())
        sentences = int((bench.row_grain == 2).sum())
        print(
            f"| {name} | {sentences} | {pooled} | {before[0]:.3f} / {before[1]:.3f} | "
            f"{after[0]:.3f} / {after[1]:.3f} | {after[0] - before[0]:+.3f} / "
            f"{after[1] - before[1]:+.3f} | +{won} −{lost} |",
            flush=True,
        )
        print(f"{name}: pooled {pooled} sentence rows in {seconds:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
