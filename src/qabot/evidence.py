"""Evidence at several grains, one fused score, and the features a confidence is read from.

Pure retrieval maths: numpy arrays in, arrays and plain records out (no model, no faiss).

Every passage owns vector rows tagged by grain, stored passage by passage and, within a
passage, in grain order (so each (passage, grain) pair is one contiguous run of rows):

    GRAIN_WHOLE     a body passage's context + text; an FAQ entry's question + answer
    GRAIN_QUESTION  an FAQ entry's question (body passages have none)
    GRAIN_SENTENCE  each sentence of a body passage (none when it is a single sentence) or of
                    an FAQ answer

A question's evidence for a candidate is its best cosine at each grain (a gather over the
candidate's rows, then a per-grain max). The fused score is a fixed, readable formula::

    FAQ entry:  dense = a·q→question + b·q→(question+answer) + c·q→best answer sentence
                        + m·max(q→question, q→(question+answer))      (a + b + c + m = 1)
    passage:    dense = (1 - s - p)·q→whole + s·q→best sentence + p·max(q→whole, q→best sentence)
    score       = (1 - w_kind)·dense + w_kind·bm25 / max bm25 over the question's candidates

The weights in `DEFAULT_FUSION` were chosen by ``bench/fusion_search.py`` for the best worst
case over three dev corpora (see ``bench/results/fusion.md``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

GRAIN_WHOLE = 0
GRAIN_QUESTION = 1
GRAIN_SENTENCE = 2
GRAINS = ("whole", "question", "sentence")

FEATURES = (
    "dense",
    "margin",
    "whole",
    "sentence",
    "matched_share",
    "question_bm25",
    "absent_share",
    "type_missing",
    "absent_name",
)
"""Confidence features, in the order `confidence_features` returns them."""


@dataclass(frozen=True)
class Fusion:
    """The weights of the fusion formula (see the module docstring)."""

    faq_question: float
    faq_whole: float
    faq_sentence: float
    faq_max: float
    passage_sentence: float
    passage_max: float
    faq_keyword: float
    passage_keyword: float

    def dense(self, grains: np.ndarray, is_faq: np.ndarray) -> np.ndarray:
        """Dense part per candidate; ``grains`` is ``(..., n, 3)`` from `grain_maxima`."""
        whole = grains[..., GRAIN_WHOLE]
        sentence = grains[..., GRAIN_SENTENCE]
        question = grains[..., GRAIN_QUESTION]
        question = np.where(np.isfinite(question), question, whole)
        faq = (
            self.faq_question * question
            + self.faq_whole * whole
            + self.faq_sentence * sentence
            + self.faq_max * np.maximum(question, whole)
        ) / (self.faq_question + self.faq_whole + self.faq_sentence + self.faq_max)
        passage = (
            (1.0 - self.passage_sentence - self.passage_max) * whole
            + self.passage_sentence * sentence
            + self.passage_max * np.maximum(whole, sentence)
        )
        return np.where(is_faq, faq, passage)

    def fuse(self, grains: np.ndarray, is_faq: np.ndarray, keyword: np.ndarray) -> np.ndarray:
        """Fused score per candidate; ``keyword`` is raw BM25, ``(..., n)``."""
        return self.combine(self.dense(grains, is_faq), is_faq, normalise_keyword(keyword))

    def combine(self, dense: np.ndarray, is_faq: np.ndarray, keyword: np.ndarray) -> np.ndarray:
        """The last step of `fuse`: dense scores and keyword scores already in [0, 1]."""
        weight = np.where(is_faq, self.faq_keyword, self.passage_keyword)
        return (1.0 - weight) * dense + weight * keyword


TODAY = Fusion(0.0, 0.0, 0.0, 1.0, 0.0, 0.0, faq_keyword=0.05, passage_keyword=0.3)
"""Before grains: the max of an FAQ entry's rows, whole-text passages (kept for comparison)."""

DEFAULT_FUSION = Fusion(0.25, 0.25, 0.25, 0.25, 0.25, 0.25, faq_keyword=0.0, passage_keyword=0.4)
"""The smallest largest regret over the dev corpora (``bench/results/fusion.md``)."""


