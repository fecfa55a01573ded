"""Evaluation reports: an `EvalReport` in, files out.

``report-dir`` receives ``report.json`` (settings, index manifest, metrics, calibration and
every question's record), ``results.csv`` (one row per question), ``summary.md`` and three PNG
plots: ``threshold.png`` (precision and coverage against the threshold), ``scores.png``
(score distributions of right, wrong and unanswerable questions) and ``reliability.png`` (the
share of right answers against the score, in 10 bins: a calibrated score lies on the diagonal). With a baseline report the
metric deltas and the questions that became right or wrong are added.

The plots need matplotlib (the ``eval`` extra). Without it the other files are still written:
the metrics, and ``--fail-under`` in CI, matter more than the pictures.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from qabot.answering.confidence import CALIBRATION_BINS, calibration_bins
from qabot.atomic import write_json_atomic, write_text_atomic
from qabot.errors import EvalInputError
from qabot.evaluation.run import METRIC_KEYS, EvalReport
from qabot.evaluation.spreadsheet import spreadsheet_safe

REPORT_FILE = "report.json"
RESULTS_FILE = "results.csv"
SUMMARY_FILE = "summary.md"
THRESHOLD_PLOT = "threshold.png"
SCORES_PLOT = "scores.png"
RELIABILITY_PLOT = "reliability.png"
PLOTS_SKIPPED = "plots skipped: matplotlib is not installed; pip install 'qabot[eval]' to draw them"
_CSV_FIELDS = ("id", "question", "outcome", "correct", "found", "score", "answer_id", "top_id")
_CHANGES_SHOWN = 20


def load_report(path: Path | str) -> dict:
    """Read a ``report.json`` written earlier (a baseline).

    Raises:
        EvalInputError: the file is missing or is not a qabot report.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EvalInputError(f"{path}: not a readable report.json ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict):
        raise EvalInputError(f"{path}: not a qabot report (no 'metrics').")
    return data


def compare(current: Mapping, baseline: Mapping) -> dict:
    """Metric deltas (current minus baseline) and the questions that became right or wrong.

    Questions are matched by id, else by text; both arguments are ``report.json`` dicts.
    """
    deltas = {}
    for key in METRIC_KEYS:
        new, old = current["metrics"].get(key), baseline["metrics"].get(key)
        if isinstance(new, int | float) and isinstance(old, int | float):
            deltas[key] = {"baseline": old, "current": new, "delta": new - old}
    before = {_key(q): q for q in baseline.get("questions", [])}
    became_right, became_wrong = [], []
    for question in current.get("questions", []):
        old = before.get(_key(question))
        if old is None or None in (old.get("correct"), question["correct"]):
            continue
        if bool(old.get("correct")) == bool(question["correct"]):
            continue
        change = {"id": question["id"], "question": question["question"], "was": old["outcome"]}
        change["now"] = question["outcome"]
        (became_right if question["correct"] else became_wrong).append(change)
    return {"deltas": deltas, "became_right": became_right, "became_wrong": became_wrong}


def write_reports(
    report: EvalReport, report_dir: Path | str, *, baseline: Mapping | None = None
) -> dict[str, Path]:
    """Write every report file into ``report_dir``; returns those written, by name.

    The plots (``threshold_plot``, ``scores_plot``) are left out when matplotlib is missing.
    """
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    data = report.to_dict()
    if baseline is not None:
        data["baseline"] = compare(data, baseline)
    paths = {
        "report": report_dir / REPORT_FILE,
        "results": report_dir / RESULTS_FILE,
        "summary": report_dir / SUMMARY_FILE,
        "threshold_plot": report_dir / THRESHOLD_PLOT,
        "scores_plot": report_dir / SCORES_PLOT,
        "reliability_plot": report_dir / RELIABILITY_PLOT,
    }
    write_json_atomic(paths["report"], data)
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, [*_CSV_FIELDS, "gold"], extrasaction="ignore")
    writer.writeheader()
    for question in data["questions"]:
        gold = question["gold"]
        row = {**question, "gold": "|".join(gold["ids"]) or gold["expected_answer"] or ""}
        writer.writerow({name: spreadsheet_safe(value) for name, value in row.items()})
    write_text_atomic(paths["results"], out.getvalue())
    plots = can_plot()
    paths["summary"].write_text(summary_markdown(data, plots=plots), encoding="utf-8")
    if not plots:
        del paths["threshold_plot"], paths["scores_plot"], paths["reliability_plot"]
        return paths
    plot_threshold(data, paths["threshold_plot"])
    plot_scores(data, paths["scores_plot"])
    plot_reliability(data, paths["reliability_plot"])
    return paths


