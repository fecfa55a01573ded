"""The figures of a confidence fit (``bench/train_confidence.py``): the decline-budget threshold,
and the Markdown tables of coefficients and out-of-fold figures."""

from __future__ import annotations

import numpy as np

from qabot.answering.confidence import expected_calibration_error

DECLINE_BUDGET = 0.02
KINDS = ("answerable", "ablated", "near-domain", "out-of-scope", "adversarial")


def budget_threshold(oof: np.ndarray, category: np.ndarray, budget: float) -> float:
    """The highest threshold declining at most ``budget`` of all answerable rows (pooled)."""
    return float(np.quantile(oof[category == "answerable"], budget, method="lower"))


def report(model, x, y, oof, corpus, category, threshold, budget=DECLINE_BUDGET) -> None:
    """Print the Markdown tables: coefficients, then out-of-fold figures per corpus."""
    print("| feature | sign | coefficient | mean | std |\n|---|---|---|---|---|")
    for i, name in enumerate(model.features):
        print(
            f"| {name} | {model.signs[i]:+d} | {model.coefficients[i]:.3f} | "
            f"{x[:, i].mean():.3f} | {x[:, i].std():.3f} |"
        )
    print(f"| intercept | | {model.intercept:.3f} | | |\n")
    print(f"Threshold {threshold:.4f}: declines at most {budget:.0%} of all")
    print("answerable dev questions, pooled (out-of-fold probabilities).\n")
    print("| corpus | rows | right first | ECE (10 bins) | ECE, asked rows |", end="")
    kinds = [k for k in KINDS if k == "answerable" or np.any(category == k)]
    print("".join(f" {k} declined |" for k in kinds))
    print("|---|---|---|---|---|" + "---|" * len(kinds))
    for c in (*dict.fromkeys(corpus), "all"):
        mine = np.ones(len(y), bool) if c == "all" else corpus == c
        declined = oof < threshold
        cells = []
        for cat in kinds:
            sel = mine & (category == cat)
            cells.append(f"{declined[sel].sum()}/{sel.sum()}" if sel.any() else "–")
        asked = mine & (category != "ablated")  # the questions as asked, without the twins
        print(
            f"| {c} | {mine.sum()} | {y[mine].mean():.3f} | "
            f"{expected_calibration_error(oof[mine], y[mine]):.3f} | "
            f"{expected_calibration_error(oof[asked], y[asked]):.3f} | " + " | ".join(cells) + " |"
        )
    print("\nOther decline budgets (the highest threshold declining at most that share of all")
    print("answerable dev questions, pooled), per corpus with unanswerable questions:\n")
    unanswerable = [k for k in kinds if k not in ("answerable", "ablated")]
    print("| budget | threshold | corpus | answerable declined (right first among them) |", end="")
    print("".join(f" {k} declined |" for k in unanswerable))
    print("|---|---|---|---|" + "---|" * len(unanswerable))
    shown = [c for c in dict.fromkeys(corpus) if np.isin(category[corpus == c], unanswerable).any()]
    for budget_ in (0.02, 0.05, 0.10, 0.20):
        t = budget_threshold(oof, category, budget_)
        declined = oof < t
        for c in shown:
            mine = corpus == c
            ans = mine & (category == "answerable") & declined
            cells = [
                f"{declined[mine & (category == k)].sum()}/{(mine & (category == k)).sum()}"
                for k in unanswerable
            ]
            print(
                f"| {budget_:.0%} | {t:.4f} | {c} | {ans.sum()}/{(mine & (category == 'answerable')).sum()}"
                f" ({int(y[ans].sum())}) | " + " | ".join(cells) + " |"
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
