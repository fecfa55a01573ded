"""Answer quality on public benchmarks, measured through the product itself.

Runs ``qabot index`` and ``qabot eval --qrels`` (the commands a user would run, with the
product's defaults) on the StackFAQ test block, the SciFact test split and the DoQA and
OR-ShARC test blocks (`bench.data.benchmarks`), then prints the figures beside the published
ones as a Markdown table, with each run's ECE.

    .venv/bin/python -m bench.quality                   # both, indexes rebuilt (SciFact ~5+ min)
    .venv/bin/python -m bench.quality --reuse           # keep indexes already built
    .venv/bin/python -m bench.quality --only stackfaq   # just one benchmark
    .venv/bin/python -m bench.quality --backend torch   # another backend than the default

The quality gate of the backends (how much ONNX and int8 lose against torch, and which layers
int8 hurts) is `bench.onnx_quality`: the same path in one process, vectors cached.

StackFAQ is scored with ``qrels_pairs.tsv``: every FAQ pair of the gold thread counts, so Hit@1
equals the published thread-level Hit@1, while MRR@10 counts pairs (not distinct threads) and
can only be lower than the thread-level figure.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.data import ARTIFACTS, benchmarks


@dataclass(frozen=True)
class Benchmark:
    """One benchmark: its files (relative to the benchmarks folder) and the published figures."""

    name: str
    corpus: str
    questions: str
    qrels: str
    where: tuple[str, ...]
    metrics: tuple[str, ...]
    published: tuple[tuple[str, dict[str, float]], ...]


BENCHMARKS_RUN = (
    Benchmark(
        name="stackfaq",
        corpus="stackfaq/faq_pairs.jsonl",
        questions="stackfaq/queries.jsonl",
        qrels="stackfaq/qrels_pairs.tsv",
        where=("block=1",),
        metrics=("hit@1", "mrr@10", "ndcg@10", "recall@100"),
        published=(
            ("BM25 (bm25s) on question+answer", {"hit@1": 0.712, "mrr@10": 0.810}),
            ("MiniLM cosine, query vs FAQ question", {"hit@1": 0.954, "mrr@10": 0.973}),
            ("MiniLM cosine, max(question, question+answer)", {"hit@1": 0.962, "mrr@10": 0.977}),
            ("naive reciprocal-rank fusion of the three", {"hit@1": 0.946, "mrr@10": 0.968}),
        ),
    ),
    Benchmark(
        name="scifact",
        corpus="scifact/corpus.jsonl.gz",
        questions="scifact/queries.jsonl",
        qrels="scifact/qrels/test.tsv",
        where=(),
        metrics=("ndcg@10", "recall@100", "hit@1", "mrr@10"),
        published=(
            ("all-MiniLM-L6-v2 (MTEB)", {"ndcg@10": 0.645}),
            ("BM25, Anserini flat", {"ndcg@10": 0.679, "recall@100": 0.925}),
            ("BM25, BEIR paper", {"ndcg@10": 0.665, "recall@100": 0.908}),
        ),
    ),
    Benchmark(
        name="doqa",
        corpus="doqa/faqs.jsonl",
        questions="doqa/queries.jsonl",
        qrels="doqa/qrels.tsv",
        where=("block=1",),
        metrics=("hit@1", "mrr@10", "ndcg@10", "recall@100"),
        published=(("BM25 on question + answer (all queries)", {"mrr@10": 0.866}),),
    ),
    Benchmark(
        name="orsharc",
        corpus="orsharc/corpus",
        questions="orsharc/queries.jsonl",
        qrels="orsharc/qrels.tsv",
        where=("block=1",),
        metrics=("hit@1", "mrr@10", "ndcg@10", "recall@100"),
        published=(("BM25 on heading + text (all queries)", {"mrr@10": 0.758}),),
    ),
)


def run(
    benchmark: Benchmark,
    source: Path,
    work: Path,
    qabot: Path,
    reuse: bool,
    backend: str | None = None,
) -> dict:
    """Index (unless reusing) and evaluate one benchmark; returns its report.json plus timings."""
    index_dir = work / benchmark.name
    report_dir = work / f"{benchmark.name}-report"
    corpus = source / benchmark.corpus
    indexed_in = None
    if not (reuse and (index_dir / "manifest.json").is_file()):
        started = time.perf_counter()
        chosen = ["--backend", backend] if backend else []
        call([qabot, "index", corpus, "--index-dir", index_dir, *chosen])
        indexed_in = time.perf_counter() - started
    command = [qabot, "eval", source / benchmark.questions, "--qrels", source / benchmark.qrels]
    for condition in benchmark.where:
        command += ["--where", condition]
    command += ["--corpus", corpus, "--index-dir", index_dir, "--report-dir", report_dir]
    call(command)
    report = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    report["indexed_in"] = indexed_in
    return report


def table(results: dict[str, dict]) -> str:
    """The Markdown table of measured figures beside the published ones."""
    lines = []
    for benchmark in BENCHMARKS_RUN:
        report = results.get(benchmark.name)
        if report is None:
            continue
        metrics = report["metrics"]
        lines += [
            f"**{benchmark.name}** — {metrics['questions']} test questions, "
            f"{report['index']['documents']} documents ({report['index']['passages']} passages, "
            f"{report['index']['faq_entries']} FAQ entries), "
            f"backend {report['index'].get('backend', 'torch')}, "
            f"{metrics['questions-per-second']:.0f} questions/s, "
            f"p50 {metrics['latency-p50-ms']:.0f} ms, p95 {metrics['latency-p95-ms']:.0f} ms, "
            f"ECE {metrics['ece']:.3f}"
            + (f", indexed in {report['indexed_in']:.0f} s" if report["indexed_in"] else ""),
            "",
            "| system | " + " | ".join(benchmark.metrics) + " |",
            "|---|" + "---|" * len(benchmark.metrics),
            "| **qabot (measured)** | "
            + " | ".join(f"**{metrics[m]:.3f}**" for m in benchmark.metrics)
            + " |",
        ]
        for system, figures in benchmark.published:
            cells = [f"{figures[m]:.3f}" if m in figures else "" for m in benchmark.metrics]
            lines.append(f"| {system} (published) | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--benchmarks", type=Path, help="benchmark data (default: bench.data's)")
    parser.add_argument(
        "--work-dir", type=Path, default=ARTIFACTS / "bench", help="indexes and reports"
    )
    parser.add_argument("--only", choices=[b.name for b in BENCHMARKS_RUN], action="append")
    parser.add_argument("--reuse", action="store_true", help="keep indexes already built")
    parser.add_argument(
        "--backend",
        choices=("torch", "onnx", "onnx-int8"),
        help="what runs the model (default: qabot's default); indexes go to WORK_DIR/BACKEND",
    )
    parser.add_argument(
        "--qabot", type=Path, default=Path(sys.executable).parent / "qabot", help="qabot command"
    )
    args = parser.parse_args(argv)
    results = {}
    for benchmark in BENCHMARKS_RUN:
        if args.only and benchmark.name not in args.only:
            continue
        print(f"== {benchmark.name}", file=sys.stderr, flush=True)
        work = args.work_dir / args.backend if args.backend else args.work_dir
        source = args.benchmarks or benchmarks()
        results[benchmark.name] = run(benchmark, source, work, args.qabot, args.reuse, args.backend)
    print(table(results))
    return 0


def call(command: list) -> None:
    """Run one command, echoing it; its output goes to stderr; stop on failure."""
    printable = " ".join(str(part) for part in command)
    print(f"$ {printable}", file=sys.stderr, flush=True)
    # The commands' own output goes to stderr, so stdout is only the table.
    completed = subprocess.run([str(part) for part in command], check=False, stdout=sys.stderr)
    if completed.returncode != 0:
        raise SystemExit(f"failed with status {completed.returncode}: {printable}")


if __name__ == "__main__":
    sys.exit(main())
