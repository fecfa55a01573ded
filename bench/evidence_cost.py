"""What grain evidence adds to one question's cost, against the bare model + FAISS.

On SciFact (the largest dev corpus: ~60k grain rows), one question at a time:

- bare:      encode the question, FAISS top-100 over the WHOLE + QUESTION rows (today's index)
- evidence:  gather the candidates' rows (all grains) from a plain matrix, per-grain max,
             fusion, margin and features (what `qabot.answering.evidence` adds per question)

    PYTHONPATH=src .venv/bin/python bench/evidence_cost.py
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from embed_cache import load_bench

from qabot.answering.evidence import DEFAULT_FUSION
from qabot.answering.features import absent_share, confidence_features, margin
from qabot.documents.grains import GRAIN_SENTENCE
from qabot.index.grains import gather_rows, grain_maxima, passage_offsets
from qabot.index.keyword import tokenize
from qabot.index.store import _faiss
from qabot.models.embedding import SentenceTransformerEmbedder

QUESTIONS = 100
CANDIDATES = 100


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="scifact", choices=("scifact", "stackfaq", "seed"))
    bench = load_bench(parser.parse_args(argv).corpus)
    embedder = SentenceTransformerEmbedder()
    faiss = _faiss()
    search_rows = np.flatnonzero(bench.row_grain != GRAIN_SENTENCE)
    index = faiss.IndexFlatIP(bench.row_vectors.shape[1])
    index.add(np.ascontiguousarray(bench.row_vectors[search_rows]))
    offsets = passage_offsets(bench.row_passage, len(bench.passages))
    is_faq = np.array([p.kind == "faq" for p in bench.passages])
    keys = [p.passage_id for p in bench.passages]
    questions = [q.text for q in bench.questions[:QUESTIONS]]
    embedder.embed_batch(questions[:2])  # warm up
    bare, extra = [], []
    for text in questions:
        started = time.perf_counter()
        vector = embedder.embed_batch([text])
        _, found = index.search(vector, CANDIDATES)
        middle = time.perf_counter()
        candidates = np.unique(bench.row_passage[search_rows[found[0]]])
        rows, owner = gather_rows(offsets, candidates)
        scores = bench.row_vectors[rows] @ vector[0]
        grains = grain_maxima(scores, owner, bench.row_grain[rows], len(candidates))
        keyword = np.zeros(len(candidates))  # BM25 is computed today already; not added cost
        fused = DEFAULT_FUSION.fuse(grains, is_faq[candidates], keyword)
        order = np.argsort(-fused)[:50]
        confidence_features(
            float(fused[order[0]]),
            margin(fused[order], [keys[candidates[i]] for i in order], 0),
            grains[order[0]],
            0.5,
            0.0,
            absent_share(tokenize([text])[0], bench.vocabulary),
        )
        ended = time.perf_counter()
        bare.append(middle - started)
        extra.append(ended - middle)
    bare_ms, extra_ms = 1000 * np.median(bare), 1000 * np.median(extra)
    rows_each = np.diff(offsets).mean()
    print(f"{bench.name}: {len(bench.passages)} passages, {len(bench.row_text)} grain rows")
    print(f"({rows_each:.1f} per passage), {len(search_rows)} rows searched by FAISS.")
    print(f"median of {len(questions)} questions, one at a time:")
    print(f"  bare encode + FAISS top-{CANDIDATES}: {bare_ms:.2f} ms")
    print(f"  grain evidence + fusion + features: {extra_ms:.2f} ms")
    print(f"  ratio: {(bare_ms + extra_ms) / bare_ms:.3f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
