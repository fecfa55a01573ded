"""Training pairs for the verifier from qabot's own retrieval on the dev splits.

For each dev question of StackFAQ (block 0), SciFact (train) and the seed dev half, its best
``--top`` candidates under the shipped fusion become (question, text) pairs: label 1 when the
candidate is gold, else 0 (every candidate of an unanswerable seed question is 0). The text is
what the verifier would read of the whole candidate (`qabot.answering.verification.verifier_text`:
an FAQ entry with its question first). Dev splits only: never a test block or the check half.

These are the pairs issue 18 asks the verifier to learn from besides SQuAD: FAQ answers and
claims, where the SQuAD-only verifier doubts right answers (``docs/benchmarks.md``).

    .venv/bin/python -m bench.verifier_pairs              # writes training/data/dev_pairs.jsonl.gz
    .venv/bin/python training/train_verifier.py --extra-pairs training/data/dev_pairs.jsonl.gz ...
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from bench.data import ROOT
from bench.dev_corpora import load_bench
from bench.fusion_search import evidence_arrays
from qabot.answering.evidence import Fusion
from qabot.answering.verification import verifier_text

CORPORA = ("stackfaq", "scifact", "seed")
# The fixed formula of the release the pairs were made with (kept so that the file's bytes,
# recorded in its provenance, can be made again).
PAIRS_FUSION = Fusion(0.25, 0.25, 0.25, 0.25, 0.25, 0.25, faq_keyword=0.0, passage_keyword=0.4)
OUT = ROOT / "training" / "data" / "dev_pairs.jsonl.gz"


def dev_pairs(name: str, top: int) -> list[dict]:
    """The pairs of one dev corpus: each question with its ``top`` best fused candidates."""
    arrays = evidence_arrays(load_bench(name))
    bench = arrays.bench
    fused = PAIRS_FUSION.fuse(arrays.grains, arrays.is_faq, arrays.keyword)
    rows = []
    for q, question in enumerate(bench.questions):
        for n in np.argsort(-fused[q], kind="stable")[:top]:
            passage = bench.passages[int(n)]
            rows.append(
                {
                    "question": question.text,
                    "text": verifier_text(passage)[0],
                    "label": int(bench.gold_key[int(n)] in question.relevant),
                    "kind": f"dev-{name}",
                }
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--top", type=int, default=3, help="candidates per question")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    rows = [row for name in CORPORA for row in dev_pairs(name, args.top)]
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    args.out.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))  # the same bytes each run
    counts = Counter((row["kind"], row["label"]) for row in rows)
    for (kind, label), count in sorted(counts.items()):
        print(f"{kind} label {label}: {count}")
    print(f"wrote {len(rows)} pairs to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
