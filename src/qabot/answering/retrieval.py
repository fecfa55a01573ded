"""Hybrid retrieval over grain evidence: a question in, ranked `Hit` records out.

One encode per question. Candidates come from FAISS over whole and question rows and from BM25
(the best `DEFAULT_POOL` of each). Each candidate's evidence is its best cosine at each grain
(whole, question, sentence: a gather over its rows, `qabot.index.store`), fused with keyword
evidence by the formula and weights of `qabot.answering.evidence` (stated there, once).

An FAQ question (or an alternate phrasing) asked verbatim always ranks its entry first, with
fused score 1.0. Each hit's highlight is its sentence most similar to the question.

A batch's questions are ranked `RANK_CHUNK` at a time, together (`qabot.answering.ranking`): one
question alone gets exactly the hits it gets in any batch.
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
from qabot.answering.ranking import best_first, lookup, rival_margins, segment_max, union
from qabot.documents.chunking import Passage, split_sentences
from qabot.index.build import Index
from qabot.index.candidates import Candidates
from qabot.index.keyword import best_matches
from qabot.models.embedding import Embedder

DEFAULT_POOL = 100
RANK_CHUNK = 32
"""Questions ranked together: enough to spread numpy's cost per call over many questions (16 to
256 measured the same: ``bench/results/answer-profile.md``'s bench); each question's rows are
still gathered and scored alone (`qabot.index.store.VectorStore.evidence_batch`)."""


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
    if text.isascii():  # no accents to strip: the common case, kept cheap
        text = text.casefold()
    else:
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
        matches = self.index.keyword_index.matches_batch(questions)
        hits: list[list[Hit]] = []
        for start in range(0, len(questions), RANK_CHUNK):
            chunk = slice(start, start + RANK_CHUNK)
            hits += self._rank(
                questions[chunk], query_vectors[chunk], dense[chunk], matches[chunk], pool, top_k
            )
        return hits

    def _rank(
        self,
        questions: Sequence[str],
        query_vectors: np.ndarray,
        dense: Sequence[Candidates],
        matches: Sequence[Candidates],
        pool: int,
        top_k: int,
    ) -> list[list[Hit]]:
        """Rank a chunk of questions' candidates together (`qabot.answering.ranking`)."""
        stride = max(len(self._is_faq), 1)
        # An FAQ question asked verbatim is an exact match: it ranks first and scores 1.0.
        forced = [self._faq_by_question.get(normalise_question(q), []) for q in questions]
        segments = union(
            [
                (d.numbers, best_matches(m, pool).numbers, f)
                for d, m, f in zip(dense, matches, forced, strict=True)
            ],
            stride,
        )
        keyword = lookup(segments, matches, stride)
        evidence = self.index.store.evidence_batch(query_vectors, segments.numbers, segments.starts)
        is_faq = self._is_faq[segments.numbers]
        dense_part = self.fusion.dense(evidence.grains, is_faq)
        best_keyword = segment_max(keyword, segments)[segments.question]
        fused = self.fusion.fuse(evidence.grains, is_faq, keyword, best_keyword)
        asked = [q * stride + n for q, numbers in enumerate(forced) for n in numbers]
        verbatim = np.isin(segments.keys(stride), asked)
        rank = fused.copy()
        rank[verbatim] += 2.0
        order = best_first(rank, segments, top_k)
        # The margin is over the dense part: the keyword part is normalised per question, so
        # one shared word would give an off-topic question a large lead.
        margins = rival_margins(
            dense_part, fused, self._keys[segments.numbers], segments, order, RIVALS
        )
        fused[verbatim] = 1.0
        sentence_rows = best_sentence_rows(
            evidence.row_scores, evidence.rows, evidence.owner, evidence.grain, len(segments)
        )
        hits: list[list[Hit]] = [[] for _ in questions]
        columns = zip(
            segments.question[order].tolist(),
            segments.numbers[order].tolist(),
            fused[order].tolist(),
            dense_part[order].tolist(),
            keyword[order].tolist(),
            evidence.grains[order].tolist(),
            margins.tolist(),
            sentence_rows[order].tolist(),
            verbatim[order].tolist(),
            strict=True,
        )
        for question, number, score, dense_score, bm25, grains, margin, row, exact in columns:
            passage = self.index.passages[number]
            hits[question].append(
                Hit(
                    passage,
                    score,
                    dense_score,
                    bm25,
                    grains=tuple(grains),  # type: ignore[arg-type]
                    margin=margin,
                    highlight=self._highlight(passage, row),
                    exact=exact,
                )
            )
        return hits

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
