"""Calibration from data: a threshold sweep over the observed scores, and the Platt refit.

``qabot eval --calibrate`` refits only the last step of the confidence model (Platt scaling,
`qabot.answering.confidence.platt`) on the set's labelled questions and stores it with the index
(`qabot.evaluation.refit.store_calibration`). The sweep below only recommends a threshold, for the report.

Each evaluated question contributes one outcome: the score of its best hit, whether it is
answerable, and whether that best hit is a right answer. A threshold ``t`` answers the questions
whose score is at least ``t`` and declines the rest, so the whole curve follows from sorting
the scores once. The recommended threshold maximises ``accuracy`` (right answers plus right
declines, over all questions); among equally accurate cuts the highest (most cautious) one wins,
and the threshold sits halfway between the lowest answered and the highest declined score so
that it does not hang on one observed value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

OBJECTIVE = "accuracy"
_DECLINE_ALL_MARGIN = 0.01


@dataclass(frozen=True)
class Outcome:
    """What calibration needs to know about one evaluated question."""

    score: float
    answerable: bool
    top_correct: bool


@dataclass(frozen=True)
class ThresholdPoint:
    """The answering figures when every question scoring at least ``threshold`` is answered.

    ``coverage`` is the share of all questions answered; ``precision`` the share of answers that
    are right (None when nothing is answered).
    """

    threshold: float
    answered: int
    answered_correct: int
    coverage: float
    precision: float | None
    accuracy: float


@dataclass(frozen=True)
class Calibration:
    """The sweep and the threshold it recommends.

    ``note`` explains when the recommendation should not be trusted (for instance a set with
    no unanswerable questions, where answering everything always looks best).
    """

    threshold: float
    objective: str
    accuracy: float
    coverage: float
    precision: float | None
    questions: int
    unanswerable: int
    points: tuple[ThresholdPoint, ...]
    note: str | None = None

    @property
    def has_unanswerable(self) -> bool:
        return self.unanswerable > 0

    def to_dict(self) -> dict:
        data = asdict(self)
        data["has_unanswerable"] = self.has_unanswerable
        return data


def sweep(outcomes: Sequence[Outcome]) -> list[ThresholdPoint]:
    """Coverage, precision and accuracy at each distinct observed score, highest first.

    The first point declines everything (threshold just above the best score).
    """
    total = len(outcomes)
    if total == 0:
        return []
    ordered = sorted(outcomes, key=lambda o: -o.score)
    unanswerable = sum(not o.answerable for o in outcomes)
    top = ordered[0].score + _DECLINE_ALL_MARGIN
    points = [ThresholdPoint(top, 0, 0, 0.0, None, unanswerable / total)]
    right = declined_wrongly = 0
    for position, outcome in enumerate(ordered):
        answered = position + 1
        if outcome.answerable and outcome.top_correct:
            right += 1
        if not outcome.answerable:
            declined_wrongly += 1  # an unanswerable question is now answered
        last_of_score = position + 1 == total or ordered[position + 1].score != outcome.score
        if last_of_score:
            accuracy = (right + unanswerable - declined_wrongly) / total
            points.append(
                ThresholdPoint(
                    outcome.score, answered, right, answered / total, right / answered, accuracy
                )
            )
    return points


def calibrate(outcomes: Sequence[Outcome]) -> Calibration:
    """Recommend the threshold that maximises accuracy over ``outcomes``.

    Raises:
        ValueError: there are no outcomes.
    """
    points = sweep(outcomes)
    if not points:
        raise ValueError("calibration needs at least one evaluated question")
    best = max(range(len(points)), key=lambda i: (points[i].accuracy, -i))
    chosen = points[best]
    if best == 0:
        threshold = chosen.threshold
    elif best + 1 < len(points):
        threshold = (chosen.threshold + points[best + 1].threshold) / 2
    else:
        threshold = chosen.threshold  # answer everything observed: the lowest score itself
    unanswerable = sum(not o.answerable for o in outcomes)
    note = None
    if unanswerable == 0:
        note = (
            "The question set has no unanswerable questions, so declining is never rewarded and "
            "the recommended threshold says nothing about when to decline. Add questions the "
            'documents cannot answer (rows with "answerable": false) to calibrate.'
        )
    return Calibration(
        threshold=threshold,
        objective=OBJECTIVE,
        accuracy=chosen.accuracy,
        coverage=chosen.coverage,
        precision=chosen.precision,
        questions=len(outcomes),
        unanswerable=unanswerable,
        points=tuple(points),
        note=note,
    )
