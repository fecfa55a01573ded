"""Knowledge-base lint: a corpus in, `Finding` records out.

What it looks for, because each one makes an FAQ bot answer wrongly or not at all:

- ``conflicting-questions``: FAQ questions that are the same (after `normalise_question`) or
  near-duplicates (cosine of their embeddings at least ``question_similarity``) but have
  different answers: whichever ranks first wins, so an exact question can get the other answer.
- ``empty-answer``: an FAQ question with no answer (it is never indexed).
- ``corpus-problem``: a file or row that could not be read.
- ``no-passages``: a document that yielded nothing to retrieve.
- ``near-identical-passages``: passages whose embeddings are at least ``passage_similarity``
  alike (copied text): they split the votes and crowd other passages out of the results.

Similar entries are grouped (any chain of similar pairs is one group), one finding per group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import numpy as np

from qabot.answering.retrieval import normalise_question
from qabot.documents.chunking import DEFAULT_MAX_CHARS, Passage, chunk_document
from qabot.documents.corpus import load_corpus
from qabot.documents.files import printable
from qabot.documents.structure import parse_structure
from qabot.evaluation.questionsets import normalise_text
from qabot.models.embedding import Embedder

DEFAULT_QUESTION_SIMILARITY = 0.92
DEFAULT_PASSAGE_SIMILARITY = 0.97
FindingKind = Literal[
    "conflicting-questions",
    "empty-answer",
    "corpus-problem",
    "no-passages",
    "near-identical-passages",
]
KINDS: tuple[FindingKind, ...] = get_args(FindingKind)  # the order findings are reported in
_BLOCK = 1024


@dataclass(frozen=True)
class Finding:
    """One problem: its kind (the code tools match on), a sentence, the entries involved."""

    kind: FindingKind
    message: str
    locations: tuple[str, ...]
    similarity: float | None = None

    def __str__(self) -> str:
        return "\n".join(
            [f"{self.kind}: {self.message}", *(f"  {printable(x)}" for x in self.locations)]
        )


def lint_corpus(
    corpus_path: Path | str,
    embedder: Embedder,
    *,
    question_similarity: float = DEFAULT_QUESTION_SIMILARITY,
    passage_similarity: float = DEFAULT_PASSAGE_SIMILARITY,
    max_chars: int = DEFAULT_MAX_CHARS,
    follow_symlinks: bool = False,
) -> list[Finding]:
    """Every finding for the corpus at ``corpus_path``, in the order of `KINDS`.

    ``follow_symlinks`` reads links leaving the corpus folder (else they are findings).

    Raises:
        CorpusError / EmptyCorpusError: the corpus cannot be read at all.
    """
    corpus = load_corpus(corpus_path, follow_symlinks=follow_symlinks)
    findings: list[Finding] = []
    for problem in corpus.problems:
        # The corpus reader already reports FAQ rows without an answer; name them for what they are.
        kind: FindingKind = "empty-answer" if problem.code == "empty-answer" else "corpus-problem"
        findings.append(Finding(kind, problem.message, (problem.path,)))
    passages: list[Passage] = []
    for document in corpus.documents:
        chunks = chunk_document(document, max_chars)
        if not chunks:
            findings.append(
                Finding("no-passages", "the document yielded no passages", (document.path,))
            )
        passages += chunks
        if document.question is None and document.format not in ("jsonl", "csv"):
            for pair in parse_structure(document.text).faq:
                if not pair.answer.strip():
                    findings.append(
                        Finding(
                            "empty-answer",
                            f"FAQ question {pair.question!r} has no answer",
                            (document.path,),
                        )
                    )
    findings += conflicting_questions(
        [p for p in passages if p.kind == "faq"], embedder, question_similarity
    )
    findings += near_identical_passages(
        [p for p in passages if p.kind == "passage"], embedder, passage_similarity
    )
    return sorted(findings, key=lambda f: KINDS.index(f.kind))


def conflicting_questions(
    entries: Sequence[Passage], embedder: Embedder, similarity: float
) -> list[Finding]:
    """Groups of same or near-duplicate FAQ questions that do not share one answer."""
    if len(entries) < 2:
        return []
    questions = [p.question or "" for p in entries]
    findings = []
    for group, best in _groups(len(entries), _alike(questions, embedder, similarity)):
        answers = {normalise_text(entries[i].text) for i in group}
        if len(answers) < 2:
            continue
        findings.append(
            Finding(
                "conflicting-questions",
                f"{len(group)} FAQ questions alike (similarity {best:.2f}) with "
                f"{len(answers)} different answers",
                tuple(f"{entries[i].passage_id}: {entries[i].question}" for i in group),
                best,
            )
        )
    return findings


def near_identical_passages(
    passages: Sequence[Passage], embedder: Embedder, similarity: float
) -> list[Finding]:
    """Groups of passages whose texts are (nearly) the same."""
    if len(passages) < 2:
        return []
    findings = []
    texts = [p.text for p in passages]
    for group, best in _groups(len(passages), _alike(texts, embedder, similarity)):
        findings.append(
            Finding(
                "near-identical-passages",
                f"{len(group)} passages nearly identical (similarity {best:.2f})",
                tuple(f"{passages[i].passage_id}: {_excerpt(passages[i].text)}" for i in group),
                best,
            )
        )
    return findings


def similar_pairs(vectors: np.ndarray, similarity: float) -> list[tuple[int, int, float]]:
    """Pairs ``(i, j, cosine)`` with ``i < j`` and cosine at least ``similarity``.

    ``vectors`` are L2-normalised; compared block by block so memory stays small.
    """
    pairs = []
    for start in range(0, len(vectors), _BLOCK):
        sims = vectors[start : start + _BLOCK] @ vectors.T
        rows, cols = np.nonzero(sims >= similarity)
        for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
            if start + row < col:
                pairs.append((start + row, col, float(sims[row, col])))
    return pairs


def _alike(
    texts: Sequence[str], embedder: Embedder, similarity: float
) -> list[tuple[int, int, float]]:
    """Similar pairs by embedding, plus pairs equal once case and punctuation are ignored."""
    pairs = similar_pairs(embedder.embed_batch(list(texts)), similarity)
    same: dict[str, list[int]] = {}
    for i, text in enumerate(texts):
        if key := normalise_question(text):
            same.setdefault(key, []).append(i)
    return pairs + [(group[0], j, 1.0) for group in same.values() for j in group[1:]]


def _groups(size: int, pairs: Sequence[tuple[int, int, float]]) -> list[tuple[list[int], float]]:
    """Connected groups of the pairs (union-find), each with its highest similarity."""
    parent = list(range(size))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j, _ in pairs:
        parent[root(i)] = root(j)
    members: dict[int, list[int]] = {}
    best: dict[int, float] = {}
    for i, _, score in pairs:
        r = root(i)
        best[r] = max(best.get(r, 0.0), min(score, 1.0))
    for i in range(size):
        members.setdefault(root(i), []).append(i)
    return [(group, best[r]) for r, group in members.items() if len(group) > 1]


def _excerpt(text: str, length: int = 80) -> str:
    return text[:length] + ("…" if len(text) > length else "")
