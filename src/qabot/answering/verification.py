"""The verifier's part in answering: what it reads of a hit, the model that reads its score.

The answerability verifier (`qabot.models.verifier`) reads the question with the text of the
top hit and gives P(the text answers the question) and its best answer span. That probability
is the last feature (`qabot.answering.features.VERIFIER`) of a second monotone confidence
model, ``qabot/data/confidence-verified.json``, fitted on the same dev blocks as the shipped
one (``bench/train_confidence.py --verifier``). Without the verifier (``--no-verifier``) the
shipped model without that feature reads the answer, as before the verifier existed.

Only the answer (the top hit) is verified: one transformer pass per question. Alternatives are
read by the model without the verifier.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

from qabot.answering.confidence import ConfidenceModel
from qabot.answering.features import VERIFIER
from qabot.documents.chunking import Passage
from qabot.errors import ModelError
from qabot.models.verifier import Span, Verdict, Verifier

VERIFIED_FILE = "confidence-verified.json"
BAND_FILE = "verification.json"
SPAN_PROBABILITY = 0.5
"""A span is shown only when the verifier itself says the text answers (P >= this)."""


@dataclass(frozen=True)
class Verification:
    """A verifier and the confidence model that reads its score (its last feature)."""

    verifier: Verifier
    confidence: ConfidenceModel
    band: tuple[float, float] = (0.0, 1.0)

    def reads(self, passage: Passage, unverified: float) -> bool:
        """Whether the verifier reads a top hit whose probability without it is ``unverified``.

        A passage is always read: its exact answer (the span) is worth the pass. An FAQ entry,
        whose answer was written for its question, is read only inside the band
        ``[low, high]``: outside it the answer is sure enough either way, and its probability
        is read without the verifier (on the dev data the decisions agree on >= 99 % of each
        corpus's questions: ``bench/results/confidence-verified.md``).
        """
        return passage.kind != "faq" or self.band[0] <= unverified <= self.band[1]

    def __post_init__(self) -> None:
        if not self.confidence.features or self.confidence.features[-1] != VERIFIER:
            raise ValueError(
                f"a verified confidence model ends with the feature {VERIFIER!r}; this one has "
                f"{', '.join(self.confidence.features)}"
            )

    def record(self) -> dict:
        """What an index's manifest records of the verifier its answers are read with."""
        return {
            "name": self.verifier.name,
            "sha256": self.verifier.fingerprint,
            "confidence_sha256": self.confidence.fingerprint(),
            "band": list(self.band),
        }


def verified_model(path: Path | str | None = None) -> ConfidenceModel:
    """The confidence model with the verifier's feature: ``path``, else the shipped one.

    Raises:
        ModelError: the file is missing or is not such a model.
    """
    where = str(path) if path is not None else f"qabot/data/{VERIFIED_FILE}"
    try:
        if path is not None:
            model = ConfidenceModel.load(Path(path))
        else:
            shipped = resources.files("qabot").joinpath("data", VERIFIED_FILE)
            model = ConfidenceModel.from_dict(json.loads(shipped.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(
            f"Could not read the verified confidence model {where!r} ({exc}); reinstall "
            "qabot, or pass --no-verifier."
        ) from exc
    if not model.features or model.features[-1] != VERIFIER:
        raise ModelError(f"{where!r} is not a verified confidence model (no {VERIFIER!r} feature).")
    return model


def shipped_band() -> tuple[float, float]:
    """Where the shipped answerer reads the verifier (`Verification.reads`), chosen on dev
    data by ``bench/train_confidence.py --verifier``; everywhere when the file is missing."""
    try:
        text = resources.files("qabot").joinpath("data", BAND_FILE).read_text(encoding="utf-8")
        low, high = json.loads(text)["band"]
        return float(low), float(high)
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0, 1.0


def verifier_text(passage: Passage) -> tuple[str, int]:
    """The text the verifier reads for a passage, and where the passage's own text starts in it.

    An FAQ entry is read with its question before its answer, as a reader reads an FAQ.
    """
    if passage.kind == "faq" and passage.question:
        return f"{passage.question}\n{passage.text}", len(passage.question) + 1
    return passage.text, 0


def answer_span(passage: Passage, verdict: Verdict) -> Span | None:
    """The verifier's span as offsets into the passage's own text (``answer``), or None.

    None when the verifier doubts the text answers (`SPAN_PROBABILITY`), when its span lies in
    an FAQ entry's question rather than its answer, or when it is the whole text (nothing
    shorter to show).
    """
    span = verdict.span
    if span is None or verdict.probability < SPAN_PROBABILITY:
        return None
    _, offset = verifier_text(passage)
    start, end = span.start - offset, span.end - offset
    if start < 0 or end > len(passage.text) or not span.text.strip():
        return None
    if passage.text[start:end] != span.text or end - start >= len(passage.text.strip()):
        return None
    return replace(span, start=start, end=end)
