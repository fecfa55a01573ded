"""Test doubles shared by the tests and by the scripts they run in fresh interpreters."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np


class FakeEmbedder:
    """Deterministic bag-of-words vectors: texts sharing words get similar vectors."""

    backend = "torch"  # vectors computed in-process, no model stored with the index
    folder = None

    def __init__(self, dimension: int = 64, name: str = "fake-embedder") -> None:
        self.dimension = dimension
        self.name = name
        self.calls: list[int] = []
        self.progress_calls: list[bool] = []
        self.roles: list[str] = []

    def embed_batch(
        self, texts: Sequence[str], *, progress: bool = False, role: str = "document"
    ) -> np.ndarray:
        # Like a model without prompts, both roles embed alike; `roles` records what was asked.
        self.calls.append(len(texts))
        self.progress_calls.append(progress)
        self.roles.append(role)
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                word = "".join(c for c in word if c.isalnum())
                if word:
                    slot = int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dimension
                    vectors[row, slot] += 1.0
            norm = np.linalg.norm(vectors[row])
            vectors[row] = vectors[row] / norm if norm else 1.0 / np.sqrt(self.dimension)
        return vectors


def fused_only_confidence(fused_threshold: float = 0.3):
    """A confidence read from the dense score alone: P >= 0.5 exactly when it is >= the threshold.

    For tests that judge answering and evaluation, not the shipped model's numbers.
    """
    from qabot.answering.confidence import ConfidenceModel
    from qabot.answering.features import FEATURES, SIGNS

    slope = 20.0
    coefficients = (slope,) + (0.0,) * (len(FEATURES) - 1)
    signs = tuple(SIGNS[name] for name in FEATURES)
    return ConfidenceModel(FEATURES, signs, coefficients, -slope * fused_threshold, threshold=0.5)


SHOP_HELP = (
    "# Shop help\n\nOur shop opens at nine. Deliveries take two days.\n\n"
    "## FAQ\n\nQ: Can I return shoes?\nA: Yes, within thirty days.\n"
)


def shop_answerer(folder, embedder, smalltalk: str | None = None):
    """An `Answerer` over a one-document shop corpus in ``folder``/shop (a passage and an FAQ
    entry), with small talk: the default set, or ``smalltalk`` as the corpus's own file."""
    from qabot.answering.answerer import Answerer
    from qabot.answering.retrieval import Retriever
    from qabot.answering.smalltalk import load_smalltalk
    from qabot.index.build import build_index

    corpus = folder / "shop"
    corpus.mkdir()
    (corpus / "help.md").write_text(SHOP_HELP, encoding="utf-8")
    if smalltalk is not None:
        (corpus / "smalltalk.jsonl").write_text(smalltalk, encoding="utf-8")
    index = build_index(corpus, folder / "shop-index", embedder)
    return Answerer(
        Retriever(index, embedder),
        confidence=fused_only_confidence(0.3),
        smalltalk=load_smalltalk(corpus),
    )
