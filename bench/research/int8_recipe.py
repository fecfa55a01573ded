"""Which MatMuls to keep in fp32 when quantising to int8: chosen on dev data only.

Found (``bench/research/int8-recipe.md``): no recipe up to half the weights in fp32 keeps the
seed dev answers within one change of fp32, and by then most of int8's speed is gone, so fp32
ONNX stays the default and ``onnx-int8`` quantises every weight MatMul.

1. Sensitivity: each weight MatMul is quantised alone (dynamic int8, per channel) and the mean
   1 - cosine of the vectors against fp32 is measured on dev texts (StackFAQ questions outside
   the test block, the seed dev questions, the seed corpus's grain texts, 150 StackFAQ entries).
2. Nodes are ranked by harm per weight (sensitivity / parameters), and recipes that keep the
   top k of them in fp32 are built for increasing k.
3. Each recipe: mean 1 - cosine on the dev texts, the seed dev answers that differ from fp32
   (``eval/seed-dev.jsonl``; the gate's bound is one), and its speed against fp32 ONNX in the
   same process (single-question p50, batched texts/s; rounds interleaved).

The recipe chosen is the smallest k whose dev answers differ in at most one question. The
gate itself (StackFAQ test, SciFact test, seed check) is then run once by `bench.onnx_quality`.

    .venv/bin/python -m bench.research.int8_recipe [--ks 0 2 4 6 8 10 12]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench import onnx_quality
from bench.data import (
    SEED_CORPUS,
    SEED_DEV,
    benchmarks,
    read_jsonl,
    seed_questions,
    stackfaq_queries,
)
from bench.onnx_quality import onnx_folder
from bench.onnx_speed import questions as stackfaq_questions
from bench.onnx_speed import time_embedders
from qabot.models.onnx_embedder import OnnxEmbedder
from qabot.models.onnx_export import Quantisation, quantise


def dev_texts() -> tuple[list[str], list[str]]:
    """Dev questions and dev documents (no test block, no seed check question)."""
    from qabot.documents.chunking import chunk_documents
    from qabot.documents.corpus import load_corpus

    rows = stackfaq_queries()
    questions = [r["text"] for r in rows if str(r.get("block")) != "1"][::4][:300]
    questions += seed_questions(SEED_DEV)
    passages = chunk_documents(load_corpus(SEED_CORPUS).documents)
    entries = read_jsonl(benchmarks() / "stackfaq" / "faq_pairs.jsonl")
    documents = [text for p in passages for _, text in p.grain_texts()]
    documents += [f"{e['question']} {e['answer']}" for e in entries[::5][:150]]
    return questions, documents


def weight_matmuls(model_path: Path) -> dict[str, int]:
    """Each MatMul/Gemm with a weight initializer, and its number of parameters."""
    import onnx

    model = onnx.load(str(model_path))
    sizes = {i.name: int(np.prod(i.dims)) for i in model.graph.initializer}
    return {
        node.name: max(sizes[i] for i in node.input if i in sizes)
        for node in model.graph.node
        if node.op_type in ("MatMul", "Gemm") and any(i in sizes for i in node.input)
    }


class Vectors:
    """Dev-text vectors of an ONNX file, and their mean 1 - cosine against fp32's."""

    def __init__(self, folder: Path, questions: list[str], documents: list[str]) -> None:
        self.folder, self.questions, self.documents = folder, questions, documents
        self.reference = self.of(OnnxEmbedder(folder))

    def of(self, embedder: OnnxEmbedder) -> np.ndarray:
        return np.r_[
            embedder.embed_batch(self.questions, role="query"),
            embedder.embed_batch(self.documents),
        ]

    def error(self, int8_file: Path) -> float:
        embedder = OnnxEmbedder(self.folder)
        embedder.session = _session(int8_file)
        return float((1 - (self.of(embedder) * self.reference).sum(1)).mean())


def _session(path: Path):
    import onnxruntime

    from qabot.models.onnx_embedder import machine_threads, session_options

    options = session_options(onnxruntime, machine_threads())
    return onnxruntime.InferenceSession(str(path), options, ["CPUExecutionProvider"])


