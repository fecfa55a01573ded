"""A confidence that is a probability: P(the top answer is right) from evidence features.

The model is a logistic regression whose coefficient signs are fixed in advance: a feature that
is evidence for the answer (the fused score, the margin, …) gets a coefficient >= 0, one that is
evidence against (the share of absent terms) gets <= 0. So more evidence can never lower the
score, whatever data the model was fitted on. A last Platt step, ``sigmoid(a·z + b)`` over the
model's logit ``z``, is the only part ``qabot eval --calibrate`` refits on a user's own set.

With a reranker (``--reranker``), its score ``r`` for the answer joins the last step:
``sigmoid(a·z + c·r + b)``. No reranker ships with qabot, so the shipped ``c`` is 0 (the
reranker reorders, the probability is read as without it) until ``qabot eval --calibrate
--reranker PATH`` fits ``c`` (>= 0) with ``a`` and ``b`` on the user's labelled set.

Fitting is projected gradient descent on the weighted log-loss (numpy only): the features are
standardised, a gradient step is taken, and coefficients that crossed their sign bound are set
to zero. The parameters are a small JSON file with a ``version`` field.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from importlib import resources
from pathlib import Path

import numpy as np

FORMAT_VERSION = 1
DEFAULT_FILE = "confidence.json"
VERIFIED_FILE = "confidence-verified.json"
"""The shipped model that also reads the verifier's score (its last feature): in force when the
verifier is on."""


@dataclass(frozen=True)
class ConfidenceModel:
    """Fitted parameters; ``predict`` maps feature rows to probabilities.

    Attributes:
        features: feature names, in column order.
        signs: +1 (evidence for: coefficient >= 0), -1 (against: <= 0) or 0 (free).
        coefficients: one per feature, on the raw (unstandardised) features.
        intercept: the logit's constant.
        platt: ``(a, b)`` of the last step; ``(1, 0)`` leaves the model as fitted.
        reranker_weight: ``c``, the weight of a reranker's score in the last step.
        threshold: the default probability below which an answer is declined.
        version: the file format version.
        fitted_on: a note saying what data the parameters came from.
    """

    features: tuple[str, ...]
    signs: tuple[int, ...]
    coefficients: tuple[float, ...]
    intercept: float
    platt: tuple[float, float] = (1.0, 0.0)
    reranker_weight: float = 0.0
    threshold: float = 0.5
    version: int = FORMAT_VERSION
    fitted_on: str = ""

    def logit(self, features: np.ndarray) -> np.ndarray:
        """The model's logit before the Platt step, one per row of ``features``."""
        features = np.atleast_2d(np.asarray(features, dtype=float))
        if features.shape[1] != len(self.features):
            raise ValueError(
                f"expected {len(self.features)} features ({', '.join(self.features)}), "
                f"got {features.shape[1]}"
            )
        return features @ np.asarray(self.coefficients) + self.intercept

    def predict(self, features: np.ndarray) -> np.ndarray:
        """P(the top answer is right), one per row of ``features``.

        A row may carry one column more than ``features`` names: a reranker's score.
        """
        features = np.atleast_2d(np.asarray(features, dtype=float))
        a, b = self.platt
        named = len(self.features)
        z = a * self.logit(features[:, :named]) + b
        if features.shape[1] == named + 1:
            z = z + self.reranker_weight * features[:, named]
        elif features.shape[1] != named:
            self.logit(features)  # raises, naming the expected features
        return _sigmoid(z)

    def to_dict(self) -> dict:
        """The JSON form."""
        return asdict(self)

    def fingerprint(self) -> str:
        """A sha256 of the parameters (not of the file's layout): names one fitted model."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def record(self) -> dict:
        """What an index's manifest records of the model its answers are scored with."""
        return {"version": self.version, "sha256": self.fingerprint()}

    @classmethod
    def from_dict(cls, data: dict) -> ConfidenceModel:
        """Read the JSON form, checking its version and shape."""
        if data.get("version") != FORMAT_VERSION:
            raise ValueError(
                f"confidence parameters of version {data.get('version')!r}; "
                f"this qabot reads version {FORMAT_VERSION}"
            )
        model = cls(
            features=tuple(data["features"]),
            signs=tuple(int(s) for s in data["signs"]),
            coefficients=tuple(float(c) for c in data["coefficients"]),
            intercept=float(data["intercept"]),
            platt=(float(data["platt"][0]), float(data["platt"][1])),
            reranker_weight=float(data.get("reranker_weight", 0.0)),
            threshold=float(data["threshold"]),
            version=FORMAT_VERSION,
            fitted_on=str(data.get("fitted_on", "")),
        )
        if not len(model.features) == len(model.signs) == len(model.coefficients):
            raise ValueError("features, signs and coefficients differ in length")
        return model

    def save(self, path: Path) -> None:
        """Write the JSON file."""
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> ConfidenceModel:
        """Read a file written by `save`."""
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))


def default_model(path: Path | str | None = None, *, verified: bool = False) -> ConfidenceModel:
    """The parameters in ``path``, else those shipped with qabot: ``qabot/data/confidence.json``,
    or with ``verified`` the model that reads the verifier too (`VERIFIED_FILE`)."""
    if path is not None:
        return ConfidenceModel.load(Path(path))
    name = VERIFIED_FILE if verified else DEFAULT_FILE
    text = resources.files("qabot").joinpath("data", name).read_text(encoding="utf-8")
    return ConfidenceModel.from_dict(json.loads(text))


