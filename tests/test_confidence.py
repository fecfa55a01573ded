"""The sign-constrained confidence model: fit, monotone behaviour, Platt refit, JSON."""

import numpy as np
import pytest

from qabot.answering.confidence import (
    ConfidenceModel,
    default_model,
    expected_calibration_error,
    fit,
    platt,
)
from qabot.answering.features import (
    FEATURES,
    VERIFIER,
    VERIFIER_READ,
    verifier_columns,
    verifier_feature,
)


def _data(seed: int = 0, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    # feature 0 helps, feature 1 hurts, feature 2 hurts too but is declared as evidence for
    logit = 2.0 * x[:, 0] - 1.5 * x[:, 1] - 1.0 * x[:, 2]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    return x, y


def test_fit_recovers_signs_and_respects_bounds():
    x, y = _data()
    model = fit(x, y, ["good", "bad", "noise"], [1, -1, 1])
    good, bad, noise = model.coefficients
    assert good > 1.0
    assert bad < -0.8
    assert noise == 0.0  # would be negative if free: the bound holds it at zero
    free = fit(x, y, ["good", "bad", "noise"], [1, -1, 0])
    assert free.coefficients[2] != 0.0


def test_more_evidence_never_lowers_the_probability():
    x, y = _data(1)
    model = fit(x, y, ["good", "bad", "noise"], [1, -1, 1])
    base = np.zeros((1, 3))
    for column, direction in ((0, 1.0), (1, -1.0), (2, 1.0)):
        more = base.copy()
        more[0, column] += direction
        assert model.predict(more)[0] >= model.predict(base)[0]
    assert model.predict(np.array([[2.0, 0, 0]]))[0] > model.predict(base)[0]


def test_probabilities_are_calibrated_on_their_own_data():
    x, y = _data(2, 2000)
    model = fit(x, y, ["good", "bad", "noise"], [1, -1, 1])
    p = model.predict(x)
    # A logistic model: the sigmoid of a weighted sum (the Platt step still the identity).
    z = x @ np.array(model.coefficients) + model.intercept
    assert model.platt == (1.0, 0.0) and p == pytest.approx(1 / (1 + np.exp(-z)))
    assert expected_calibration_error(p, y) < 0.05
    assert expected_calibration_error(np.full(len(y), 0.99), y) > 0.3


def test_platt_refits_only_the_last_step():
    x, y = _data(3)
    model = fit(x, y, ["good", "bad", "noise"], [1, -1, 1])
    overconfident = ConfidenceModel(
        model.features, model.signs, tuple(3 * c for c in model.coefficients), 3 * model.intercept
    )
    refit = platt(overconfident, x, y)
    assert refit.coefficients == overconfident.coefficients
    assert refit.platt[0] == pytest.approx(1 / 3, rel=0.2)
    before = expected_calibration_error(overconfident.predict(x), y)
    assert expected_calibration_error(refit.predict(x), y) < before


def test_json_round_trip_and_version_check(tmp_path):
    x, y = _data(4)
    model = fit(x, y, ["good", "bad", "noise"], [1, -1, 1])
    path = tmp_path / "confidence.json"
    model.save(path)
    again = ConfidenceModel.load(path)
    assert again == model
    assert np.allclose(again.predict(x), model.predict(x))
    data = model.to_dict() | {"version": 99}
    with pytest.raises(ValueError, match="version 99"):
        ConfidenceModel.from_dict(data)


def test_wrong_number_of_features_is_named():
    model = ConfidenceModel(("a", "b"), (1, 1), (1.0, 1.0), 0.0)
    with pytest.raises(ValueError, match="expected 2 features"):
        model.predict(np.zeros((1, 4)))
    with pytest.raises(ValueError, match="expected 2 features"):
        model.predict(np.zeros((1, 1)))
    assert model.predict(np.zeros((1, 3))).shape == (1,)  # the third column: a reranker score


def test_shipped_parameters_match_the_evidence_features():
    model = default_model()
    assert model.features == FEATURES
    signs = dict(zip(model.features, model.signs, strict=True))
    assert signs["absent_share"] == signs["type_missing"] == signs["absent_name"] == -1
    assert signs["dense"] == 1
    assert 0.0 < model.threshold < 1.0


def test_the_verified_model_is_monotone_in_the_verifiers_score():
    model = default_model(verified=True)
    assert model.features == (*FEATURES, VERIFIER_READ, VERIFIER)
    assert dict(zip(model.features, model.signs, strict=True))["verifier"] == 1
    assert 0.0 < model.threshold < 1.0
    evidence = {"absent_share": 0.0, "absent_name": 0.0, "type_missing": 0.0, "weak_dense": 0.0}
    row = dict.fromkeys(FEATURES, 0.5) | evidence | {"margin": 0.05, "question_bm25": 0.0}
    base = np.array([[*row.values(), 1.0]])  # a passage answer the verifier read
    logits = np.linspace(-10, 10, 41)
    scores = model.predict(np.column_stack([np.repeat(base, len(logits), axis=0), logits]))
    assert np.all(np.diff(scores) >= 0) and scores[-1] - scores[0] > 0.2
    # Its probability comes in as a clipped logit.
    assert verifier_feature(0.5) == 0.0 and verifier_feature(1.0) == 10.0
    assert verifier_feature(0.0) == -10.0 and verifier_feature(0.9) > verifier_feature(0.6)
    assert verifier_columns(None) == (0.0, 0.0) and verifier_columns(0.5) == (1.0, 0.0)


def test_shipped_model_lowers_the_score_when_the_answer_type_is_missing():
    model = default_model()
    row = dict.fromkeys(FEATURES, 0.5) | {"absent_share": 0.0, "absent_name": 0.0}
    present = np.array([[*(row | {"type_missing": 0.0}).values()]])
    missing = np.array([[*(row | {"type_missing": 1.0}).values()]])
    assert model.predict(missing)[0] < model.predict(present)[0]
    assert model.logit(missing)[0] < model.logit(present)[0] - 1.0  # a real weight, not noise


def test_platt_with_reranker_scores_fits_their_weight():
    rng = np.random.default_rng(3)
    model = ConfidenceModel(("a",), (1,), (1.0,), 0.0)
    base = rng.normal(size=400)
    rerank_score = rng.normal(size=400)
    y = (rng.random(400) < 1 / (1 + np.exp(-(base + 2.0 * rerank_score)))).astype(float)
    refit = platt(model, np.column_stack([base, rerank_score]), y)
    assert refit.reranker_weight == pytest.approx(2.0, abs=0.5)
    assert refit.platt[0] == pytest.approx(1.0, abs=0.4)
    # Without the column the reranker weight stays as it was.
    assert platt(model, base[:, None], y).reranker_weight == 0.0
    # A reranker that says the opposite of the truth gets no weight, never a negative one.
    against = platt(model, np.column_stack([base, -rerank_score]), y)
    assert against.reranker_weight == 0.0
    back = ConfidenceModel.from_dict(refit.to_dict())
    assert back.reranker_weight == refit.reranker_weight
