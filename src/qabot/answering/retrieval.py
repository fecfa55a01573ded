"""Hybrid retrieval over grain evidence: a question in, ranked `Hit` records out.

One encode per question. Candidates come from FAISS over whole and question rows and from BM25
(the best `DEFAULT_POOL` of each). Each candidate's evidence is its best cosine at each grain
(whole, question, sentence: a gather over its rows, `qabot.index.store`), fused with keyword
evidence by the formula and weights of `qabot.answering.evidence` (stated there, once).

An FAQ question (or an alternate phrasing) asked verbatim always ranks its entry first, with
fused score 1.0. Each hit's highlight is its sentence most similar to the question.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qabot.answering.adaptive import recorded_fusion
from qabot.answering.evidence import Fusion, best_sentence_rows
from qabot.answering.features import RIVALS, answer_key
from qabot.documents.chunking import Passage, split_sentences
from qabot.index.build import Index
from qabot.index.candidates import Candidates
from qabot.index.keyword import best_matches
from qabot.models.embedding import Embedder

DEFAULT_POOL = 100


@dataclass(frozen=True)
class Hit:
    """One retrieved passage.

    Attributes:
        passage: the passage or FAQ entry.
        fused_score: the fused ranking score (higher is better; 1.0 for a verbatim FAQ
            question). A rank, not a probability: `qabot.answering.answer.Answer.score` is that.
        dense_score: the dense part of the fusion.
        keyword_score: raw BM25 of the question on the passage.
        grains: best cosine at each grain (whole, question, sentence; question is -inf for a
            body passage).
        margin: the lead of ``dense_score`` over the best rival that is another answer (another
            FAQ question or passage); negative when behind; 1.0 when there is no other.
        highlight: the passage's sentence most similar to the question (None for a passage of
            one sentence).
        exact: the question is one of this FAQ entry's questions, asked verbatim.
        rerank_score: a reranker's score for the pair (None when no reranker read it).
    """

    passage: Passage
    fused_score: float
    dense_score: float
    keyword_score: float
    grains: tuple[float, float, float] = (0.0, 0.0, 0.0)
    margin: float = 0.0
    highlight: str | None = None
    exact: bool = False
    rerank_score: float | None = None


def normalise_question(text: str) -> str:
    """Case-, accent-, punctuation- and numbering-insensitive form of a question."""
    text = unicodedata.normalize("NFKD", text).casefold()
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"^\s*(?:q\s*\d*\s*[:.)]|\d+[.)])\s*", "", text)
    return " ".join(re.findall(r"\w+", text))


class Retriever:
    """Finds the passages and FAQ entries that best match a question.

    Args:
        index: the loaded index to search.
        embedder: the model the index was built with.
        fusion: how grain and keyword evidence are combined (`qabot.answering.evidence.Fusion`);
            None for the weights the index was built for (`qabot.answering.adaptive`).
        pool: how many passages each method (dense, keyword) proposes before fusion.
    """

    def __init__(
        self,
        index: Index,
        embedder: Embedder,
        *,
        fusion: Fusion | None = None,
        pool: int = DEFAULT_POOL,
    ) -> None:
        self.index = index
        self.embedder = embedder
        manifest = index.manifest
        self.fusion = fusion or recorded_fusion(manifest.fusion, manifest.profile)
        self.pool = pool
        # One pass over the passages (read from disk for a loaded index); only these columns
        # are kept. An answer's key (`answer_key`) is kept as the number of its first passage.
        count = len(index.passages)
        self._is_faq = np.zeros(count, dtype=bool)
        self._keys = np.arange(count, dtype=np.int64)
        first_of_key: dict[str, int] = {}
        self._faq_by_question: dict[str, list[int]] = {}
        for number, passage in enumerate(index.passages):
            if passage.kind != "faq":
                continue
            self._is_faq[number] = True
            self._keys[number] = first_of_key.setdefault(answer_key(passage), number)
            if passage.question:
                for phrasing in dict.fromkeys([passage.question, *passage.alternates]):
                    key = normalise_question(phrasing)
                    self._faq_by_question.setdefault(key, []).append(number)

    def search(self, question: str, top_k: int = 10) -> list[Hit]:
        """The ``top_k`` best hits for one question: ``search_batch([question])[0]``."""
        return self.search_batch([question], top_k)[0]

    def search_batch(self, questions: Sequence[str], top_k: int = 10) -> list[list[Hit]]:
        """The ``top_k`` best hits for each question, best first (fewer if the index is small)."""
        if not questions:
            return []
        # Passages are handled by number (`qabot.index.candidates`): the store and the keyword index
        # each propose their best `pool`, and only the union of those is scored.
        pool = max(top_k, self.pool)
        query_vectors = self.embedder.embed_batch(list(questions), role="query")
        dense = self.index.store.search_batch(query_vectors, pool)
        # Every keyword match once per question: its best `pool` propose, and it scores the union.
        matches = [self.index.keyword_index.matches(question) for question in questions]
        candidates = [
            self._candidates(question, dense[q], best_matches(matches[q], pool))
            for q, question in enumerate(questions)
        ]
        keyword_scores = [
            found.scores_of(numbers)
            for found, (numbers, _) in zip(matches, candidates, strict=True)
        ]
        return [
            self._rank(query_vectors[q], *candidates[q], keyword_scores[q], top_k)
            for q in range(len(questions))
        ]

    def _candidates(
        self, question: str, dense: Candidates, keyword: Candidates
    ) -> tuple[np.ndarray, np.ndarray]:
        """The union of dense, keyword and verbatim candidates, and the verbatim ones."""
        forced = np.array(
            self._faq_by_question.get(normalise_question(question), []), dtype=np.int64
        )
        candidates = np.unique(np.concatenate([dense.numbers, keyword.numbers, forced]))
        return candidates.astype(np.int64), forced

    def _rank(
        self,
        query_vector: np.ndarray,
        candidates: np.ndarray,
        forced: np.ndarray,
        keyword: np.ndarray,
        top_k: int,
    ) -> list[Hit]:
        evidence = self.index.store.evidence(query_vector, candidates)
        is_faq = self._is_faq[candidates]
        fused = self.fusion.fuse(evidence.grains, is_faq, keyword)
        dense = self.fusion.dense(evidence.grains, is_faq)
        rank = fused.copy()
        verbatim = np.isin(candidates, forced)
        # An FAQ question asked verbatim is an exact match: it ranks first and scores 1.0.
        rank[verbatim] += 2.0
        order = np.argsort(-rank, kind="stable")[:top_k]
        margins = self._margins(fused, dense, candidates, order)
        fused[verbatim] = 1.0
        sentence_rows = best_sentence_rows(
            evidence.row_scores, evidence.rows, evidence.owner, evidence.grain, len(candidates)
        )
        passages = [self.index.passages[candidates[i]] for i in order]
        return [
            Hit(
                passages[slot],
                float(fused[i]),
                float(dense[i]),
                float(keyword[i]),
                grains=tuple(float(g) for g in evidence.grains[i]),  # type: ignore[arg-type]
                margin=float(margins[slot]),
                highlight=self._highlight(passages[slot], int(sentence_rows[i])),
                exact=bool(verbatim[i]),
            )
            for slot, i in enumerate(order)
        ]

    def _margins(
        self, fused: np.ndarray, dense: np.ndarray, candidates: np.ndarray, order: np.ndarray
    ) -> np.ndarray:
        """The dense lead of each candidate in ``order`` over its best rival.

        Rivals are the `RIVALS` best candidates by fused score that are another answer (another
        FAQ question or passage), as the confidence model was fitted. The lead is measured on
        the dense part: the keyword part is normalised per question, so one shared word would
        give an off-topic question a large lead.
        """
        pool = np.argsort(-fused, kind="stable")[:RIVALS]
        pool_keys = self._keys[candidates[pool]]
        margins = np.ones(len(order))
        for slot, i in enumerate(order):
            rivals = pool[pool_keys != self._keys[candidates[i]]]
            if len(rivals):
                margins[slot] = dense[i] - dense[rivals].max()
        return margins

    def _highlight(self, passage: Passage, row: int) -> str | None:
        """The passage's sentence in grain ``row`` (its best by cosine); None for row -1."""
        if row < 0:
            return None
        sentences = _sentences(passage.text)
        number = self.index.store.sentence_number(row)
        return sentences[number] if 0 <= number < len(sentences) else None


@functools.lru_cache(maxsize=4096)
def _sentences(text: str) -> tuple[str, ...]:
    """`split_sentences`, kept: the same passages come back question after question."""
    return tuple(split_sentences(text))
