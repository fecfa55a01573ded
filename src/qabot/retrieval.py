"""Hybrid retrieval: a question in, ranked `Hit` records out.

Dense (cosine of sentence embeddings) and keyword (BM25) scores are fused per passage:

    score = (1 - w) * cosine + w * bm25 / max_bm25_for_this_question

where ``w`` is the keyword weight of the passage's kind (passage or FAQ entry).
The dense part keeps an absolute meaning (a cosine), so a confidence threshold on ``score``
means the same thing from one question to the next; the keyword part only reorders. An FAQ
question asked verbatim always ranks its own entry first.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qabot.chunking import Passage
from qabot.embedding import Embedder
from qabot.index import Index

# Chosen on dev splits only (bench/README): passages gain from keyword evidence (SciFact train),
# while FAQ entries are best matched by their human-written question (StackFAQ dev block).
DEFAULT_LEXICAL_WEIGHT = 0.3
DEFAULT_FAQ_LEXICAL_WEIGHT = 0.05
DEFAULT_CANDIDATES = 100


@dataclass(frozen=True)
class Hit:
    """One retrieved passage: fused ``score`` (higher is better) and its two parts."""

    passage: Passage
    score: float
    dense_score: float
    lexical_score: float


def normalise_question(text: str) -> str:
    """Case-, accent-, punctuation- and numbering-insensitive form of a question."""
    text = unicodedata.normalize("NFKD", text).casefold()
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"^\s*(?:q\s*\d*\s*[:.)]|\d+[.)])\s*", "", text)
    return " ".join(re.findall(r"\w+", text))


def fuse(dense: np.ndarray, lexical: np.ndarray, lexical_weight: float | np.ndarray) -> np.ndarray:
    """Fused scores of one question's candidates (pure maths: arrays in, array out).

    ``lexical_weight`` is one weight, or one per candidate.
    """
    top = float(lexical.max()) if len(lexical) else 0.0
    normalised = lexical / top if top > 0 else np.zeros_like(lexical)
    return (1.0 - lexical_weight) * dense + lexical_weight * normalised


class Retriever:
    """Finds the passages and FAQ entries that best match a question.

    Args:
        index: the loaded index to search.
        embedder: the model the index was built with.
        lexical_weight: share of the keyword score in a passage's fused score (0 = dense only).
        faq_lexical_weight: the same for FAQ entries.
        candidates: how many passages each method proposes before fusion.
    """

    def __init__(
        self,
        index: Index,
        embedder: Embedder,
        *,
        lexical_weight: float = DEFAULT_LEXICAL_WEIGHT,
        faq_lexical_weight: float = DEFAULT_FAQ_LEXICAL_WEIGHT,
        candidates: int = DEFAULT_CANDIDATES,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.lexical_weight = lexical_weight
        self.faq_lexical_weight = faq_lexical_weight
        self.candidates = candidates
        self._faq_by_question: dict[str, list[str]] = {}
        for passage in index.passages:
            if passage.kind == "faq" and passage.question:
                key = normalise_question(passage.question)
                self._faq_by_question.setdefault(key, []).append(passage.passage_id)

    def search(self, question: str, top_k: int = 10) -> list[Hit]:
        """The ``top_k`` best hits for one question: ``search_batch([question])[0]``."""
        return self.search_batch([question], top_k)[0]

    def search_batch(self, questions: Sequence[str], top_k: int = 10) -> list[list[Hit]]:
        """The ``top_k`` best hits for each question, best first (fewer if the index is small)."""
        if not questions:
            return []
        pool = max(top_k, self.candidates)
        query_vectors = self.embedder.embed_batch(list(questions))
        dense_hits = self.index.store.search_batch(query_vectors, pool)
        lexical_scores = self.index.lexical.scores_batch(questions)
        lexical_position = self.index.lexical.position
        results = []
        for q, question in enumerate(questions):
            dense = dict(dense_hits[q])
            keyword_row = lexical_scores[q]
            top_lexical = np.argsort(-keyword_row, kind="stable")[:pool]
            forced = self._faq_by_question.get(normalise_question(question), [])
            ids = list(dict.fromkeys([*dense, *forced]))
            ids += [
                self.index.lexical.ids[i]
                for i in top_lexical
                if keyword_row[i] > 0 and self.index.lexical.ids[i] not in ids
            ]
            missing = [pid for pid in ids if pid not in dense]
            dense.update(
                zip(missing, self.index.store.scores(query_vectors[q], missing), strict=True)
            )
            dense_arr = np.array([dense[pid] for pid in ids], dtype=np.float32)
            lexical_arr = np.array(
                [keyword_row[lexical_position[pid]] for pid in ids], dtype=np.float32
            )
            weights = np.array(
                [
                    self.faq_lexical_weight
                    if self.index.passage(pid).kind == "faq"
                    else self.lexical_weight
                    for pid in ids
                ],
                dtype=np.float32,
            )
            fused = fuse(dense_arr, lexical_arr, weights)
            for pid in forced:
                fused[ids.index(pid)] = max(1.0, float(fused[ids.index(pid)])) + 1e-3
            order = np.argsort(-fused, kind="stable")[:top_k]
            results.append(
                [
                    Hit(
                        self.index.passage(ids[i]),
                        float(fused[i]),
                        float(dense_arr[i]),
                        float(lexical_arr[i]),
                    )
                    for i in order
                ]
            )
        return results
