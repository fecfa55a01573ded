"""The calibrated confidence threshold, stored beside the index it was chosen for.

``qabot eval --calibrate`` writes ``calibration.json`` into the index folder; opening an
answerer reads it back, but only while the index's model and corpus are the ones it was chosen
on: a threshold is a score, and scores change with either.
"""

from __future__ import annotations

import json
from pathlib import Path

from qabot.atomic import write_json_atomic
from qabot.index import IndexManifest

CALIBRATION_FILE = "calibration.json"


def read_calibration(index_dir: Path | str) -> dict | None:
    """The stored calibration (``{"threshold": ..., "model": ...}``), or None."""
    path = Path(index_dir) / CALIBRATION_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return (
        data if isinstance(data, dict) and isinstance(data.get("threshold"), int | float) else None
    )


def calibrated_threshold(index_dir: Path | str, manifest: IndexManifest) -> float | None:
    """The stored threshold, when it was calibrated with this index's model and corpus."""
    calibration = read_calibration(index_dir)
    if not calibration or calibration.get("model") != manifest.model:
        return None
    if calibration.get("corpus_fingerprint") not in (None, manifest.corpus_fingerprint):
        return None  # the documents changed since: the scores it was chosen on are gone
    return float(calibration["threshold"])


def write_calibration(index_dir: Path | str, calibration: dict) -> None:
    """Store a calibration beside the index (atomically)."""
    write_json_atomic(Path(index_dir) / CALIBRATION_FILE, calibration)
