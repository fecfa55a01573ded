"""``qabot eval --calibrate``: refit the confidence's last step on an evaluated set, and store it.

Only the Platt step of the confidence model is refitted (`qabot.answering.confidence.platt`),
on the set's labelled questions; the result is stored beside the index
(`qabot.answering.calibrated`), for ``ask``, ``serve`` and ``eval`` to use from then on.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qabot.answering.calibrated import write_calibration
from qabot.answering.confidence import ConfidenceModel, expected_calibration_error, platt
from qabot.evaluation.run import CaseResult, EvalReport
from qabot.index.manifest import IndexManifest


def refit_confidence(
    base: ConfidenceModel, results: Sequence[CaseResult]
) -> tuple[ConfidenceModel | None, str | None]:
    """Platt-refit ``base``'s last step on the labelled results that carry features.

    Returns the refitted model, or None and why the set cannot support a refit (it needs
    right answers and wrong ones: questions answered wrongly, or unanswerable ones).
    """
    usable = [r for r in results if r.case.labelled and r.features is not None]
    labels = np.array([r.right for r in usable], dtype=float)
    if len(usable) < 2 or labels.min() == labels.max():
        return None, (
            "the set needs questions whose best answer is right and questions whose best "
            "answer is wrong or that the documents cannot answer"
        )
    features = np.array([r.features for r in usable], dtype=float)
    return platt(base, features, labels), None


def store_calibration(
    index_dir: Path | str,
    report: EvalReport,
    base: ConfidenceModel,
    manifest: IndexManifest,
    *,
    question_set: Path | str | None = None,
) -> dict | None:
    """Refit the confidence's last step on ``report``'s questions and store it with the index.

    ``ask``, ``serve`` and ``eval`` use it from then on, while the index's model and corpus
    and the ``base`` confidence model stay the same (`qabot.answering.calibrated.calibrated_model`).

    Returns:
        The record written, or None when the set cannot support a refit (`refit_confidence`).
    """
    calibrated, _ = refit_confidence(base, report.results)
    if calibrated is None:
        return None
    labelled = [r for r in report.results if r.case.labelled and r.features is not None]
    features = np.array([r.features for r in labelled], dtype=float)
    labels = np.array([r.right for r in labelled], dtype=float)
    return write_calibration(
        index_dir,
        calibrated,
        base,
        manifest,
        question_set=None if question_set is None else str(question_set),
        questions=len(labelled),
        right=int(labels.sum()),
        ece_before=expected_calibration_error(base.predict(features), labels),
        ece_after=expected_calibration_error(calibrated.predict(features), labels),
        # What the refit minimises (ECE is only reported: binning can move it either way).
        log_loss_before=_log_loss(base.predict(features), labels),
        log_loss_after=_log_loss(calibrated.predict(features), labels),
    )


def _log_loss(probabilities: np.ndarray, labels: np.ndarray) -> float:
    p = np.clip(probabilities, 1e-12, 1 - 1e-12)
    return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))
