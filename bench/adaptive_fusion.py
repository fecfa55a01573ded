"""Choose the adaptive fusion's two formulas on the five dev corpora; print the table.

The product slides each index's FAQ weights between a question-led and an answer-led formula
by the index's profile (`qabot.answering.adaptive`, `qabot.index.profile`). This script
measures each dev corpus's profile with the product's own function, and searches the two
formulas (and the shared passage weights) for the smallest largest regret over the five dev
corpora, as ``bench/fusion_search.py`` does for one fixed formula: regret is a corpus's
shortfall against its own best fixed grid formula.

    .venv/bin/python -m bench.adaptive_fusion > bench/results/adaptive-fusion.md
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import astuple

import numpy as np

from bench.data import DEV_NAMES
from bench.dev_corpora import load_bench
from bench.fusion_search import Arrays, evidence_arrays, figures_at, fusion_of, grid, metric, search
from bench.provenance import produced_by
from qabot.answering import adaptive
from qabot.answering.evidence import Fusion
from qabot.index.profile import collection_profile

PREVIOUS = Fusion(0.25, 0.25, 0.25, 0.25, 0.25, 0.25, faq_keyword=0.0, passage_keyword=0.4)
"""The fixed formula of the release before adaptive ranking (kept for comparison)."""
KEEP = 40  # question-led candidates (with their passage weights) carried to the pair search


def blended(question_led: tuple, answer_led: tuple, passage: tuple, share: float) -> Fusion:
    """The fusion of two FAQ grid points and a passage grid point at ``share``, blended as the
    product blends its two formulas (`qabot.answering.adaptive.blend`)."""
    return adaptive.blend(share, fusion_of(question_led, passage), fusion_of(answer_led, passage))


def figure(arrays: Arrays, fusion: Fusion) -> float:
    return metric(arrays, fusion.fuse(arrays.grains, arrays.is_faq, arrays.keyword))


def mrr10(arrays: Arrays, fusion: Fusion) -> float:
    """MRR@10 over answerable questions, answers counted once (by their gold key)."""
    fused = fusion.fuse(arrays.grains, arrays.is_faq, arrays.keyword)
    key = arrays.bench.gold_key
    total, count = 0.0, 0
    for q, row in zip(arrays.bench.questions, fused, strict=True):
        if not q.relevant:
            continue
        seen: list[str] = []
        for i in np.argsort(-row, kind="stable")[:200]:
            if key[i] not in seen:
                seen.append(key[i])
            if len(seen) == 10:
                break
        rank = next((r for r, k in enumerate(seen) if k in q.relevant), None)
        total += 0.0 if rank is None else 1.0 / (rank + 1)
        count += 1
    return total / count


def choose(arrays: dict[str, Arrays], shares: dict[str, float], results: dict):
    """The (question-led, answer-led, passage) grid points with the smallest largest regret.

    A corpus at share 1 depends on the question-led formula only, one at share 0 on the
    answer-led one only: their figures are the fixed grid's (``results``). Only corpora in
    between are scored for each pair.
    """
    best = {k: max(v.values()) for k, v in results.items()}
    faq_grid, passage_grid = grid()

    def at(k: str, f: tuple, a: tuple, p: tuple) -> float:
        if shares[k] == 1.0 or not arrays[k].is_faq.any():
            return figures_at(results, f, p)[k]
        if shares[k] == 0.0:
            return figures_at(results, a, p)[k]
        return figure(arrays[k], blended(f, a, p, shares[k]))

    ones = [k for k in arrays if shares[k] == 1.0 or not arrays[k].is_faq.any()]
    first = sorted(
        (max((best[k] - figures_at(results, f, p)[k] for k in ones), default=0.0), f, p)
        for f in faq_grid
        for p in passage_grid
    )
    ranked = []
    for _, f, p in first[:KEEP]:
        for a in faq_grid:
            figures = {k: at(k, f, a, p) for k in arrays}
            regret = max(best[k] - figures[k] for k in figures)
            ranked.append((round(regret, 6), -sum(figures.values()), f, a, p))
    ranked.sort()
    return ranked[0][2:], best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", nargs="+", choices=DEV_NAMES, default=list(DEV_NAMES))
    names = parser.parse_args(argv).corpora
    benches = {name: load_bench(name) for name in names}
    arrays = {name: evidence_arrays(b) for name, b in benches.items()}
    profiles = {
        k: collection_profile(b.row_vectors, b.row_passage, b.row_grain) for k, b in benches.items()
    }
    shares = {k: adaptive.question_led_share(p) for k, p in profiles.items()}
    (f, a, p), best = choose(arrays, shares, search(arrays))
    print("# Adaptive fusion: two FAQ formulas chosen on the five dev corpora\n")
    print(produced_by("bench.adaptive_fusion", argv) + "\n")
    print(
        f"Ramp: LOW {adaptive.LOW}, HIGH {adaptive.HIGH}, {adaptive.PRIOR_ENTRIES} prior entries.\n"
    )
    print("| corpus | FAQ entries | question–entry cosine | question-led share |")
    print("|---|---|---|---|")
    for k in names:
        cosine = profiles[k]["question_answer_cosine"]
        cell = "–" if cosine is None else f"{cosine:.3f}"
        print(f"| {k} | {profiles[k]['faq_entries']} | {cell} | {shares[k]:.3f} |")

    def plain(point: tuple) -> str:
        return "(" + ", ".join(f"{float(x):g}" for x in point) + ")"

    print(f"\nChosen: question-led FAQ {plain(f)}, answer-led FAQ {plain(a)}, passage {plain(p)}")
    print("(FAQ = faq_question, faq_whole, faq_sentence, faq_max, faq_keyword;")
    print(" passage = passage_sentence, passage_max, passage_keyword).\n")
    shipped_now = (adaptive.QUESTION_LED, adaptive.ANSWER_LED)
    rows = {
        "previous release (one fixed formula)": {k: PREVIOUS for k in names},
        "chosen adaptive": {k: blended(f, a, p, shares[k]) for k in names},
        "as shipped (`qabot.answering.adaptive`)": {k: adaptive.blend(shares[k]) for k in names},
    }
    print(
        "Cells: hit@1 (SciFact: nDCG@10) / MRR@10; regret against each corpus's best fixed grid formula.\n"
    )
    print("| formula | " + " | ".join(names) + " | largest regret |")
    print("|---|" + "---|" * len(names) + "---|")
    for title, fusions in rows.items():
        cells, regret = [], 0.0
        for k in names:
            x = figure(arrays[k], fusions[k])
            regret = max(regret, best[k] - x)
            cells.append(
                f"{x:.3f}" if k == "scifact" else f"{x:.3f} / {mrr10(arrays[k], fusions[k]):.3f}"
            )
        print(f"| {title} | " + " | ".join(cells) + f" | {regret:.3f} |")
    print(
        "\nBest fixed grid figure per corpus: " + ", ".join(f"{k} {v:.3f}" for k, v in best.items())
    )
    print("\nShipped (all eight weights): QUESTION_LED " + plain(astuple(shipped_now[0])))
    print("and ANSWER_LED " + plain(astuple(shipped_now[1])) + ".")
    return 0


if __name__ == "__main__":
    sys.exit(main())
