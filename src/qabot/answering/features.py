"""The confidence features: what P(the answer is right) is read from, defined once.

The answerer (`qabot.answering.answerer.Answerer.features`) and the script that fits the
confidence model (``bench/train_confidence.py``) both build a hit's features with
`question_evidence` and `hit_features`, so the fit and the product read the same numbers.
The per-hit inputs (the dense score, its margin over `RIVALS` rival answers, the grain
maxima) come from the fusion (`qabot.answering.evidence`); the margin's rivals are other
answers by `answer_key`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from qabot.answering.answer_types import absent_name, is_dated, type_missing
from qabot.documents.grains import GRAIN_QUESTION, GRAIN_SENTENCE, GRAIN_WHOLE
from qabot.index.keyword import tokenize

if TYPE_CHECKING:
    from qabot.documents.chunking import Passage

FEATURES = (
    "dense",
    "margin",
    "whole",
    "sentence",
    "question",
    "matched_share",
    "question_bm25",
    "absent_share",
    "type_missing",
    "absent_name",
    "weak_dense",
)
"""Confidence features, in the order `confidence_features` returns them."""

VERIFIER_READ = "verifier_read"
VERIFIER = "verifier"

SIGNS = {
    name: -1 if name in ("absent_share", "type_missing", "absent_name", "weak_dense") else 1
    for name in FEATURES
} | {VERIFIER_READ: 0, VERIFIER: 1}
"""Each feature's fixed sign in the monotone confidence model: evidence for (+1), against (-1) or
free (0: `VERIFIER_READ`, which says which regime a hit is in, not how strong it is)."""

WEAK_DENSE = 0.3
"""Below this dense score, `weak_dense` (``WEAK_DENSE - dense``) counts against an answer: one
shared word ("Brussels" in "How do I roast Brussels sprouts?") must not carry a hit whose meaning
is far from the question (chosen on the dev blocks: ``bench/results/confidence.md``)."""
RIVALS = 50
"""The margin is taken over this many best candidates by fused score, at run time and in the fit."""

VERIFIED_FEATURES = (*FEATURES, VERIFIER_READ, VERIFIER)
"""The verified confidence model's features: `FEATURES`, then whether the verifier read the hit
(1 or 0; a free sign: read answers, passages, are right less often than FAQ entries) and the
verifier's clipped logit (`verifier_feature`; 0 when it did not read the hit)."""
VERIFIER_CLIP = 10.0


def verifier_feature(probability: float) -> float:
    """The verifier's P(the text answers) as a feature: its logit, clipped to ±`VERIFIER_CLIP`."""
    p = min(max(float(probability), 1e-12), 1 - 1e-12)
    return float(np.clip(np.log(p / (1 - p)), -VERIFIER_CLIP, VERIFIER_CLIP))


def verifier_columns(probability: float | None) -> tuple[float, float]:
    """The two columns `VERIFIED_FEATURES` adds: (read, clipped logit); (0, 0) when unread."""
    return (0.0, 0.0) if probability is None else (1.0, verifier_feature(probability))


def answer_key(passage: Passage) -> str:
    """What names a distinct answer: an FAQ entry's question (repeats are one), a passage's id."""
    return (passage.question or "").casefold() if passage.kind == "faq" else passage.passage_id


@dataclass(frozen=True)
class QuestionEvidence:
    """What the features read of the question alone (the same for every hit it gets)."""

    tokens: list[str]
    absent: float
    named: float


def question_evidence(question: str, vocabulary: Collection[str]) -> QuestionEvidence:
    """The question's keyword tokens, `absent_share` and `absent_name` against ``vocabulary``."""
    tokens = tokenize([question])[0]
    return QuestionEvidence(
        tokens, absent_share(tokens, vocabulary), absent_name(question, vocabulary, tokenize)
    )


def hit_features(
    question: str,
    evidence: QuestionEvidence,
    passage: Passage,
    passage_tokens: Collection[str],
    *,
    dense: float,
    margin: float,
    grains: np.ndarray,
    faq_bm25: float,
) -> np.ndarray:
    """The features of ``passage`` as the answer to ``question``, in `FEATURES` order.

    ``faq_bm25`` is the raw BM25 of the question on the entry's own phrasings (0.0 for a
    passage); the other arguments are those of `confidence_features`.
    """
    return confidence_features(
        dense,
        margin,
        grains,
        matched_share(evidence.tokens, passage_tokens),
        faq_bm25,
        evidence.absent,
        type_missing(question, passage.text, dated=is_dated(passage)),
        evidence.named,
    )


def absent_share(question_tokens: Sequence[str], vocabulary: Collection[str]) -> float:
    """Share of the question's keyword tokens found nowhere in the corpus (1.0 if it has none)."""
    if not question_tokens:
        return 1.0
    return sum(t not in vocabulary for t in question_tokens) / len(question_tokens)


def matched_share(question_tokens: Sequence[str], passage_tokens: Collection[str]) -> float:
    """Share of the question's keyword tokens that the answer's own text contains."""
    if not question_tokens:
        return 0.0
    return sum(t in passage_tokens for t in question_tokens) / len(question_tokens)


def margin(fused: np.ndarray, keys: Sequence[str], top: int) -> float:
    """How far candidate ``top`` leads the best candidate with another answer key.

    Keys name what would be a different answer (an FAQ entry's normalised question, a
    passage's id), so entries repeating one question do not count as rivals. 1.0 when alone.
    """
    rivals = [fused[i] for i in range(len(fused)) if keys[i] != keys[top]]
    return float(fused[top] - max(rivals)) if rivals else 1.0


def confidence_features(
    dense: float,
    margin_: float,
    grains: np.ndarray,
    matched: float,
    question_bm25: float,
    absent: float,
    type_missing: float = 0.0,
    absent_name: float = 0.0,
) -> np.ndarray:
    """The top answer's features, in `FEATURES` order.

    Args:
        dense: its dense score (the fusion's dense part, `Fusion.dense`). Not the fused score:
            keyword evidence is normalised per question, so one shared word ("Brussels" in
            "How do I roast Brussels sprouts?") would lift an off-topic question to full marks.
        margin_: its dense lead over the runner-up (`margin` over the dense scores of the best
            fused candidates).
        grains: its ``(3,)`` grain maxima: the whole and best-sentence cosines are features,
            and so is the cosine with its FAQ question (``question``; the whole cosine for
            a passage), which says how much a question-led match there is.
        matched: `matched_share` of its text.
        question_bm25: raw BM25 of the question against FAQ questions only (best entry; 0 for
            a corpus without FAQ entries). Squashed to ``x / (x + 5)`` so one big match cannot
            dominate.
        absent: `absent_share` of the question.
        type_missing: 1.0 when the question asks for a time or quantity its text cannot hold
            (`qabot.answering.answer_types.type_missing`).
        absent_name: 1.0 when the question names something the corpus never mentions
            (`qabot.answering.answer_types.absent_name`).

    The last feature, ``weak_dense``, is read from ``dense``: how far it falls below
    `WEAK_DENSE` (0 above it).
    """
    squashed = question_bm25 / (question_bm25 + 5.0) if question_bm25 > 0 else 0.0
    asked = grains[GRAIN_QUESTION]
    question = asked if np.isfinite(asked) else grains[GRAIN_WHOLE]
    return np.array(
        [
            dense,
            margin_,
            grains[GRAIN_WHOLE],
            grains[GRAIN_SENTENCE],
            question,
            matched,
            squashed,
            absent,
            type_missing,
            absent_name,
            max(0.0, WEAK_DENSE - dense),
        ],
        dtype=float,
    )
