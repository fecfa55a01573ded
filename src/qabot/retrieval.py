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
        self._is_faq = np.array([p.kind == "faq" for p in index.passages], dtype=bool)
        self._faq_by_question: dict[str, list[int]] = {}
        for number, passage in enumerate(index.passages):
            if passage.kind == "faq" and passage.question:
                key = normalise_question(passage.question)
                self._faq_by_question.setdefault(key, []).append(number)

    def search(self, question: str, top_k: int = 10) -> list[Hit]:
        """The ``top_k`` best hits for one question: ``search_batch([question])[0]``."""
        return self.search_batch([question], top_k)[0]

    def search_batch(self, questions: Sequence[str], top_k: int = 10) -> list[list[Hit]]:
        """The ``top_k`` best hits for each question, best first (fewer if the index is small)."""
        if not questions:
            return []
        # Passages are handled by number (their position in index.passages, which the store
        # and the keyword index share), so each question's candidates are scored in one go.
        pool = max(top_k, self.candidates)
        query_vectors = self.embedder.embed_batch(list(questions))
        dense_numbers = self.index.store.search_numbers(query_vectors, pool)
        keyword_scores = self.index.lexical.scores_batch(questions)
        return [
            self._rank(question, query_vectors[q], dense_numbers[q], keyword_scores[q], pool, top_k)
            for q, question in enumerate(questions)
        ]

    def _rank(
        self,
        question: str,
        query_vector: np.ndarray,
        dense_numbers: np.ndarray,
        keyword_row: np.ndarray,
        pool: int,
        top_k: int,
    ) -> list[Hit]:
        if pool < len(keyword_row):
            keyword_numbers = np.argpartition(-keyword_row, pool - 1)[:pool]
        else:
            keyword_numbers = np.arange(len(keyword_row))
        keyword_numbers = keyword_numbers[keyword_row[keyword_numbers] > 0]
        forced = np.array(
            self._faq_by_question.get(normalise_question(question), []), dtype=np.int64
        )
        candidates = np.unique(np.concatenate([dense_numbers, keyword_numbers, forced]))
        dense = self.index.store.score_numbers(query_vector, candidates)
        keyword = keyword_row[candidates]
        weights = np.where(self._is_faq[candidates], self.faq_lexical_weight, self.lexical_weight)
        fused = fuse(dense, keyword, weights)
        rank = fused.copy()
        if len(forced):
            # An FAQ question asked verbatim is an exact match: it ranks first and scores 1.0.
            verbatim = np.isin(candidates, forced)
            rank[verbatim] += 2.0
            fused[verbatim] = 1.0
        order = np.argsort(-rank, kind="stable")[:top_k]
        passages = self.index.passages
        return [
            Hit(
                passages[candidates[i]],
                float(fused[i]),
                float(dense[i]),
                float(keyword[i]),
            )
            for i in order
        ]