def can_plot() -> bool:
    """Whether matplotlib (the ``eval`` extra) can be imported."""
    try:
        import matplotlib.figure  # noqa: F401
    except ImportError:
        return False
    return True


def format_metric(key: str, value: object) -> str:
    """A metric value as shown to people: rates with 3 decimals, counts as integers."""
    if value is None:
        return "—"
    if key in ("questions-per-second", "latency-p50-ms", "latency-p95-ms"):
        return f"{value:.1f}"
    if isinstance(value, int):
        return str(value)
    return f"{value:.3f}"


def format_delta(key: str, delta: float | None) -> str:
    """A metric change with its sign, in the metric's own format (empty when unknown)."""
    if delta is None:
        return ""
    text = format_metric(key, abs(delta))
    return ("-" if delta < 0 else "+") + text


def summary_table(metrics: Mapping, deltas: Mapping | None = None) -> str:
    """A plain-text table of the metrics (with a change column when deltas are given)."""
    rows = []
    for key in METRIC_KEYS:
        if key not in metrics:
            continue
        row = [key, format_metric(key, metrics[key])]
        if deltas is not None:
            row.append(format_delta(key, deltas.get(key, {}).get("delta")))
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    )


def summary_markdown(data: Mapping, *, plots: bool = True) -> str:
    """The Markdown summary: metrics, threshold recommendation, warnings and changes.

    ``plots`` False says why the plots are missing instead of linking them.
    """
    settings, metrics = data["settings"], data["metrics"]
    comparison = data.get("baseline")
    lines = [
        "# qabot evaluation",
        "",
        f"Question set `{settings.get('questions', '?')}` on the index built from "
        f"`{data['index'].get('corpus_path')}` with `{data['index'].get('model')}`; "
        f"threshold {settings.get('threshold'):.3f} ({settings.get('threshold_source', 'given')}).",
        *_ranking_lines(data["index"], settings),
        "",
        "| metric | value |" + (" change |" if comparison else ""),
        "|---|---|" + ("---|" if comparison else ""),
    ]
    for key in METRIC_KEYS:
        if key in metrics:
            row = f"| {key} | {format_metric(key, metrics[key])} |"
            if comparison:
                row += f" {format_delta(key, comparison['deltas'].get(key, {}).get('delta'))} |"
            lines.append(row)
    if data.get("calibration"):
        lines += _threshold_section(data["calibration"], plots)
    if data.get("warnings"):
        lines += ["", "## Warnings", "", *[f"- {w}" for w in data["warnings"]]]
    if comparison:
        for title, key in (("Became right", "became_right"), ("Became wrong", "became_wrong")):
            changes = comparison[key]
            lines += ["", f"## {title} ({len(changes)})", ""]
            lines += [
                f"- `{c['id']}` {c['question']} ({c['was']} → {c['now']})"
                for c in changes[:_CHANGES_SHOWN]
            ]
    wrong = [q for q in data["questions"] if q["correct"] is False]
    lines += ["", f"## Wrong ({len(wrong)})", ""]
    lines += [
        f"- `{q['id']}` {q['question']} — {q['outcome']}, score {q['score']:.3f}, "
        f"answered with `{q['answer_id'] or '—'}`"
        for q in wrong[:_CHANGES_SHOWN]
    ]
    return "\n".join(lines) + "\n"


def _ranking_lines(index: Mapping, settings: Mapping) -> list[str]:
    """The ranking weights in force, and what they adapted to when the index records it
    (`qabot.answering.adaptive`)."""
    if "fusion" not in settings:
        return []
    profile, fusion = index.get("profile") or {}, index.get("fusion") or {}
    cosine = profile.get("question_answer_cosine")
    if fusion and isinstance(cosine, int | float):
        adapted = (
            f"adapted to the collection (FAQ question–entry cosine {cosine:.3f} over "
            f"{profile.get('faq_entries')} entries; question-led share "
            f"{fusion.get('question_led_share', 1.0):.2f})"
        )
    elif fusion:
        adapted = "adapted to the collection (no FAQ entries: the passage weights)"
    else:
        adapted = "not recorded by the index (built before adaptive ranking)"
    return ["", f"Ranking weights {adapted}: {settings['fusion']}."]


def _threshold_section(calibration: Mapping, plots: bool) -> list[str]:
    """The summary's recommended threshold, with its plots (or why they are missing)."""
    lines = [
        "",
        "## Threshold",
        "",
        f"Recommended threshold **{calibration['threshold']:.3f}** (objective: "
        f"{calibration['objective']}): accuracy {calibration['accuracy']:.3f}, coverage "
        f"{calibration['coverage']:.3f} over {calibration['questions']} questions, "
        f"{calibration['unanswerable']} of them unanswerable.",
    ]
    if calibration.get("note"):
        lines += ["", f"> {calibration['note']}"]
    if plots:
        lines += [
            "",
            f"![precision and coverage]({THRESHOLD_PLOT})",
            f"![scores]({SCORES_PLOT})",
            f"![reliability]({RELIABILITY_PLOT})",
        ]
    else:
        lines += ["", f"_{PLOTS_SKIPPED}._"]
    return lines


