"""The figures of a confidence fit (``bench/train_confidence.py``): the decline-budget threshold,
and the Markdown tables of coefficients and out-of-fold figures."""

from __future__ import annotations

import numpy as np

from qabot.answering.confidence import expected_calibration_error

DECLINE_BUDGET = 0.02


def budget_threshold(oof: np.ndarray, category: np.ndarray, budget: float) -> float:
    """The highest threshold declining at most ``budget`` of all answerable rows (pooled)."""
    return float(np.quantile(oof[category == "answerable"], budget, method="lower"))


def report(model, x, y, oof, corpus, category, threshold) -> None:
    """Print the Markdown tables: coefficients, then out-of-fold figures per corpus."""
    print("| feature | sign | coefficient | mean | std |\n|---|---|---|---|---|")
    for i, name in enumerate(model.features):
        print(
            f"| {name} | {model.signs[i]:+d} | {model.coefficients[i]:.3f} | "
            f"{x[:, i].mean():.3f} | {x[:, i].std():.3f} |"
        )
    print(f"| intercept | | {model.intercept:.3f} | | |\n")
    print(f"Threshold {threshold:.4f}: declines at most {DECLINE_BUDGET:.0%} of all")
    print("answerable dev questions, pooled (out-of-fold probabilities).\n")
    print("| corpus | rows | right first | ECE (10 bins) | ECE, asked rows |", end="")
    print(
        " answerable declined | ablated declined | near-domain declined | out-of-scope declined |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for c in (*dict.fromkeys(corpus), "all"):
        mine = np.ones(len(y), bool) if c == "all" else corpus == c
        declined = oof < threshold
        cells = []
        for cat in ("answerable", "ablated", "near-domain", "out-of-scope"):
            sel = mine & (category == cat)
            cells.append(f"{declined[sel].sum()}/{sel.sum()}" if sel.any() else "–")
        asked = mine & (category != "ablated")  # the questions as asked, without the twins
        print(
            f"| {c} | {mine.sum()} | {y[mine].mean():.3f} | "
            f"{expected_calibration_error(oof[mine], y[mine]):.3f} | "
            f"{expected_calibration_error(oof[asked], y[asked]):.3f} | " + " | ".join(cells) + " |"
        )
    print("\nOther decline budgets (the highest threshold declining at most that share of")
    print("all answerable dev questions, pooled; seed dev counts):\n")
    print("| budget | threshold | seed answerable declined (right first among them) |", end="")
    print(" near-domain declined | out-of-scope declined |\n|---|---|---|---|---|")
    seed = corpus == "seed"
    for budget in (0.02, 0.05, 0.10, 0.20):
        t = budget_threshold(oof, category, budget)
        declined = oof < t
        ans = seed & (category == "answerable") & declined
        near = seed & (category == "near-domain")
        out = seed & (category == "out-of-scope")
        print(
            f"| {budget:.0%} | {t:.4f} | {ans.sum()} ({int(y[ans].sum())}) | "
            f"{declined[near].sum()}/{near.sum()} | {declined[out].sum()}/{out.sum()} |"
        )
    print("\nOut-of-fold reliability (all dev questions):\n")
    print("| bin | questions | mean P | right |\n|---|---|---|---|")
    which = np.minimum((oof * 10).astype(int), 9)
    for b in range(10):
        sel = which == b
        if sel.any():
            print(
                f"| {b / 10:.1f}–{(b + 1) / 10:.1f} | {sel.sum()} | {oof[sel].mean():.3f} |", end=""
            )
            print(f" {y[sel].mean():.3f} |")
