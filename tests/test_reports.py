"""Report files: written, parseable, with baseline deltas; plots are real PNGs."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from qabot.answering.answerer import Answerer
from qabot.answering.features import VERIFIED_FEATURES
from qabot.answering.retrieval import Retriever
from qabot.errors import EvalInputError
from qabot.evaluation.reports import (
    PLOTS_SKIPPED,
    compare,
    format_delta,
    load_report,
    summary_table,
    write_reports,
)
from qabot.evaluation.run import METRIC_KEYS, evaluate
from qabot.index.build import load_index

from test_seed_quality import SEED_DEV

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_report_files_exist_and_parse(tmp_path, seed_report):
    paths = write_reports(seed_report, tmp_path / "reports")
    assert {p.name for p in paths.values()} == {
        "report.json",
        "results.csv",
        "summary.md",
        "threshold.png",
        "scores.png",
        "reliability.png",
    }
    data = json.loads(paths["report"].read_text(encoding="utf-8"))
    assert set(data) >= {"settings", "index", "metrics", "calibration", "questions"}
    assert set(METRIC_KEYS) <= set(data["metrics"])
    assert data["index"]["model"] == "all-MiniLM-L6-v2"
    assert data["calibration"]["objective"] == "accuracy"
    assert len(data["questions"]) == SEED_DEV.questions
    first = data["questions"][0]
    assert {"question", "gold", "answer", "answer_id", "found", "score", "correct"} <= set(first)
    assert first["id"] == "s007" and first["gold"]["ids"] == ["nato-ukraine-2023-11-29.txt#0"]
    # The run's own values (rounded to 4 and 6 places): the score, the features it was read from.
    result = seed_report.results[0]
    assert first["score"] == pytest.approx(result.score, abs=5e-5)
    assert first["features"] == pytest.approx(list(result.features), abs=1e-6)
    # The seed answerer verifies (as `qabot eval` does by default): the verified model's columns.
    assert len(first["features"]) == len(VERIFIED_FEATURES)
    with open(paths["results"], encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == SEED_DEV.questions and rows[0]["id"] == "s007"
    right = round(data["metrics"]["accuracy"] * SEED_DEV.questions)
    assert sum(row["correct"] == "True" for row in rows) == right
    summary = paths["summary"].read_text(encoding="utf-8")
    assert "| hit@1 |" in summary and "Recommended threshold" in summary
    assert "![reliability](reliability.png)" in summary
    for plot in ("threshold_plot", "scores_plot", "reliability_plot"):
        content = paths[plot].read_bytes()
        assert content.startswith(PNG_MAGIC) and len(content) > 5000


def test_baseline_lists_changes(tmp_path, seed_index_dir, embedder, seed_report):
    seed_cases = [r.case for r in seed_report.results]
    write_reports(seed_report, tmp_path / "before")
    baseline = load_report(tmp_path / "before" / "report.json")
    # Declining everything makes every answered answerable question wrong, and every answered
    # unanswerable one right.
    retriever = Retriever(load_index(seed_index_dir), embedder)
    strict = evaluate(Answerer(retriever, threshold=10.0), seed_cases)
    assert strict.metrics["accuracy"] == SEED_DEV.out_of_scope / SEED_DEV.questions
    paths = write_reports(strict, tmp_path / "after", baseline=baseline)
    data = json.loads(paths["report"].read_text(encoding="utf-8"))
    changes = data["baseline"]
    assert changes["deltas"]["accuracy"]["delta"] == pytest.approx(
        strict.metrics["accuracy"] - seed_report.metrics["accuracy"]
    )
    answered_unanswerable = {
        r.case.case_id for r in seed_report.results if not r.case.answerable and r.found
    }
    assert {c["id"] for c in changes["became_right"]} == answered_unanswerable
    became_wrong = {c["id"] for c in changes["became_wrong"]}
    expected = {r.case.case_id for r in seed_report.results if r.outcome == "answered-correct"}
    assert became_wrong == expected
    assert all(c["now"] == "declined-answerable" for c in changes["became_wrong"])
    summary = paths["summary"].read_text(encoding="utf-8")
    assert f"## Became wrong ({len(expected)})" in summary


def test_compare_hand_made():
    before = {
        "metrics": {"hit@1": 0.5, "accuracy": 0.5, "answered-correct": 1},
        "questions": [
            {"id": "a", "question": "A?", "correct": True, "outcome": "answered-correct"},
            {"id": "b", "question": "B?", "correct": False, "outcome": "answered-wrong"},
        ],
    }
    after = {
        "metrics": {"hit@1": 1.0, "accuracy": 0.5, "answered-correct": 1},
        "questions": [
            {"id": "a", "question": "A?", "correct": False, "outcome": "declined-answerable"},
            {"id": "b", "question": "B?", "correct": True, "outcome": "answered-correct"},
            {"id": "c", "question": "new", "correct": True, "outcome": "answered-correct"},
        ],
    }
    result = compare(after, before)
    assert result["deltas"]["hit@1"] == {"baseline": 0.5, "current": 1.0, "delta": 0.5}
    assert [c["id"] for c in result["became_right"]] == ["b"]
    assert [c["id"] for c in result["became_wrong"]] == ["a"]
    table = summary_table(after["metrics"], result["deltas"])
    assert "hit@1" in table and "+0.500" in table and "+0" in table


def test_format_delta():
    assert format_delta("hit@1", -0.0125) == "-0.013"
    assert format_delta("answered-wrong", 3) == "+3"
    assert format_delta("latency-p50-ms", 2.25) == "+2.2"
    assert format_delta("hit@1", None) == ""


def test_bad_baseline(tmp_path):
    with pytest.raises(EvalInputError, match="not a readable report"):
        load_report(tmp_path / "missing.json")
    (tmp_path / "other.json").write_text('{"hello": 1}', encoding="utf-8")
    with pytest.raises(EvalInputError, match="not a qabot report"):
        load_report(tmp_path / "other.json")


def test_without_matplotlib_the_plots_are_skipped(tmp_path, seed_report, monkeypatch):
    # What a core-only install sees: importing matplotlib fails.
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    paths = write_reports(seed_report, tmp_path / "reports")
    assert sorted(paths) == ["report", "results", "summary"]
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == [
        "report.json",
        "results.csv",
        "summary.md",
    ]
    summary = paths["summary"].read_text(encoding="utf-8")
    assert "| hit@1 |" in summary and ".png" not in summary
    assert PLOTS_SKIPPED in summary and "pip install 'qabot[eval]'" in PLOTS_SKIPPED


@pytest.mark.slow
def test_importing_reports_loads_no_plotting_backend():
    code = "import sys, qabot.evaluation.reports; print('matplotlib' in sys.modules)"
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.strip() == "False"


def test_reliability_bins_by_hand():
    from qabot.evaluation.reports import reliability_bins

    def question(score, answerable, top_correct):
        return {"score": score, "gold": {"answerable": answerable}, "top_correct": top_correct}

    data = {
        "questions": [
            question(0.95, True, True),
            question(0.91, True, False),
            question(0.15, False, False),
            question(1.0, True, True),  # a verbatim answer falls in the last bin
            question(0.5, None, True),  # unlabelled: left out
        ]
    }
    assert reliability_bins(data) == [
        (1, 0.15, 0.0),
        (3, pytest.approx((0.95 + 0.91 + 1.0) / 3), pytest.approx(2 / 3)),
    ]


def test_results_csv_is_neutralised_and_reads_back_as_asked(tmp_path):
    # The probe's cells: a formula, an addition, a reference; asked back, they are unchanged.
    from qabot.answering.answerer import Answerer
    from qabot.answering.retrieval import Retriever
    from qabot.evaluation.questionsets import EvalCase, load_question_set
    from qabot.evaluation.run import evaluate
    from qabot.index.build import build_index

    from fakes import FakeEmbedder, fused_only_confidence

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Plums ripen in September.", encoding="utf-8")
    index = build_index(corpus, tmp_path / "index", FakeEmbedder(), cache_dir=None)
    answerer = Answerer(Retriever(index, FakeEmbedder()), confidence=fused_only_confidence())
    asked = ['=HYPERLINK("http://evil.example","x")', "+1+1", "@q3", "-2+3", "plain?"]
    cases = [EvalCase(f"q{n}", q, answerable=False) for n, q in enumerate(asked)]
    paths = write_reports(evaluate(answerer, cases), tmp_path / "reports")
    with open(paths["results"], encoding="utf-8", newline="") as rows:
        cells = [cell for row in csv.reader(rows) for cell in row]
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@"))]
    back, _ = load_question_set(paths["results"])
    assert [case.question for case in back] == asked
