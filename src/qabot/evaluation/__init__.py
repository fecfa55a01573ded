"""The evaluation side: run question sets, score them, calibrate, report, lint a corpus.

Modules::

    questionsets.py  EvalCase; load_question_set, read_qrels, resolve_gold
    metrics.py       hit@k, MRR, nDCG, recall: pure functions
    calibration.py   the threshold sweep, the Platt refit of the confidence, storing it
    run.py           evaluate(answerer, cases) -> EvalReport
    reports.py       report.json, results.csv, summary.md and plots (the ``eval`` extra)
    spreadsheet.py   CSV cells no spreadsheet runs as formulas, and read back as they were
    lint.py          conflicting FAQ entries and other corpus problems

The names below are the public API of this side (the notebook uses only these).

May import: ``qabot.answering`` and everything below it, and its own modules; never web or cli.
"""

from qabot.answering.calibrated import calibrated_model
from qabot.evaluation.calibration import Calibration, calibrate
from qabot.evaluation.lint import Finding, lint_corpus
from qabot.evaluation.questionsets import EvalCase, load_question_set, read_qrels, resolve_gold
from qabot.evaluation.refit import store_calibration
from qabot.evaluation.reports import load_report, summary_table, write_reports
from qabot.evaluation.run import EvalReport, evaluate

__all__ = [
    "Calibration",
    "EvalCase",
    "EvalReport",
    "Finding",
    "calibrate",
    "calibrated_model",
    "evaluate",
    "lint_corpus",
    "load_question_set",
    "load_report",
    "read_qrels",
    "resolve_gold",
    "store_calibration",
    "summary_table",
    "write_reports",
]
