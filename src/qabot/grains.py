"""Grain rows: the texts an index embeds for its passages, and the keyword index of FAQ questions.

Every passage owns rows tagged by grain (`qabot.evidence`), stored passage by passage and, within
a passage, in grain order (`Passage.grain_texts`). Identical texts are embedded once, in one
batch, through the embedding cache (`qabot.embed_cache`): the sentences add nothing to the cost
of a question, only to that of a build.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qabot.chunking import Passage
from qabot.lexical import LexicalIndex


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


def faq_question_index(passages: Sequence[Passage]) -> LexicalIndex | None:
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
    return LexicalIndex.build([pid for pid, _ in rows], [q for _, q in rows])
