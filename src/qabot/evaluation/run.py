"""Evaluation: a question set in, an `EvalReport` out, through the answerer that serves chat.

Each batch of questions is retrieved once (``top_k`` hits, 100 by default); the ranking
metrics are scored on those hits and the answer is composed from the same hits by
`Answerer.compose`, exactly as ``qabot ask`` would answer. Reading question sets and relevance
files lives in `qabot.evaluation.questionsets`.

Gold ids may name a document (any of its passages counts, and the ranking is scored per
document: each document once, at its best passage) or an entry (``doc#n``, ``doc#faq-n``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace

from qabot.answering.answer import Answer
from qabot.answering.answerer import Answerer
from qabot.answering.confidence import expected_calibration_error
from qabot.answering.questions import clean_question
from qabot.answering.retrieval import Hit
from qabot.evaluation.calibration import Calibration, Outcome, calibrate
from qabot.evaluation.metrics import RANKING_KEYS, percentile, ranking_metrics
from qabot.evaluation.questionsets import EvalCase, normalise_text

DEFAULT_EVAL_TOP_K = 100
DEFAULT_BATCH_SIZE = 32
DEFAULT_LATENCY_SAMPLE = 100
OUTCOMES = ("answered-correct", "answered-wrong", "declined-answerable", "declined-unanswerable")
METRIC_KEYS = (
    *RANKING_KEYS,
    "accuracy",
    "ece",
    *OUTCOMES,
    "questions",
    "answerable",
    "unanswerable",
    "unlabelled",
    "unlabelled-answered",
    "verifier-read",
    "questions-per-second",
    "latency-p50-ms",
    "latency-p95-ms",
)
_RANKED_IDS_KEPT = 10


@dataclass(frozen=True)
class CaseResult:
    """One evaluated question: its answer, how it ranked, and whether it was right.

    ``correct`` judges the answer at the threshold in force (a right answer, or a decline of an
    unanswerable question; None for an unlabelled question); ``top_correct`` judges the best hit
    whatever the threshold. ``score`` is the answer's probability of being right; ``features``
    are the confidence features it was read from (None for a verbatim FAQ question);
    ``verifier`` is the verifier's probability, when it read the answer (then it is also the
    last feature).
    """

    case: EvalCase
    answer: str
    answer_id: str | None
    answer_doc_id: str | None
    found: bool
    score: float
    top_id: str | None
    top_correct: bool
    correct: bool | None
    outcome: str
    ranked_ids: tuple[str, ...]
    metrics: dict[str, float] = field(default_factory=dict)
    latency_ms: float = 0.0
    features: tuple[float, ...] | None = None
    verifier: float | None = None

    @property
    def right(self) -> bool:
        """The event the score predicts: an answerable question whose best hit is right."""
        return bool(self.case.answerable and self.top_correct)

    def to_dict(self) -> dict:
        """The per-question record of ``report.json``."""
        data = {"id": self.case.case_id, "question": self.case.question}
        data["gold"] = self.case.gold_dict()
        data.update({k: v for k, v in asdict(self).items() if k != "case"})
        data["score"] = round(self.score, 4)
        data["latency_ms"] = round(self.latency_ms, 2)
        data["ranked_ids"] = list(self.ranked_ids)
        if self.features is not None:
            data["features"] = [round(f, 6) for f in self.features]
        data["line"] = self.case.source
        return data


@dataclass(frozen=True)
class EvalReport:
    """Everything one evaluation run produced (what ``report.json`` holds)."""

    settings: dict
    manifest: dict
    metrics: dict[str, float | None]
    results: tuple[CaseResult, ...]
    calibration: Calibration | None
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {
            "settings": self.settings,
            "index": self.manifest,
            "metrics": self.metrics,
            "calibration": self.calibration.to_dict() if self.calibration else None,
            "warnings": list(self.warnings),
            "questions": [result.to_dict() for result in self.results],
        }


def evaluate(
    answerer: Answerer,
    cases: Sequence[EvalCase],
    *,
    top_k: int = DEFAULT_EVAL_TOP_K,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
    settings: dict | None = None,
    warnings: Sequence[str] = (),
    latency_sample: int = DEFAULT_LATENCY_SAMPLE,
    clock: Callable[[], float] = time.perf_counter,
) -> EvalReport:
    """Answer every case in batches and score the answers and rankings.

    Args:
        answerer: the same `Answerer` the chat uses (its threshold is the one in force).
        cases: the questions, with gold already resolved against the index (`resolve_gold`).
        top_k: hits retrieved per question for the ranking metrics (``recall@100`` needs 100).
        batch_size: questions per batched retrieval.
        progress: called with the number of questions finished after each batch.
        settings: extra settings to record in the report.
        warnings: warnings met while reading the input, carried into the report.
        latency_sample: how many questions (spread over the set) are also answered one at a
            time, as the chat answers them, to measure per-question latency.
        clock: seconds from an arbitrary start (tests pass a fake one to get exact timings).
    """
    started = clock()
    results = answer_in_batches(answerer, cases, top_k, batch_size, progress, clock)
    elapsed = clock() - started
    questions = [r.case.question for r in results]
    latencies = single_latencies(answerer, questions, latency_sample, clock=clock)
    metrics = summarise(results, elapsed, latencies)
    outcomes = [
        Outcome(r.score, r.case.answerable, r.top_correct) for r in results if r.case.labelled
    ]
    return EvalReport(
        settings={
            "top_k": top_k,
            "batch_size": batch_size,
            "latency_sample": len(latencies),
            **answerer.settings(),
            "model": answerer.manifest.model,
            **(settings or {}),
        },
        manifest=answerer.manifest.to_dict(),
        metrics=metrics,
        results=tuple(results),
        calibration=calibrate(outcomes) if outcomes else None,
        warnings=tuple(warnings),
    )


def answer_in_batches(
    answerer: Answerer,
    cases: Sequence[EvalCase],
    top_k: int,
    batch_size: int,
    progress: Callable[[int], None] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> list[CaseResult]:
    """Retrieve once per batch, answer from the same hits, and score every case."""
    results: list[CaseResult] = []
    for start in range(0, len(cases), batch_size):
        batch = cases[start : start + batch_size]
        batch_started = clock()
        questions = [clean_question(case.question)[0] for case in batch]
        # Ranked as answered: with a reranker, its order is the one the metrics judge.
        hits = [
            answerer.rerank(q, h)
            for q, h in zip(questions, answerer.search_batch(questions, max(1, top_k)), strict=True)
        ]
        answers = answerer.compose_batch(questions, hits)
        # Batched answering has no per-question clock: each question costs its batch's share.
        latency = (clock() - batch_started) * 1000 / len(batch)
        for case, question, case_hits, answer in zip(batch, questions, hits, answers, strict=True):
            # The features the answer's score was read from (the verifier's included).
            features = answerer.features(question, case_hits, verifier=answer.verifier)
            result = score_case(case, case_hits, answer, latency)
            if features is not None:
                result = replace(
                    result, features=tuple(float(f) for f in features), verifier=answer.verifier
                )
            results.append(result)
        if progress:
            progress(len(batch))
    return results


def score_case(
    case: EvalCase, hits: Sequence[Hit], answer: Answer, latency_ms: float
) -> CaseResult:
    """Judge one question's hits and answer against its gold."""
    gold = case.gold
    top_correct = bool(hits) and _matches(case, hits[0])
    if not case.labelled:
        outcome = "unlabelled"
    elif case.answerable:
        outcome = (
            ("answered-correct" if top_correct else "answered-wrong")
            if answer.found
            else "declined-answerable"
        )
    else:
        outcome = "answered-wrong" if answer.found else "declined-unanswerable"
    ranked, scores = _units(case, hits)
    metrics = ranking_metrics(ranked, gold, scores) if case.answerable and case.labelled else {}
    return CaseResult(
        case=case,
        answer=answer.answer,
        answer_id=answer.passage_id,
        answer_doc_id=answer.source.doc_id if answer.source else None,
        found=answer.found,
        score=answer.score,
        top_id=hits[0].passage.passage_id if hits else None,
        top_correct=top_correct,
        correct=None
        if not case.labelled
        else outcome in ("answered-correct", "declined-unanswerable"),
        outcome=outcome,
        ranked_ids=tuple(ranked[:_RANKED_IDS_KEPT]),
        metrics=metrics,
        latency_ms=latency_ms,
    )


