"""Evidence at several grains and one fused score: the ranking maths.

Pure retrieval maths: numpy arrays in, arrays and plain records out (no model, no faiss).

A question's evidence for a candidate is its best cosine at each grain (`qabot.documents.grains`;
the index gathers the candidate's rows and takes a per-grain max, `qabot.index.grains`). The fused score is a fixed, readable formula::

    FAQ entry:  dense = a·q→question + b·q→(question+answer) + c·q→best answer sentence
                        + m·max(q→question, q→(question+answer))      (a + b + c + m = 1)
    passage:    dense = (1 - s - p)·q→whole + s·q→best sentence + p·max(q→whole, q→best sentence)
    score       = (1 - w_kind)·dense + w_kind·bm25 / max bm25 over the question's candidates

The weights in `DEFAULT_FUSION` are the question-led end of the adaptive fusion
(`qabot.answering.adaptive`), chosen by ``bench/adaptive_fusion.py`` for the best worst case
over five dev corpora (``bench/results/adaptive-fusion.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qabot.documents.grains import GRAIN_QUESTION, GRAIN_SENTENCE, GRAIN_WHOLE
from qabot.index.grains import run_starts


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

    def fuse(
        self,
        grains: np.ndarray,
        is_faq: np.ndarray,
        keyword: np.ndarray,
        top: np.ndarray | None = None,
    ) -> np.ndarray:
        """Fused score per candidate; ``keyword`` is raw BM25, ``(..., n)``, and ``top`` its
        best per question (`normalise_keyword`)."""
        return self.combine(self.dense(grains, is_faq), is_faq, normalise_keyword(keyword, top))

    def combine(self, dense: np.ndarray, is_faq: np.ndarray, keyword: np.ndarray) -> np.ndarray:
        """The last step of `fuse`: dense scores and keyword scores already in [0, 1]."""
        weight = np.where(is_faq, self.faq_keyword, self.passage_keyword)
        return (1.0 - weight) * dense + weight * keyword


DEFAULT_FUSION = Fusion(0.25, 0.0, 0.25, 0.5, 0.0, 0.5, faq_keyword=0.0, passage_keyword=0.4)
"""The question-led formula: for passages, and for FAQ entries whose questions describe their
answers; `qabot.answering.adaptive` slides FAQ weights away from it where they do not
(chosen with it on five dev corpora: ``bench/results/adaptive-fusion.md``)."""


def normalise_keyword(keyword: np.ndarray, top: np.ndarray | None = None) -> np.ndarray:
    """BM25 divided by the best BM25 among the question's candidates; 0 if none.

    ``top`` is that best, per entry (for a batch of questions laid out flat); None: the best
    along the last axis, which then holds one question's candidates.
    """
    if top is None:
        top = keyword.max(axis=-1, keepdims=True) if keyword.shape[-1] else keyword
    return np.divide(keyword, top, out=np.zeros_like(keyword, dtype=float), where=top > 0)


def best_sentence_rows(
    row_scores: np.ndarray, rows: np.ndarray, owner: np.ndarray, grain: np.ndarray, candidates: int
) -> np.ndarray:
    """Each candidate's best sentence row (its highlight), -1 for one without sentence rows.

    Rows are grouped by candidate (as `qabot.index.grains.gather_rows` gives them). Of equal
    scores the first row wins, as with ``argmax``.
    """
    best = np.full(candidates, -1, dtype=np.int64)
    sentence = np.flatnonzero(grain == GRAIN_SENTENCE)
    if not len(sentence):
        return best
    whose, scores = owner[sentence], row_scores[sentence]
    runs = run_starts(whose)
    top = np.repeat(np.maximum.reduceat(scores, runs), np.diff(runs, append=len(sentence)))
    # The first row of each run that scores its run's best: a min over positions, no sort.
    first = np.minimum.reduceat(np.where(scores == top, np.arange(len(scores)), len(scores)), runs)
    best[whose[runs]] = rows[sentence[first]]
    return best
