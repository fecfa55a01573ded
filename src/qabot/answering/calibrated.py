"""The calibrated confidence, stored beside the index it was fitted on.

``qabot eval --calibrate`` refits the last step of the confidence model (Platt scaling) on a
user's labelled questions and writes the whole model into ``calibration.json`` in the index
folder; opening an answerer reads it back, but only while the index's embedding model and
corpus, and the confidence model it was refitted from, are the ones it was fitted on: the
features change with any of them. A file of an older qabot (a bare threshold) is ignored.
"""

from __future__ import annotations

import json
from pathlib import Path

from qabot.answering.confidence import ConfidenceModel
from qabot.atomic import write_json_atomic
from qabot.index.manifest import IndexManifest

CALIBRATION_FILE = "calibration.json"


def read_calibration(index_dir: Path | str) -> dict | None:
    """The stored calibration record (``{"confidence": {...}, "model": ..., ...}``), or None."""
    path = Path(index_dir) / CALIBRATION_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("confidence"), dict) else None


def calibrated_model(
    index_dir: Path | str, manifest: IndexManifest, base: ConfidenceModel
) -> ConfidenceModel | None:
    """The stored model, when it was refitted from ``base`` on this index's model and corpus."""
    calibration = read_calibration(index_dir)
    if not calibration or calibration.get("model") != manifest.model:
        return None
    if calibration.get("corpus_fingerprint") != manifest.corpus_fingerprint:
        return None  # the documents changed since: the scores it was fitted on are gone
    if calibration.get("base_sha256") != base.fingerprint():
        return None  # the confidence model was replaced since
    try:
        return ConfidenceModel.from_dict(calibration["confidence"])
    except (KeyError, TypeError, ValueError):
        return None


def write_calibration(
    index_dir: Path | str,
    calibrated: ConfidenceModel,
    base: ConfidenceModel,
    manifest: IndexManifest,
    **details: object,
) -> dict:
    """Store a calibrated model beside the index (atomically), tied to what it was fitted on.

    ``details`` (question set, counts, ECE before and after) are recorded as they are.
    Returns the record written.
    """
    record = {
        "confidence": calibrated.to_dict(),
        "base_sha256": base.fingerprint(),
        "model": manifest.model,
        "corpus_fingerprint": manifest.corpus_fingerprint,
        **details,
    }
    write_json_atomic(Path(index_dir) / CALIBRATION_FILE, record)
    return record