def plot_threshold(data: Mapping, path: Path) -> None:
    """Precision and coverage against the threshold, with the one in force and the recommended."""
    figure, axes = _figure()
    calibration = data.get("calibration")
    points = calibration["points"] if calibration else []
    thresholds = [p["threshold"] for p in points]
    axes.step(thresholds, [p["coverage"] for p in points], where="post", label="coverage")
    precise = [p for p in points if p["precision"] is not None]
    axes.step(
        [p["threshold"] for p in precise],
        [p["precision"] for p in precise],
        where="post",
        label="precision",
    )
    axes.step(thresholds, [p["accuracy"] for p in points], where="post", label="accuracy")
    axes.axvline(data["settings"]["threshold"], color="grey", linestyle=":", label="in force")
    if calibration:
        axes.axvline(calibration["threshold"], color="black", linestyle="--", label="recommended")
    axes.set(xlabel="threshold (answer when score ≥ threshold)", ylabel="share", ylim=(0, 1.05))
    axes.legend(loc="lower left")
    figure.savefig(path, dpi=100)


def plot_scores(data: Mapping, path: Path) -> None:
    """Histograms of the best-hit score of questions answered right or wrong, and unanswerable ones."""
    figure, axes = _figure()
    groups: dict[str, list[float]] = {"correct": [], "wrong": [], "unanswerable": []}
    for question in data["questions"]:
        if question["gold"]["answerable"] is None:  # unlabelled: neither right nor wrong
            continue
        if not question["gold"]["answerable"]:
            groups["unanswerable"].append(question["score"])
        else:
            groups["correct" if question["top_correct"] else "wrong"].append(question["score"])
    every = [score for scores in groups.values() for score in scores] or [0.0]
    low, high = min(every), max(every)
    # Shared bins, so that the groups' bars line up and can be compared.
    bins = [low + (high - low) * i / 30 for i in range(31)] if high > low else 1
    for label, scores in groups.items():
        if scores:
            axes.hist(scores, bins=bins, alpha=0.6, label=f"{label} ({len(scores)})")
    axes.axvline(data["settings"]["threshold"], color="grey", linestyle=":", label="in force")
    axes.set(xlabel="score of the best hit", ylabel="questions")
    axes.legend()
    figure.savefig(path, dpi=100)


def reliability_bins(data: Mapping, bins: int = CALIBRATION_BINS) -> list[tuple[int, float, float]]:
    """(questions, mean score, share right) per equal-width score bin, over labelled questions.

    "Right" is what the score predicts: an answerable question whose best hit is right. The
    binning is ECE's (`qabot.answering.confidence.calibration_bins`).
    """
    rows = [
        (q["score"], bool(q["gold"]["answerable"] and q["top_correct"]))
        for q in data["questions"]
        if q["gold"]["answerable"] is not None
    ]
    if not rows:
        return []
    scores, right = zip(*rows, strict=True)
    return calibration_bins(np.array(scores), np.array(right, dtype=float), bins)


def plot_reliability(data: Mapping, path: Path) -> None:
    """The reliability diagram: share right against mean score per bin, beside the diagonal."""
    figure, axes = _figure()
    points = reliability_bins(data)
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", label="calibrated")
    if points:
        sizes = [20 + 200 * n / max(n for n, _, _ in points) for n, _, _ in points]
        axes.plot([m for _, m, _ in points], [r for _, _, r in points], marker="o", label="qabot")
        axes.scatter([m for _, m, _ in points], [r for _, _, r in points], s=sizes, alpha=0.4)
    ece = data["metrics"].get("ece")
    title = f"ECE {ece:.3f}" if isinstance(ece, int | float) else "ECE —"
    questions = data["settings"].get("questions")
    if questions:  # which question set: one diagram per set, each read on its own
        title = f"{Path(str(questions)).name}: {title}"
    axes.set(xlabel="score (P right)", ylabel="share right", xlim=(0, 1), ylim=(0, 1.05))
    axes.set_title(title)
    axes.legend(loc="upper left")
    figure.savefig(path, dpi=100)


def _figure():
    # A bare Figure needs no pyplot and no global backend: nothing changes for the caller.
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4), layout="tight")
    return figure, figure.add_subplot()


def _key(question: Mapping) -> str:
    return str(question.get("id") or question.get("question"))
