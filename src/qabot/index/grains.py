"""Grain rows: the texts an index embeds for its passages, and the keyword index of FAQ questions.

Every passage owns rows tagged by grain (`qabot.documents.grains`), stored passage by passage and, within
a passage, in grain order (`Passage.grain_texts`). Identical texts are embedded once, in one
batch, through the embedding cache (`qabot.index.embed_cache`): the sentences add nothing to the cost
of a question, only to that of a build.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qabot.documents.chunking import Passage
from qabot.documents.grains import GRAIN_SENTENCE, GRAIN_WHOLE
from qabot.index.keyword import KeywordIndex


def grain_rows(passages: Sequence[Passage]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(row_passage, row_grain, row_text) of every grain row of every passage, in order."""
    owner: list[int] = []
    grain: list[int] = []
    text: list[str] = []
    for number, passage in enumerate(passages):
        for row_grain, row_text in passage.grain_texts():
            owner.append(number)
            grain.append(row_grain)
            text.append(row_text)
    return np.array(owner, dtype=np.int32), np.array(grain, dtype=np.int8), text


def faq_question_index(passages: Sequence[Passage]) -> KeywordIndex | None:
    """BM25 over FAQ questions only, one row per phrasing (ids repeat); None without FAQ entries.

    Raw BM25 of a question on its entry's own question is evidence for the confidence.
    """
    rows = [
        (p.passage_id, q)
        for p in passages
        if p.kind == "faq"
        for q in dict.fromkeys([p.question or "", *p.alternates])
    ]
    if not rows:
        return None
    return KeywordIndex.build([pid for pid, _ in rows], [q for _, q in rows])


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
        starts = run_starts(segment)
        if np.any(np.diff(segment[starts]) <= 0):
            raise ValueError("rows must be grouped by passage, then grain")
        out[..., segment[starts]] = np.maximum.reduceat(row_scores, starts, axis=-1)
    out = out.reshape(*row_scores.shape[:-1], candidates, 3)
    missing = ~np.isfinite(out[..., GRAIN_SENTENCE])
    out[..., GRAIN_SENTENCE] = np.where(missing, out[..., GRAIN_WHOLE], out[..., GRAIN_SENTENCE])
    return out


def run_starts(values: np.ndarray) -> np.ndarray:
    """Where each run of equal consecutive values starts (positions, ascending)."""
    change = np.empty(len(values), dtype=bool)
    change[:1] = True
    np.not_equal(values[1:], values[:-1], out=change[1:])
    return np.flatnonzero(change)
