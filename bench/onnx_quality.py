"""Quality gate of the ONNX backends (issue 10, point 3), measured through the product's own path.

Each backend builds its own indexes with ``qabot.index.build.build_index`` and answers through
``Retriever`` (hybrid dense + BM25 fusion, production defaults) and ``Answerer``:

- StackFAQ test block (624 questions), Hit@1 at thread level (pairs of the gold thread count);
- SciFact test split (300 claims), nDCG@10;
- the seed check set (eval/seed-check.jsonl): questions whose answer differs from torch's
  (eval/seed-dev.jsonl is shown beside it, not gated).

Gate: a backend passes when it loses at most 0.005 on both benchmarks and at most one seed
question against fp32 torch. Embeddings are cached under artifacts/onnx-cache/, so a second run only
pays for indexing and retrieval.

    .venv/bin/python -m bench.onnx_quality               # torch, onnx, onnx-int8
    .venv/bin/python -m bench.onnx_quality --variants    # + int8 quantisation variants
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.data import (
    ARTIFACTS,
    SEED_CHECK,
    SEED_CORPUS,
    SEED_DEV,
    benchmarks,
    scifact_abstracts,
    stackfaq_queries,
)
from qabot.models.onnx_export import CONFIG_FILE, INT8_FILE, Quantisation, export_onnx, quantise

CACHE = ARTIFACTS / "onnx-cache"
GATE_METRIC_LOSS = 0.005
GATE_SEED_CHANGES = 1
FFN_OUT = tuple(f"/model/encoder/layer.{n}/output/dense/MatMul" for n in range(6))
ATTN_OUT = tuple(f"/model/encoder/layer.{n}/attention/output/dense/MatMul" for n in range(6))
# int8 settings tried when --variants is given; "onnx-int8" is the export's default.
VARIANTS = {
    "int8-per-tensor": Quantisation(per_channel=False),
    "int8-per-channel-fp32-ffn-out": Quantisation(per_channel=True, nodes_to_exclude=FFN_OUT),
    "int8-per-channel-fp32-attn-out": Quantisation(per_channel=True, nodes_to_exclude=ATTN_OUT),
    "int8-per-channel-fp32-ffn-attn-out": Quantisation(
        per_channel=True, nodes_to_exclude=FFN_OUT + ATTN_OUT
    ),
}
SEED_SETS = {"seed": SEED_CHECK, "seed-dev": SEED_DEV}


class CachedEmbedder:
    """Wraps an embedder; each ``embed_batch`` result is kept on disk, keyed by backend + texts."""

    def __init__(self, inner, key: str, folder: Path = CACHE / "vectors") -> None:
        self.inner, self.key, self.vectors_folder = inner, key, folder
        self.name, self.dimension = inner.name, inner.dimension
        self.backend, self.folder = inner.backend, inner.folder
        self.progress = False

    def embed_batch(
        self, texts: Sequence[str], *, progress: bool = False, role: str = "document"
    ) -> np.ndarray:
        digest = hashlib.sha256("\x00".join([self.key, role, *texts]).encode()).hexdigest()[:24]
        path = self.vectors_folder / f"{self.key}-{digest}.npy"
        if path.is_file():
            return np.load(path)
        vectors = self.inner.embed_batch(texts, progress=progress, role=role)
        self.vectors_folder.mkdir(parents=True, exist_ok=True)
        np.save(path, vectors)
        return vectors


def onnx_folder(variant: str | None = None) -> Path:
    """The bundled model exported once into the cache; a variant re-quantises a copy of it."""
    from qabot.models.embedding import DEFAULT_MODEL, bundled_model_path

    base = CACHE / "minilm"
    if not (base / CONFIG_FILE).is_file():
        started = time.perf_counter()
        export_onnx(bundled_model_path(), base, name=DEFAULT_MODEL)
        print(f"exported in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    if variant is None:
        return base
    folder = CACHE / f"minilm-{variant}"
    if not (folder / INT8_FILE).is_file():
        folder.mkdir(parents=True, exist_ok=True)
        for path in base.iterdir():
            if path.name != INT8_FILE:
                shutil.copyfile(path, folder / path.name)
        quantise(base / "model.onnx", folder / INT8_FILE, VARIANTS[variant])
    return folder


def make_backend(backend: str, threads: int | None = None):
    """An embedder by backend name: torch, onnx, onnx-int8 or one of `VARIANTS`."""
    if backend == "torch":
        from qabot.models.embedding import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder()
    from qabot.models.onnx_embedder import OnnxEmbedder

    if backend in ("onnx", "onnx-int8"):
        return OnnxEmbedder(onnx_folder(), quantized=backend == "onnx-int8", threads=threads)
    if backend == FUSED:
        return OnnxEmbedder(fused_folder(), threads=threads)
    return OnnxEmbedder(onnx_folder(backend), quantized=True, threads=threads)


FUSED = "onnx-fused"


def fused_folder() -> Path:
    """The fp32 export with onnxruntime's transformer graph fusions applied offline (fused
    attention, skip layer norm, bias GELU, embedding layer norm): a candidate for speed only."""
    from onnxruntime.transformers import optimizer

    from qabot.models.embedding import bundled_model_path

    base, folder = onnx_folder(), CACHE / f"minilm-{FUSED}"
    if not (folder / "model.onnx").is_file():
        folder.mkdir(parents=True, exist_ok=True)
        for path in base.iterdir():
            if path.name not in ("model.onnx", INT8_FILE):
                shutil.copyfile(path, folder / path.name)
        shape = json.loads((bundled_model_path() / "config.json").read_text(encoding="utf-8"))
        model = optimizer.optimize_model(
            str(base / "model.onnx"),
            model_type="bert",
            num_heads=int(shape["num_attention_heads"]),
            hidden_size=int(shape["hidden_size"]),
            opt_level=1,
        )
        model.save_model_to_file(str(folder / "model.onnx"))
    return folder


PARTS = ("stackfaq", "seed", "scifact")
_RUNS = {
    "stackfaq": ("stackfaq/faq_pairs.jsonl", "stackfaq/queries.jsonl",
                 "stackfaq/qrels_pairs.tsv", {"block": "1"}, "hit@1"),
    "scifact": ("scifact/corpus.jsonl.gz", "scifact/queries.jsonl",
                "scifact/qrels/test.tsv", None, "ndcg@10"),
}  # fmt: skip


def measure(backend: str, work: Path, parts: Sequence[str] = PARTS) -> dict:
    """StackFAQ hit@1, SciFact nDCG@10 and the seed answers of one backend (the parts asked)."""
    from qabot.answering.answerer import Answerer
    from qabot.answering.retrieval import Retriever
    from qabot.evaluation import evaluate, load_question_set
    from qabot.evaluation.questionsets import read_qrels, resolve_gold
    from qabot.index.build import build_index

    embedder = CachedEmbedder(make_backend(backend), backend)
    data = benchmarks()
    figures: dict = {}
    for name in (p for p in parts if p in _RUNS):
        corpus, questions, qrels, where, metric = _RUNS[name]
        index = build_index(data / corpus, work / f"{name}-{backend}", embedder)
        answerer = Answerer(Retriever(index, embedder))
        cases, _ = load_question_set(data / questions, qrels=read_qrels(data / qrels), where=where)
        cases, _ = resolve_gold(cases, index.passages)  # document ids -> passage ids
        report = evaluate(answerer, cases, latency_sample=0)
        figures[metric] = report.metrics[metric]
    if "seed" not in parts:
        return figures
    index = build_index(SEED_CORPUS, work / f"seed-{backend}", embedder)
    answerer = Answerer(Retriever(index, embedder))
    for key, path in SEED_SETS.items():
        cases, _ = resolve_gold(load_question_set(path)[0], index.passages)
        answers = answerer.answer_batch([case.question for case in cases])
        figures[key] = [[a.found, a.passage_id] for a in answers]
        figures[f"{key}-hit@1"] = evaluate(answerer, cases, latency_sample=0).metrics["hit@1"]
    return figures


def cosines(backends: Sequence[str]) -> str:
    """Cosine of each backend's vectors with torch's: 150 StackFAQ questions, 100 abstracts."""
    texts = [row["text"] for row in stackfaq_queries()[:150]] + scifact_abstracts(100)
    base = CachedEmbedder(make_backend("torch"), "torch").embed_batch(texts)
    out = [
        "| backend | min cosine | mean | questions mean | abstracts mean |",
        "|---|---|---|---|---|",
    ]
    for backend in backends:
        both = (CachedEmbedder(make_backend(backend), backend).embed_batch(texts) * base).sum(1)
        out.append(
            f"| {backend} | {both.min():.4f} | {both.mean():.4f} | {both[:150].mean():.4f} | "
            f"{both[150:].mean():.4f} |"
        )
    return "\n".join(out)


def table(results: dict[str, dict]) -> tuple[str, dict[str, bool]]:
    """The Markdown gate table against torch, and each backend's verdict (parts not run: —)."""
    base = results["torch"]
    lines = [
        "| backend | StackFAQ test hit@1 | Δ | SciFact test nDCG@10 | Δ | seed-check hit@1 "
        "| seed-check answers ≠ torch | seed-dev answers ≠ torch | gate |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    verdicts = {}
    for backend, figures in results.items():
        cells, passed = [], True
        for metric in ("hit@1", "ndcg@10"):
            if metric in figures and metric in base:
                delta = figures[metric] - base[metric]
                passed = passed and delta >= -GATE_METRIC_LOSS
                cells += [f"{figures[metric]:.4f}", f"{delta:+.4f}"]
            else:
                cells += ["—", "—"]
        cells.append(f"{figures['seed-hit@1']:.3f}" if "seed-hit@1" in figures else "—")
        for key in SEED_SETS:
            if key in figures and key in base:
                changed = sum(a != b for a, b in zip(figures[key], base[key], strict=True))
                passed = passed and (key != "seed" or changed <= GATE_SEED_CHANGES)
                cells.append(f"{changed} / {len(base[key])}")
            else:
                cells.append("—")
        complete = all(k in figures for k in ("hit@1", "ndcg@10", "seed"))
        verdicts[backend] = passed and complete
        verdict = (
            ("pass" if passed else "FAIL")
            if complete
            else ("(so far) " + ("pass" if passed else "FAIL"))
        )
        lines.append(f"| {backend} | " + " | ".join(cells) + f" | {verdict} |")
    return "\n".join(lines), verdicts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", action="store_true", help="also try int8 variants")
    parser.add_argument("--work-dir", type=Path, default=CACHE / "indexes")
    parser.add_argument("--cosines", action="store_true", help="vector agreement only")
    parser.add_argument(
        "--only", nargs="+", help="measure just these backends (a table when torch is one)"
    )
    parser.add_argument(
        "--parts", nargs="+", choices=PARTS, default=list(PARTS), help="what to measure"
    )
    parser.add_argument(
        "--table", action="store_true", help="print the table of the figures stored so far"
    )
    args = parser.parse_args(argv)
    backends = args.only or ["torch", "onnx", "onnx-int8", *(VARIANTS if args.variants else ())]
    if args.cosines:
        print(cosines([b for b in backends if b != "torch"]))
        return 0
    for backend in [] if args.table else backends:
        started = time.perf_counter()
        figures = measure(backend, args.work_dir, args.parts)
        _store(backend, figures)
        shown = {k: v for k, v in figures.items() if not isinstance(v, list)}
        print(
            f"{backend}: {shown} ({time.perf_counter() - started:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
    results = {b: _stored(b) for b in backends if _stored(b)}
    if "torch" not in results:
        return 0  # nothing to compare with: the run only filled the cache
    text, _ = table(results)
    print(text)
    return 0


def _store(backend: str, figures: dict) -> None:
    """Merge a run's figures into the backend's stored ones (parts are measured separately)."""
    path = CACHE / "figures" / f"{backend}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**_stored(backend), **figures}), encoding="utf-8")


def _stored(backend: str) -> dict:
    path = CACHE / "figures" / f"{backend}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


if __name__ == "__main__":
    sys.exit(main())