def speed(files: dict[str, Path], folder: Path, rounds: int) -> dict[str, tuple[float, float]]:
    """Single-question p50 ms and batched texts/s per file, rounds interleaved."""
    embedders = {}
    for name, file in files.items():
        embedders[name] = OnnxEmbedder(folder)
        embedders[name].session = _session(file)
    figures = time_embedders(embedders, stackfaq_questions(), rounds, singles=100)
    return {name: (f["p50 ms"], f["texts/s"]) for name, f in figures.items()}


def seed_dev_changes(name: str, quantisation: Quantisation, work: Path) -> int:
    """Seed dev answers (found, passage) that differ from fp32 ONNX's (= torch's)."""
    onnx_quality.VARIANTS[name] = quantisation
    base = onnx_quality.measure("onnx", work, ["seed"])["seed-dev"]
    mine = onnx_quality.measure(name, work, ["seed"])["seed-dev"]
    return sum(a != b for a, b in zip(mine, base, strict=True))


def print_recipes(rows: dict[str, tuple], figures: dict[str, tuple[float, float]]) -> None:
    """The Markdown table of the recipes against fp32: error, seed-dev changes, speed."""
    base_single, base_batched = figures["fp32"]
    print(
        "\n| recipe | weights kept fp32 | dev 1 - cos | seed-dev answers ≠ fp32 | single p50 ms "
        "| × fp32 | batched texts/s | × fp32 |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print(f"| fp32 | 100 % | 0 | 0 | {base_single:.2f} | 1.00 | {base_batched:.0f} | 1.00 |")
    for name, (kept, error, changes) in rows.items():
        single, batched = figures[name]
        print(
            f"| int8 {name} | {kept:.0%} | {error:.5f} | {changes} | {single:.2f} | "
            f"{single / base_single:.2f} | {batched:.0f} | {batched / base_batched:.2f} |"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ks", nargs="+", type=int, default=[0, 2, 4, 6, 8, 10, 12])
    parser.add_argument("--rounds", type=int, default=3, help="speed rounds")
    args = parser.parse_args(argv)
    folder = onnx_folder()
    fp32 = folder / "model.onnx"
    nodes = weight_matmuls(fp32)
    questions, documents = dev_texts()
    vectors = Vectors(folder, questions, documents)
    print(f"{len(questions)} dev questions, {len(documents)} dev documents", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        harm = {}
        for node in nodes:
            only = work / "only.onnx"
            others = tuple(n for n in nodes if n != node)
            quantise(fp32, only, Quantisation(nodes_to_exclude=others))
            harm[node] = vectors.error(only)
        ranked = sorted(nodes, key=lambda n: harm[n] / nodes[n], reverse=True)
        print("\n| node | parameters | 1 - cos, quantised alone | per million parameters |")
        print("|---|---|---|---|")
        for node in ranked:
            print(
                f"| {node} | {nodes[node]:,} | {harm[node]:.6f} | {harm[node] / nodes[node] * 1e6:.5f} |"
            )
        files, rows = {"fp32": fp32}, {}
        for k in args.ks:
            recipe = Quantisation(nodes_to_exclude=tuple(ranked[:k]))
            file = work / f"k{k}.onnx"
            quantise(fp32, file, recipe)
            files[f"k={k}"] = file
            kept = sum(nodes[n] for n in ranked[:k]) / sum(nodes.values())
            # Named by its node list: the stored vectors of one recipe never serve another.
            tag = hashlib.sha256("\n".join(ranked[:k]).encode()).hexdigest()[:8]
            changes = seed_dev_changes(f"int8-dev-{tag}", recipe, work / "indexes")
            rows[f"k={k}"] = (kept, vectors.error(file), changes)
            print(f"k={k}: {rows[f'k={k}']}", file=sys.stderr, flush=True)
        figures = speed(files, folder, args.rounds)
    print_recipes(rows, figures)
    chosen = next((name for name, row in rows.items() if row[2] <= 1), None)
    print(f"\nchosen (fewest fp32 nodes with at most one seed-dev answer changed): {chosen}")
    if chosen:
        k = int(chosen.split("=")[1])
        print(json.dumps({"nodes_to_exclude": ranked[:k]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
