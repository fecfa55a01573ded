"""`qabot eval` and `qabot lint` end to end on the seed corpus with the real model."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from qabot.answering.calibrated import calibrated_model, read_calibration
from qabot.answering.confidence import (
    ConfidenceModel,
    default_model,
    expected_calibration_error,
)
from qabot.cli import main, open_answerer

from conftest import ROOT, SEED_CORPUS, SEED_QUESTIONS
from test_seed_quality import SEED_DEV

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def index_dir(tmp_path: Path, seed_index_dir: Path) -> Path:
    """A private copy of the session's seed index (fresh for ./corpus, so never rebuilt)."""
    copy = tmp_path / "index"
    shutil.copytree(seed_index_dir, copy)
    return copy


def qabot(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "qabot", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )


def test_eval_end_to_end_calibrates_and_fails_under_the_bar(tmp_path, index_dir, seed_report):
    reports = tmp_path / "reports"
    run = qabot(
        "eval", SEED_QUESTIONS, "--corpus", SEED_CORPUS, "--index-dir", index_dir,
        "--report-dir", reports, "--calibrate", "--fail-under", "hit@1=0.5", "hit@1=1.01",
    )  # fmt: skip
    assert run.returncode == 1, run.stderr
    assert "below the bar: hit@1" in run.stderr and "< 1.01" in run.stderr
    assert "Evaluating" not in run.stderr and "\r" not in run.stderr  # no bar off a terminal
    assert "hit@1" in run.stdout and "declined-unanswerable" in run.stdout
    report = json.loads((reports / "report.json").read_text(encoding="utf-8"))
    assert report["metrics"]["questions"] == SEED_DEV.questions
    # One ECE: the command's is the library's run on the same index (tests/test_evaluation.py).
    assert report["metrics"]["ece"] == pytest.approx(seed_report.metrics["ece"], abs=1e-6)
    assert report["settings"]["threshold_source"] == "default"
    with open(reports / "results.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["id"] for row in rows] == [q["id"] for q in report["questions"]]
    assert [row["outcome"] for row in rows] == [q["outcome"] for q in report["questions"]]
    summary = (reports / "summary.md").read_text(encoding="utf-8")
    for words in ("| hit@1 |", "| accuracy |", "| declined-unanswerable |", "Recommended"):
        assert words in summary
    assert f"threshold {report['settings']['threshold']:.3f} (default)" in summary
    # The ranking weights in force, and what the index measured that chose them.
    profile = report["index"]["profile"]
    assert report["index"]["fusion"]["question_led_share"] == 1.0  # few FAQ entries: question-led
    assert f"cosine {profile['question_answer_cosine']:.3f} over 3 entries" in summary
    assert "Ranking weights adapted to the collection" in summary
    for name in ("threshold.png", "scores.png", "reliability.png"):
        content = (reports / name).read_bytes()
        assert content.startswith(PNG_MAGIC) and len(content) > 5000, name
    # --calibrate refits only the Platt step, tied to the index's model and corpus.
    stored = read_calibration(index_dir)
    # A verbatim FAQ question scores 1.0 without features (the seed set has none).
    usable = [r for r in seed_report.results if r.features is not None]
    assert stored["model"] == "all-MiniLM-L6-v2" and stored["questions"] == len(usable)
    base = default_model(verified=True)  # the model in force: the verifier is on by default
    assert stored["base_sha256"] == base.fingerprint()
    calibrated = ConfidenceModel.from_dict(stored["confidence"])
    assert calibrated.coefficients == base.coefficients
    assert calibrated.platt != base.platt
    # Platt scaling minimises the log-loss on the set it is fitted on (ECE may move either way).
    assert stored["log_loss_after"] <= stored["log_loss_before"] + 1e-9
    # ECE before the refit is the report's; after it, that of the stored model on the same set.
    features = np.array([r.features for r in usable])
    labels = [r.right for r in usable]
    after = expected_calibration_error(calibrated.predict(features), labels)
    assert stored["ece_before"] == pytest.approx(report["metrics"]["ece"], abs=1e-6)
    assert stored["ece_after"] == pytest.approx(after, abs=1e-6)
    assert "stored calibrated confidence" in run.stdout
    # ask and the chat open their answerer the same way: the calibrated model is now in force.
    answerer = open_answerer(SEED_CORPUS, index_dir, progress=False)
    assert answerer.confidence == calibrated
    again = qabot(
        "eval", SEED_QUESTIONS, "--corpus", SEED_CORPUS, "--index-dir", index_dir,
        "--report-dir", tmp_path / "again",
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    settings = json.loads((tmp_path / "again" / "report.json").read_text())["settings"]
    assert settings["threshold_source"] == "calibrated"
    # Another corpus fingerprint (the documents changed): the calibration no longer applies.
    manifest = replace(answerer.manifest, corpus_fingerprint="0" * 64)
    assert calibrated_model(index_dir, manifest, base) is None
    assert calibrated_model(index_dir, answerer.manifest, calibrated) is None  # another base


def test_eval_passes_the_bar_and_compares_with_a_baseline(tmp_path, index_dir, capsys):
    first, second = tmp_path / "first", tmp_path / "second"
    common = ["--corpus", str(SEED_CORPUS), "--index-dir", str(index_dir)]
    assert main(["eval", str(SEED_QUESTIONS), *common, "--report-dir", str(first)]) == 0
    code = main([
        "eval", str(SEED_QUESTIONS), *common, "--report-dir", str(second), "--threshold", "0.95",
        "--baseline", str(first / "report.json"), "--fail-under", "recall@100=1",
    ])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "threshold in force: 0.950 (--threshold)" in out
    report = json.loads((second / "report.json").read_text(encoding="utf-8"))
    assert report["baseline"]["deltas"]["accuracy"]["delta"] < 0
    assert report["baseline"]["became_wrong"]


def test_eval_without_matplotlib_skips_the_plots_in_one_line(
    tmp_path, index_dir, capsys, monkeypatch
):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if the eval extra were missing
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    reports = tmp_path / "reports"
    code = main([
        "eval", str(SEED_QUESTIONS), "--corpus", str(SEED_CORPUS), "--index-dir", str(index_dir),
        "--report-dir", str(reports), "--fail-under", "recall@100=1",
    ])  # fmt: skip
    assert code == 0
    out, err = capsys.readouterr()
    (hint,) = [line for line in err.splitlines() if "matplotlib" in line]
    assert hint.startswith("warning: plots skipped") and "pip install 'qabot[eval]'" in hint
    assert sorted(p.name for p in reports.iterdir()) == ["report.json", "results.csv", "summary.md"]
    assert "(report.json, results.csv, summary.md)" in out


def test_eval_with_qrels_and_where(tmp_path, index_dir, capsys):
    questions = tmp_path / "q.csv"
    questions.write_text(
        "qid,text,block\nq1,What does NATO stand for?,1\nq2,Who is in NATO?,0\n", encoding="utf-8"
    )
    qrels = tmp_path / "qrels.tsv"
    qrels.write_text(
        "query-id\tcorpus-id\tscore\nq1\tnato-ukraine-2023-11-29.txt\t1\nq2\tghost\t1\n",
        encoding="utf-8",
    )
    code = main([
        "eval", str(questions), "--qrels", str(qrels), "--where", "block=1",
        "--corpus", str(SEED_CORPUS), "--index-dir", str(index_dir),
        "--report-dir", str(tmp_path / "r"),
    ])  # fmt: skip
    assert code == 0
    report = json.loads((tmp_path / "r" / "report.json").read_text(encoding="utf-8"))
    (only,) = report["questions"]
    assert only["id"] == "q1" and only["ranked_ids"] == ["nato-ukraine-2023-11-29.txt"]
    assert report["metrics"]["hit@1"] == 1.0
    assert "no unanswerable questions" in capsys.readouterr().err


def test_bad_input_is_one_clear_error(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "ok", "answerable": false}\n{oops\n', encoding="utf-8")
    assert main(["eval", str(bad), "--index-dir", str(tmp_path / "never-built")]) == 2
    assert f"qabot: error: {bad}:2: malformed JSON" in capsys.readouterr().err
    assert not (tmp_path / "never-built").exists()


def test_unknown_fail_under_metric_lists_the_valid_ones(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", "x.jsonl", "--fail-under", "hits=0.9"])
    assert exit_info.value.code == 2
    assert "unknown metric 'hits'; choose from: hit@1, hit@5" in capsys.readouterr().err


def test_help_explains_formats_with_examples(capsys):
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    text = capsys.readouterr().out
    for words in ("expected_ids", "expected_answer", "answerable", "--qrels", "Examples:"):
        assert words in text


@pytest.mark.slow
def test_lint_command(tmp_path, capsys):
    (tmp_path / "faq.jsonl").write_text(
        '{"id": "a", "question": "What is NATO?", "answer": "An alliance."}\n'
        '{"id": "b", "question": "what is NATO", "answer": "A treaty."}\n',
        encoding="utf-8",
    )
    assert main(["lint", str(tmp_path), "--index-dir", str(tmp_path / "none"), "--json"]) == 1
    out, err = capsys.readouterr()
    (finding,) = [json.loads(line) for line in out.splitlines()]
    assert finding["kind"] == "conflicting-questions"
    assert [loc.split(":")[0] for loc in finding["locations"]] == ["a#faq-0", "b#faq-0"]
    assert "1 findings" in err
    assert main(["lint", str(SEED_CORPUS), "--index-dir", str(tmp_path / "none")]) == 0


def test_feedback_export_is_a_question_set_eval_reads(tmp_path, index_dir):
    from qabot.web.feedback import FeedbackStore

    store = FeedbackStore(tmp_path / "feedback.sqlite3")
    store.record("Who won the 1998 World Cup?", None, 0.2, False)
    store.vote(store.record("What is NATO?", "nato-ukraine-2023-11-29.txt#faq-0", 1.0, True), -1)
    exported = tmp_path / "feedback.csv"
    assert store.export_csv(exported) == 2
    reports = tmp_path / "reports"
    run = qabot(
        "eval", exported, "--corpus", SEED_CORPUS, "--index-dir", index_dir,
        "--report-dir", reports,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "2 questions have no gold" in run.stderr
    report = json.loads((reports / "report.json").read_text(encoding="utf-8"))
    assert report["metrics"]["unlabelled"] == 2 and report["metrics"]["unlabelled-answered"] == 1
    assert [q["outcome"] for q in report["questions"]] == ["unlabelled", "unlabelled"]