def single_latencies(
    answerer: Answerer,
    questions: Sequence[str],
    sample: int,
    *,
    clock: Callable[[], float] = time.perf_counter,
) -> list[float]:
    """Milliseconds to answer each of up to ``sample`` questions (spread evenly), one at a time."""
    if sample <= 0 or not questions:
        return []
    step = max(1, len(questions) // sample)
    latencies = []
    for question in list(questions)[::step][:sample]:
        started = clock()
        answerer.answer(question)
        latencies.append((clock() - started) * 1000)
    return latencies


def summarise(
    results: Sequence[CaseResult], elapsed: float, latencies: Sequence[float] | None = None
) -> dict[str, float | None]:
    """Aggregate metrics under their JSON keys (ranking ones over answerable questions only).

    Unlabelled questions count only in ``questions``, ``unlabelled`` and ``unlabelled-answered``.
    ``latencies`` are one-at-a-time timings (`single_latencies`); without them, each question's
    share of its batch's time is used.
    """
    labelled = [r for r in results if r.case.labelled]
    answerable = [r for r in labelled if r.case.answerable]
    metrics: dict[str, float | None] = {
        key: (sum(r.metrics[key] for r in answerable) / len(answerable) if answerable else None)
        for key in RANKING_KEYS
    }
    metrics["accuracy"] = (
        sum(bool(r.correct) for r in labelled) / len(labelled) if labelled else None
    )
    # How far the scores are from the share of right answers (10 bins over the top answer's
    # score): 0 is a perfectly calibrated confidence.
    metrics["ece"] = (
        expected_calibration_error([r.score for r in labelled], [r.right for r in labelled])
        if labelled
        else None
    )
    for outcome in OUTCOMES:
        metrics[outcome] = sum(r.outcome == outcome for r in labelled)
    metrics["questions"] = len(results)
    metrics["answerable"] = len(answerable)
    metrics["unanswerable"] = len(labelled) - len(answerable)
    metrics["unlabelled"] = len(results) - len(labelled)
    metrics["unlabelled-answered"] = sum(r.found for r in results if not r.case.labelled)
    metrics["verifier-read"] = sum(r.verifier is not None for r in results)
    if latencies is None:
        latencies = [r.latency_ms for r in results]
    metrics["questions-per-second"] = len(results) / elapsed if elapsed > 0 else None
    metrics["latency-p50-ms"] = percentile(latencies, 0.5)
    metrics["latency-p95-ms"] = percentile(latencies, 0.95)
    return metrics


def _matches(case: EvalCase, hit: Hit) -> bool:
    passage = hit.passage
    if passage.passage_id in case.gold or passage.doc_id in case.gold:
        return True
    return bool(case.expected_answer) and normalise_text(case.expected_answer) in normalise_text(
        passage.text
    )


def _units(case: EvalCase, hits: Sequence[Hit]) -> tuple[list[str], list[float]]:
    """The ranking as scored (ids and scores): each document once when the gold names documents."""
    ranked: dict[str, float] = {}
    for hit in hits:
        passage = hit.passage
        by_document = case.by_document and passage.passage_id not in case.gold
        ranked.setdefault(passage.doc_id if by_document else passage.passage_id, hit.fused_score)
    return list(ranked), list(ranked.values())