def normalise_keyword(keyword: np.ndarray) -> np.ndarray:
    """BM25 divided by the best BM25 among the question's candidates (last axis); 0 if none."""
    top = keyword.max(axis=-1, keepdims=True) if keyword.shape[-1] else keyword
    return np.divide(keyword, top, out=np.zeros_like(keyword, dtype=float), where=top > 0)


def passage_offsets(row_passage: np.ndarray, passages: int) -> np.ndarray:
    """``offsets[n]:offsets[n + 1]`` are passage ``n``'s rows (rows must be grouped by passage)."""
    if len(row_passage) and np.any(np.diff(row_passage) < 0):
        raise ValueError("rows must be stored passage by passage")
    return np.searchsorted(row_passage, np.arange(passages + 1)).astype(np.int64)


def gather_rows(offsets: np.ndarray, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The row numbers of ``candidates`` and, for each row, its candidate's position."""
    starts, ends = offsets[candidates], offsets[np.asarray(candidates) + 1]
    lengths = ends - starts
    owner = np.repeat(np.arange(len(candidates)), lengths)
    first = np.cumsum(lengths) - lengths
    rows = np.arange(int(lengths.sum())) - np.repeat(first, lengths) + np.repeat(starts, lengths)
    return rows, owner


def grain_maxima(
    row_scores: np.ndarray, owner: np.ndarray, grain: np.ndarray, candidates: int
) -> np.ndarray:
    """Best score per candidate and grain, ``(..., candidates, 3)``.

    ``row_scores`` is ``(..., rows)``, the cosine of each gathered row; ``owner`` and ``grain``
    say whose row it is. A missing question grain stays ``-inf`` (`Fusion` ignores it); a
    missing sentence grain takes the whole score (a one-sentence passage is its sentence).
    """
    row_scores = np.asarray(row_scores, dtype=np.float32)
    out = np.full((*row_scores.shape[:-1], candidates * 3), -np.inf, dtype=np.float32)
    if row_scores.shape[-1]:
        segment = owner * 3 + grain
        # Rows are grouped by passage and grain, so each segment is one run: reduceat is a max.
        starts = np.flatnonzero(np.r_[True, segment[1:] != segment[:-1]])
        if np.any(np.diff(segment[starts]) <= 0):
            raise ValueError("rows must be grouped by passage, then grain")
        out[..., segment[starts]] = np.maximum.reduceat(row_scores, starts, axis=-1)
    out = out.reshape(*row_scores.shape[:-1], candidates, 3)
    missing = ~np.isfinite(out[..., GRAIN_SENTENCE])
    out[..., GRAIN_SENTENCE] = np.where(missing, out[..., GRAIN_WHOLE], out[..., GRAIN_SENTENCE])
    return out


def best_sentence_rows(
    row_scores: np.ndarray, rows: np.ndarray, owner: np.ndarray, grain: np.ndarray, candidates: int
) -> np.ndarray:
    """Each candidate's best sentence row (its highlight), -1 for one without sentence rows.

    Of equal scores the first row wins, as with ``argmax``.
    """
    best = np.full(candidates, -1, dtype=np.int64)
    sentence = grain == GRAIN_SENTENCE
    if sentence.any():
        whose, scores, numbers = owner[sentence], row_scores[sentence], rows[sentence]
        order = np.lexsort((-scores, whose))  # by candidate, best first; stable on ties
        first = np.r_[True, whose[order][1:] != whose[order][:-1]]
        best[whose[order][first]] = numbers[order][first]
    return best


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
        grains: its ``(3,)`` grain maxima.
        matched: `matched_share` of its text.
        question_bm25: raw BM25 of the question against FAQ questions only (best entry; 0 for
            a corpus without FAQ entries). Squashed to ``x / (x + 5)`` so one big match cannot
            dominate.
        absent: `absent_share` of the question.
        type_missing: 1.0 when the question asks for a time or quantity its text cannot hold
            (`qabot.answer_types.type_missing`).
        absent_name: 1.0 when the question names something the corpus never mentions
            (`qabot.answer_types.absent_name`).
    """
    squashed = question_bm25 / (question_bm25 + 5.0) if question_bm25 > 0 else 0.0
    return np.array(
        [
            dense,
            margin_,
            grains[GRAIN_WHOLE],
            grains[GRAIN_SENTENCE],
            matched,
            squashed,
            absent,
            type_missing,
            absent_name,
        ],
        dtype=float,
    )
