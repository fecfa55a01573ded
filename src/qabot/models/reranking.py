"""Reranking: a cross-encoder reads the question with each top candidate and scores the pair.

Optional, and slower than the dense search (one transformer pass per candidate), so it runs
only over the few best hits. The contract is one method, `Reranker.score_pairs`; `rerank`
is the pure step that reorders hits by those scores. `CrossEncoderReranker` loads a local
sentence-transformers `CrossEncoder` folder; nothing is ever downloaded.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np

from qabot.errors import ModelError

DEFAULT_RERANK_TOP_K = 10
DEFAULT_BATCH_SIZE = 32

T = TypeVar("T")
H = TypeVar("H", bound=Any)  # a retrieval hit: has ``passage`` and ``rerank_score``


@runtime_checkable
class Reranker(Protocol):
    """Anything that scores (question, text) pairs; higher means the text answers better.

    ``name`` identifies the model (for reports).
    """

    name: str

    def score_pairs(self, question: str, texts: Sequence[str]) -> np.ndarray:
        """Return float32 scores, shape ``(len(texts),)``, one per ``(question, text)`` pair."""
        ...


def rerank(hits: Sequence[T], scores: np.ndarray, top_k: int) -> tuple[list[T], np.ndarray]:
    """Reorder the first ``top_k`` hits by their reranker ``scores``, best first.

    ``scores`` holds one score per hit of ``hits[:top_k]``, in that order. Equal scores keep
    the retrieval order; hits after ``top_k`` follow unchanged. Returns the reordered hits and
    the scores in the new order (as many as were given).

    Raises:
        ValueError: ``scores`` does not hold one score per hit of ``hits[:top_k]``.
    """
    head = list(hits[: max(0, top_k)])
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)
    if len(scores) != len(head):
        raise ValueError(f"{len(scores)} reranker scores for {len(head)} hits.")
    order = np.argsort(-scores, kind="stable")
    return [head[i] for i in order] + list(hits[len(head) :]), scores[order]


def rerank_hits(reranker: Reranker, question: str, hits: Sequence[H], top_k: int) -> list[H]:
    """Hits (`qabot.answering.retrieval.Hit`) with the first ``top_k`` reordered by ``reranker``.

    Each reranked hit carries the reranker's score (``rerank_score``); hits that already
    carry one are returned as they are, so ranking twice changes nothing.
    """
    hits = list(hits)
    if not hits or hits[0].rerank_score is not None:
        return hits
    head = hits[:top_k]
    texts = [
        f"{h.passage.question}\n{h.passage.text}" if h.passage.question else h.passage.text
        for h in head
    ]
    reordered, scores = rerank(hits, reranker.score_pairs(question, texts), len(head))
    scored = [
        replace(h, rerank_score=float(s))
        for h, s in zip(reordered[: len(scores)], scores, strict=True)
    ]
    return scored + reordered[len(scored) :]


class CrossEncoderReranker:
    """A `Reranker` backed by a local sentence-transformers `CrossEncoder` with one output.

    Args:
        path: a folder holding a cross-encoder (a model for sequence classification with one
            label, e.g. one trained for passage reranking). Never a hub name: nothing is
            downloaded.
        batch_size: pairs scored per forward pass.
        device: torch device string.

    Raises:
        ModelError: the folder is missing, is not a one-output cross-encoder, or cannot load.
    """

    def __init__(
        self, path: str | Path, *, batch_size: int = DEFAULT_BATCH_SIZE, device: str = "cpu"
    ) -> None:
        self.name = str(path)
        self.batch_size = batch_size
        folder = Path(path)
        _check_folder(folder)
        from sentence_transformers import CrossEncoder

        try:
            self.model = CrossEncoder(str(folder), device=device, local_files_only=True)
        except Exception as exc:  # sentence-transformers raises many types for a bad model
            raise ModelError(f"Could not load reranker {self.name!r}: {exc}") from exc
        if self.model.num_labels != 1:
            raise ModelError(
                f"Reranker {self.name!r} has {self.model.num_labels} outputs; a reranker "
                "gives one score per pair (num_labels 1)."
            )

    def score_pairs(self, question: str, texts: Sequence[str]) -> np.ndarray:
        """See `Reranker.score_pairs`; scores are the model's own (a sigmoid: 0 to 1)."""
        if not texts:
            return np.zeros(0, dtype=np.float32)
        scores = self.model.predict(
            [(question, text) for text in texts],
            batch_size=self.batch_size,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(scores, dtype=np.float32).reshape(len(texts))

    def __repr__(self) -> str:
        return f"CrossEncoderReranker({self.name!r})"


def _check_folder(folder: Path) -> None:
    """Refuse what would not load offline, or would load as a cross-encoder with a random head."""
    if not folder.is_dir():
        raise ModelError(
            f"Reranker {str(folder)!r} is not a folder. Pass the local folder of a "
            "sentence-transformers CrossEncoder; models are never downloaded."
        )
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(
            f"Reranker folder {str(folder)!r} has no readable config.json; is it a model?"
        ) from exc
    architectures = config.get("architectures") or []
    # An embedding model (e.g. BertModel) would load too, with an untrained scoring head.
    if not any(str(a).endswith("ForSequenceClassification") for a in architectures):
        raise ModelError(
            f"{str(folder)!r} is not a cross-encoder: its config.json names "
            f"{', '.join(map(str, architectures)) or 'no architecture'}, not a "
            "...ForSequenceClassification model. A reranker must be trained to score pairs."
        )
