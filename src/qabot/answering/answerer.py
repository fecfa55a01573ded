"""Answering: hits in, one `Answer` record out — the documents' own words, with their source.

No text is generated. The answer is the best FAQ entry's answer or the best passage, with its
sentence most similar to the question marked. ``score`` is P(the answer is right), read by a
monotone confidence model (`qabot.answering.confidence`) from the hit's evidence (`qabot.answering.features.FEATURES`).
Below the model's threshold the answer is a plain "I don't know" (``found`` is False) with the
closest FAQ questions as suggestions.

With a verifier (`qabot.answering.verification`), a passage answer to a question is read once
more by a reader that gives its own P(the text answers the question) (``verifier``) and the
answer's exact words inside it (``span``). The verified confidence model (the shipped one when
the verifier is on) reads that probability as its last feature, so the verifier takes part in
the decision: an on-topic passage that does not say what was asked is declined more often.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

import numpy as np

from qabot.answering.answer import DECLINE_MESSAGE, Alternative, Answer, Source
from qabot.answering.confidence import ConfidenceModel, default_model
from qabot.answering.facts import QUESTIONS_KEPT, IndexFacts
from qabot.answering.features import VERIFIED_FEATURES, hit_features, verifier_columns
from qabot.answering.questions import clean_question
from qabot.answering.retrieval import Hit, Retriever
from qabot.answering.smalltalk import Coverage, SmallTalk, coverage_of
from qabot.answering.verification import answer_span, reads, verifier_text
from qabot.documents.chunking import Passage
from qabot.errors import QuestionError
from qabot.index.manifest import IndexManifest
from qabot.models.reranking import Reranker, rerank_hits
from qabot.models.verifier import Verdict, Verifier

DEFAULT_ALTERNATIVES = 2
MAX_ALTERNATIVES = 20  # the most a caller may ask for: the API and the command line cap it here
DEFAULT_RERANK_TOP_K = 10  # candidates a reranker rescores: the answer and its close rivals
_SUGGESTION_POOL = 10


class Answerer:
    """Turns questions into answers with a `Retriever`.

    Args:
        retriever: finds the candidate passages.
        confidence: reads P(right) from the top hit's evidence (by default the shipped model:
            the verified one when there is a ``verifier``).
        threshold: the lowest probability that counts as an answer (default: that of the
            model).
        alternatives: next-best matches offered beside each answer.
        reranker: reorders the first ``rerank_top_k`` hits (``--reranker``).
        verifier: reads passage answers to questions: its probability feeds a confidence model
            that reads it (the verified model), and it finds their exact words
            (``--no-verifier``: None).
        smalltalk: replies to "hello", "help"... when the documents do not answer (None: the
            decline message).
    """

    def __init__(
        self,
        retriever: Retriever,
        *,
        confidence: ConfidenceModel | None = None,
        threshold: float | None = None,
        alternatives: int = DEFAULT_ALTERNATIVES,
        reranker: Reranker | None = None,
        rerank_top_k: int = DEFAULT_RERANK_TOP_K,
        verifier: Verifier | None = None,
        smalltalk: SmallTalk | None = None,
    ) -> None:
        self.retriever = retriever
        self.smalltalk = smalltalk
        self._coverage: Coverage | None = None
        self.confidence = confidence or default_model(verified=verifier is not None)
        self.alternatives = alternatives
        self.reranker = reranker
        self.rerank_top_k = rerank_top_k
        self.verifier = verifier
        self.threshold = self.confidence.threshold if threshold is None else threshold
        self._index_facts: IndexFacts | None = None

    # Read-only views: callers (chat, server, evaluation) never reach through to the index.
    @property
    def passages(self) -> Sequence[Passage]:
        """Every passage and FAQ entry the answers come from, in index order (read from disk
        for a loaded index: iterate it rather than hold it)."""
        return self.retriever.index.passages

    @property
    def manifest(self) -> IndexManifest:
        """What built the index in use (model, corpus, sizes)."""
        return self.retriever.index.manifest

    def search_batch(self, questions: Sequence[str], top_k: int) -> list[list[Hit]]:
        """The ranked hits behind the answers (evaluation ranks the same hits it answers with)."""
        return self.retriever.search_batch(questions, top_k)

    def settings(self) -> dict[str, float | int | str]:
        """What decides the answers besides the index (recorded in evaluation reports)."""
        fusion = self.retriever.fusion
        return {
            "threshold": self.threshold,
            "alternatives": self.alternatives,
            "keyword_weight": fusion.passage_keyword,
            "faq_keyword_weight": fusion.faq_keyword,
            "fusion": ", ".join(f"{k} {v:g}" for k, v in asdict(fusion).items()),
            "confidence_sha256": self.confidence.fingerprint(),
            "verifier_sha256": self.verifier.fingerprint if self.verifier else "",
        }

    def features(
        self,
        question: str,
        hits: Sequence[Hit],
        position: int = 0,
        verifier: float | None = None,
    ) -> np.ndarray | None:
        """The confidence features of ``hits[position]`` (`qabot.answering.features.FEATURES`
        order); None for no such hit or an FAQ question asked verbatim (it scores 1.0).

        A verified model (`qabot.answering.features.VERIFIED_FEATURES`) reads two columns more,
        from the verifier's probability ``verifier`` for the hit (None: unread); a reranker's
        score follows last (`qabot.answering.confidence.ConfidenceModel.predict`).
        """
        if position >= len(hits) or hits[position].exact:
            return None
        hit = hits[position]
        facts = self._facts()
        evidence, faq_matches = facts.question(question)
        rows = facts.faq_rows(hit.passage.passage_id)
        features = hit_features(
            question,
            evidence,
            hit.passage,
            facts.passage_tokens(hit.passage),
            dense=hit.dense_score,
            margin=hit.margin,
            grains=np.array(hit.grains),
            faq_bm25=float(faq_matches.scores_of(np.array(rows)).max()) if rows else 0.0,
        )
        verified = self.confidence.features == VERIFIED_FEATURES
        extra = [*verifier_columns(verifier)] if verified else []
        if hit.rerank_score is not None:
            extra.append(hit.rerank_score)
        return np.append(features, extra) if extra else features

    def _facts(self) -> IndexFacts:
        if self._index_facts is None:  # lazily: some callers compose without a retriever
            self._index_facts = IndexFacts(self.retriever.index)
        return self._index_facts

    def score(
        self,
        question: str,
        hits: Sequence[Hit],
        position: int = 0,
        verifier: float | None = None,
    ) -> float:
        """P(``hits[position]`` answers ``question``): 1.0 when verbatim, 0.0 without it.

        ``verifier`` is the verifier's probability for the hit, when it read it.
        """
        if position >= len(hits):
            return 0.0
        features = self.features(question, hits, position, verifier)
        return 1.0 if features is None else float(self.confidence.predict(features)[0])

    def verify(
        self, questions: Sequence[str], hits: Sequence[Sequence[Hit]]
    ) -> list[Verdict | None]:
        """The verifier's reading of each question's top hit, in one batch.

        None where there is no verifier, no hit, an FAQ question asked verbatim (its score is
        1.0 whatever a reader says), or an answer the verifier does not read (an FAQ entry, or
        a question not worded as one: `qabot.answering.verification.reads`).
        """
        verdicts: list[Verdict | None] = [None] * len(questions)
        if self.verifier is None:
            return verdicts
        todo = [
            n
            for n, h in enumerate(hits)
            if h and not h[0].exact and reads(h[0].passage, questions[n])
        ]
        pairs = [
            (questions[n], verifier_text(hits[n][0].passage, hits[n][0].highlight)[0]) for n in todo
        ]
        for n, verdict in zip(todo, self.verifier.verify_batch(pairs), strict=True):
            verdicts[n] = verdict
        return verdicts

    def rerank(self, question: str, hits: Sequence[Hit]) -> list[Hit]:
        """The hits with the first ``rerank_top_k`` reordered by the reranker, if there is one.

        Reranked hits carry the reranker's score (`Hit.rerank_score`); hits that already
        carry one are returned as they are, so ranking twice changes nothing.
        """
        if self.reranker is None:
            return list(hits)
        return rerank_hits(self.reranker, question, hits, self.rerank_top_k)

    def answer(self, question: str, alternatives: int | None = None) -> Answer:
        """Answer one question: ``answer_batch([question])[0]``."""
        return self.answer_batch([question], alternatives)[0]

    def answer_batch(
        self, questions: Sequence[str], alternatives: int | None = None
    ) -> list[Answer]:
        """Answer many questions with one batched retrieval.

        Raises:
            QuestionError: a question is empty (its position is named).
        """
        shown = self._shown(alternatives)
        cleaned = []
        for number, question in enumerate(questions, start=1):
            try:
                cleaned.append(clean_question(question))
            except QuestionError as exc:
                raise QuestionError(
                    str(exc) if len(questions) == 1 else f"Question {number}: {exc}"
                ) from exc
        hits = self.retriever.search_batch([q for q, _ in cleaned], max(shown, _SUGGESTION_POOL))
        return self._compose_batch([q for q, _ in cleaned], [t for _, t in cleaned], hits, shown)

    def compose(
        self, question: str, hits: Sequence[Hit], alternatives: int | None = None
    ) -> Answer:
        """The answer `answer_batch` gives to ``question`` when retrieval returned ``hits``.

        For callers that already searched (evaluation ranks the same hits it answers with).
        ``hits`` are best first, as `Retriever.search_batch` returns them; any number works.

        Raises:
            QuestionError: the question is empty.
        """
        return self.compose_batch([question], [hits], alternatives)[0]

    def compose_batch(
        self,
        questions: Sequence[str],
        hits: Sequence[Sequence[Hit]],
        alternatives: int | None = None,
    ) -> list[Answer]:
        """`compose` for many questions, with one batched verifier pass.

        Raises:
            QuestionError: a question is empty.
        """
        shown = self._shown(alternatives)
        cleaned = [clean_question(question) for question in questions]
        return self._compose_batch(
            [q for q, _ in cleaned],
            [t for _, t in cleaned],
            [list(h[: max(shown, _SUGGESTION_POOL)]) for h in hits],
            shown,
        )

    def _shown(self, alternatives: int | None) -> int:
        """How many hits an answer shows: the answer itself plus its alternatives."""
        return 1 + max(0, self.alternatives if alternatives is None else alternatives)

    def _compose_batch(
        self,
        questions: Sequence[str],
        truncated: Sequence[bool],
        hits: Sequence[Sequence[Hit]],
        shown: int,
    ) -> list[Answer]:
        ranked = [self.rerank(q, h) for q, h in zip(questions, hits, strict=True)]
        verdicts = self.verify(questions, ranked)
        answers: list[Answer] = []
        for start in range(0, len(questions), QUESTIONS_KEPT):
            # An answer's and its alternatives' features share what is worked out of the
            # question alone: worked out for a chunk at once, and kept while it is answered.
            chunk = slice(start, start + QUESTIONS_KEPT)
            if self.retriever is not None:  # some callers compose without one
                self._facts().questions(questions[chunk])
            cases = (questions[chunk], truncated[chunk], ranked[chunk], verdicts[chunk])
            answers += [self._compose(*case, shown) for case in zip(*cases, strict=True)]
        if self.smalltalk is None:
            return answers
        return [self.smalltalk.reply(answer, self.coverage) for answer in answers]

    def coverage(self) -> Coverage:
        """What the index covers (some titles and FAQ questions), read once."""
        if self._coverage is None:
            self._coverage = coverage_of(self.passages, self.manifest.documents)
        return self._coverage

    def _compose(
        self,
        question: str,
        truncated: bool,
        hits: list[Hit],
        verdict: Verdict | None,
        shown: int,
    ) -> Answer:
        read = None if verdict is None else verdict.probability
        score = self.score(question, hits, 0, read)
        alternatives = tuple(
            Alternative.of(hits[i].passage, score if i == 0 else self.score(question, hits, i))
            for i in range(int(score >= self.threshold), min(shown, len(hits)))
        )[: shown - 1]
        if not hits or score < self.threshold:
            suggestions = tuple(
                dict.fromkeys(h.passage.question for h in hits if h.passage.kind == "faq")
            )[:3]
            return Answer(
                question=question,
                found=False,
                kind=None,
                answer=DECLINE_MESSAGE,
                score=score,
                faq_question=None,
                source=None,
                alternatives=alternatives,
                suggestions=suggestions,
                truncated=truncated,
                verifier=read,
            )
        best = hits[0]
        return Answer(
            question=question,
            found=True,
            kind=best.passage.kind,
            answer=best.passage.text,
            score=score,
            faq_question=best.passage.question,
            source=Source.of(best.passage),
            alternatives=alternatives,
            highlight=best.highlight,
            truncated=truncated,
            verifier=read,
            span=None if verdict is None else answer_span(best.passage, verdict, best.highlight),
        )
