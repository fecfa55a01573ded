"""Threshold calibration: the sweep and the recommendation, on sets with a known answer."""

from __future__ import annotations

import pytest

from qabot.evaluation.calibration import Outcome, calibrate, sweep


def known_set() -> list[Outcome]:
    # Right answers score 0.8-0.9, unanswerable questions 0.3-0.4, one answerable question
    # whose best hit is wrong scores 0.35: any threshold in (0.4, 0.8] is best.
    return [
        Outcome(0.9, True, True),
        Outcome(0.85, True, True),
        Outcome(0.8, True, True),
        Outcome(0.4, False, False),
        Outcome(0.35, True, False),
        Outcome(0.3, False, False),
    ]


def test_recommends_the_middle_of_the_best_gap():
    calibration = calibrate(known_set())
    assert calibration.threshold == pytest.approx(0.6)
    assert calibration.objective == "accuracy"
    assert calibration.accuracy == pytest.approx(5 / 6)
    assert calibration.coverage == pytest.approx(3 / 6)
    assert calibration.precision == 1.0
    assert calibration.unanswerable == 2
    assert calibration.note is None


def test_sweep_points_hand_computed():
    points = sweep(known_set())
    assert [p.answered for p in points] == [0, 1, 2, 3, 4, 5, 6]
    assert points[0].threshold > 0.9 and points[0].precision is None
    assert points[0].accuracy == pytest.approx(2 / 6)  # declining all: only the 2 unanswerable
    assert [round(p.accuracy, 4) for p in points[1:]] == [
        round(x / 6, 4) for x in (3, 4, 5, 4, 4, 3)
    ]
    assert points[-1].coverage == 1.0
    assert points[-1].precision == pytest.approx(3 / 6)


def test_equal_scores_form_one_point():
    outcomes = [Outcome(0.5, True, True), Outcome(0.5, False, False), Outcome(0.2, False, False)]
    points = sweep(outcomes)
    assert [p.threshold for p in points[1:]] == [0.5, 0.2]
    assert points[1].answered == 2


def test_equally_accurate_cuts_prefer_the_cautious_one():
    # Answering the 0.6 question (wrong) or declining it scores the same: decline it.
    outcomes = [Outcome(0.9, True, True), Outcome(0.6, True, False), Outcome(0.1, False, False)]
    calibration = calibrate(outcomes)
    assert calibration.threshold == pytest.approx(0.75)
    assert calibration.accuracy == pytest.approx(2 / 3)


def test_without_unanswerable_questions_it_says_so():
    calibration = calibrate([Outcome(0.9, True, True), Outcome(0.7, True, True)])
    assert calibration.note and "no unanswerable" in calibration.note
    assert not calibration.has_unanswerable
    assert calibration.threshold == 0.7
    assert calibration.coverage == 1.0


def test_all_unanswerable_declines_everything():
    calibration = calibrate([Outcome(0.4, False, False), Outcome(0.2, False, False)])
    assert calibration.threshold > 0.4
    assert calibration.accuracy == 1.0
    assert calibration.coverage == 0.0


def test_empty_set_is_an_error():
    with pytest.raises(ValueError):
        calibrate([])


def test_to_dict_is_plain_json():
    data = calibrate(known_set()).to_dict()
    assert data["has_unanswerable"] is True
    assert data["points"][1]["answered"] == 1