def fit(
    features: np.ndarray,
    labels: np.ndarray,
    names: Sequence[str],
    signs: Sequence[int],
    *,
    weights: np.ndarray | None = None,
    l2: float = 1e-3,
    steps: int = 3000,
) -> ConfidenceModel:
    """Fit the sign-constrained logistic model.

    Args:
        features: ``(n, f)`` feature rows.
        labels: ``(n,)`` 1 when the top answer was right, else 0.
        names: the ``f`` feature names.
        signs: per feature +1 (coefficient >= 0), -1 (<= 0) or 0 (free).
        weights: per-row weights (e.g. to give each corpus the same total); ones by default.
        l2: ridge penalty on the standardised coefficients (keeps them finite when separable).
        steps: gradient steps.
    """
    x = np.asarray(features, dtype=float)
    y = np.asarray(labels, dtype=float)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=float)
    w = w / w.sum()
    signs_ = np.asarray(signs)
    mean, std = x.mean(axis=0), x.std(axis=0)
    std = np.where(std > 1e-12, std, 1.0)
    z = (x - mean) / std
    z = np.column_stack([z, np.ones(len(z))])  # the last column carries the intercept
    free = np.append(signs_, 0)
    # The log-loss gradient is Lipschitz with constant <= (max row norm²) / 4 + l2: a safe step.
    rate = 1.0 / (float(np.max(np.sum(z * z, axis=1))) / 4.0 + l2)
    theta = previous = np.zeros(z.shape[1])
    for step in range(1, steps + 1):
        # FISTA: a projected gradient step from an extrapolated point converges as 1/step².
        probe = theta + (step - 2) / (step + 1) * (theta - previous)
        gradient = z.T @ (w * (_sigmoid(z @ probe) - y))
        gradient[:-1] += l2 * probe[:-1]
        previous, theta = theta, _project(probe - rate * gradient, free)
    coef, intercept = theta[:-1], float(theta[-1])
    raw = coef / std
    return ConfidenceModel(
        features=tuple(names),
        signs=tuple(int(s) for s in signs_),
        coefficients=tuple(float(c) for c in raw),
        intercept=float(intercept - raw @ mean),
    )


def platt(
    model: ConfidenceModel, features: np.ndarray, labels: np.ndarray, steps: int = 200
) -> ConfidenceModel:
    """Refit only the last step on a labelled set; the features' coefficients stay as shipped.

    ``sigmoid(a·z + b)``, or ``sigmoid(a·z + c·r + b)`` when the rows carry a reranker's score
    ``r`` as one more column. Newton steps; ``a`` and ``c`` stay >= 0, so more evidence never
    lowers the probability.
    """
    features = np.atleast_2d(np.asarray(features, dtype=float))
    named = len(model.features)
    columns = [model.logit(features[:, :named])]
    if features.shape[1] == named + 1:
        columns.append(features[:, named])
    design = np.column_stack([*columns, np.ones(len(features))])
    y = np.asarray(labels, dtype=float)
    # Platt's targets: a little off 0 and 1, so a perfectly separated set stays finite.
    positives = float(y.sum())
    target = np.where(y > 0, (positives + 1) / (positives + 2), 1 / (len(y) - positives + 2))
    start = [model.platt[0], model.reranker_weight, model.platt[1]]
    theta = np.array(start if len(columns) == 2 else [start[0], start[2]])
    size = len(theta)
    for _ in range(steps):
        p = _sigmoid(design @ theta)
        gradient = design.T @ (p - target)
        hessian = design.T @ (design * (p * (1 - p))[:, None]) + 1e-9 * np.eye(size)
        delta = np.linalg.solve(hessian, gradient)
        theta = theta - delta
        theta[:-1] = np.maximum(theta[:-1], 0.0)  # slopes stay >= 0; the intercept is free
        if float(np.abs(delta).max()) < 1e-10:
            break
    if size == 3:
        return replace(
            model, platt=(float(theta[0]), float(theta[2])), reranker_weight=float(theta[1])
        )
    return replace(model, platt=(float(theta[0]), float(theta[1])))


CALIBRATION_BINS = 10


def calibration_bins(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = CALIBRATION_BINS
) -> list[tuple[int, float, float]]:
    """(count, mean probability, share of labels 1) per non-empty equal-width bin, low to high.

    The one binning of a probability against outcomes: ECE and the reliability diagrams of
    `qabot.evaluation.reports` both read it.
    """
    p = np.asarray(probabilities, dtype=float)
    y = np.asarray(labels, dtype=float)
    which = np.minimum((p * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        inside = which == b
        if inside.any():
            out.append((int(inside.sum()), float(p[inside].mean()), float(y[inside].mean())))
    return out


def expected_calibration_error(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = CALIBRATION_BINS
) -> float:
    """ECE: the mean |accuracy - confidence| over equal-width bins, weighted by bin size."""
    points = calibration_bins(probabilities, labels, bins)
    total = sum(count * abs(share - mean) for count, mean, share in points)
    return total / max(1, sum(count for count, _, _ in points))


def _project(coef: np.ndarray, signs: np.ndarray) -> np.ndarray:
    return np.where(
        signs > 0, np.maximum(coef, 0.0), np.where(signs < 0, np.minimum(coef, 0.0), coef)
    )


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=float)))
