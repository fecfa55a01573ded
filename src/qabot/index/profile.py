"""What a collection looks like, measured at build time without labels: its profile.

A profile is a small plain record, written to the manifest, that answering reads to adapt
its ranking to the collection (`qabot.answering.adaptive`). Today it holds one measure:

``question_answer_cosine``
    the mean cosine between an FAQ entry's question and its whole entry (question and
    answer), over the FAQ entries. High (about 0.8 for MiniLM on StackExchange-style FAQs)
    when questions say what their answers are about; low (0.6 on government rule snippets
    headed "1. Overview", "Eligibility") when the heading says little and users ask about
    the answer's content.

The measure is on the vectors the build has just embedded: one dot product per FAQ entry.
"""

from __future__ import annotations

import numpy as np

from qabot.documents.grains import GRAIN_QUESTION, GRAIN_WHOLE


def collection_profile(
    vectors: np.ndarray, row_passage: np.ndarray, row_grain: np.ndarray
) -> dict[str, float | int | None]:
    """The profile of a collection from its grain rows (normalised vectors, rows grouped by
    passage as `qabot.index.grains.grain_rows` gives them).

    Returns ``{"faq_entries": n, "question_answer_cosine": mean or None}``; the mean is None
    when the collection has no FAQ entry.
    """
    row_passage = np.asarray(row_passage)
    row_grain = np.asarray(row_grain)
    question = _first_row_of(row_passage, row_grain == GRAIN_QUESTION)
    whole = _first_row_of(row_passage, row_grain == GRAIN_WHOLE)
    entries = np.intersect1d(np.fromiter(question, int), np.fromiter(whole, int))
    if not len(entries):
        return {"faq_entries": 0, "question_answer_cosine": None}
    q = np.asarray(vectors[[question[e] for e in entries]], dtype=np.float32)
    w = np.asarray(vectors[[whole[e] for e in entries]], dtype=np.float32)
    cosine = float(np.mean(np.sum(q * w, axis=1)))
    return {"faq_entries": len(entries), "question_answer_cosine": round(cosine, 4)}


def _first_row_of(row_passage: np.ndarray, selected: np.ndarray) -> dict[int, int]:
    """For each passage with a selected row, the number of its first selected row."""
    rows = np.flatnonzero(selected)
    owners, first = np.unique(row_passage[rows], return_index=True)
    return {int(o): int(rows[f]) for o, f in zip(owners, first, strict=True)}
