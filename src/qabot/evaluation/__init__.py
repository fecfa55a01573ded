"""The evaluation side: run question sets, score them, calibrate, report, lint a corpus.

Modules::

    questionsets.py  EvalCase; load_question_set, read_qrels, resolve_gold
    metrics.py       hit@k, MRR, nDCG, recall: pure functions
    calibration.py   the threshold sweep and the recommended threshold
    run.py           evaluate(answerer, cases) -> EvalReport
    reports.py       report.json, results.csv, summary.md and plots (the ``eval`` extra)
    lint.py          conflicting FAQ entries and other corpus problems
"""

from qabot.evaluation.questionsets import EvalCase, load_question_set
from qabot.evaluation.run import EvalReport, evaluate

__all__ = ["EvalCase", "EvalReport", "evaluate", "load_question_set"]
