"""Shared fixtures: the network blocked, a deterministic fake embedder, the real model once."""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from qabot.offline import OFFLINE_ENV

ROOT = Path(__file__).resolve().parent.parent
SEED_CORPUS = ROOT / "corpus"
SEED_QUESTIONS = ROOT / "eval" / "seed-dev.jsonl"
# The JSON keys `qabot ask --json`, the API and the chat promise (issue 2's CLI contract).
ANSWER_KEYS = frozenset(
    ("question", "found", "kind", "answer", "score", "faq_question", "source", "alternatives")
)

# Tests must never reach the internet; subprocesses get the same offline settings.
os.environ.update(OFFLINE_ENV)

_real_connect = socket.socket.connect


def _is_local(address: object) -> bool:
    if isinstance(address, (str, bytes)):  # unix socket path
        return True
    host = str(address[0]) if isinstance(address, tuple) else ""
    return host in ("localhost", "::1", "0.0.0.0", "") or host.startswith("127.")


def _guarded_connect(self: socket.socket, address: object) -> None:
    if not _is_local(address):
        raise OSError(f"tests may not reach the network (tried {address!r})")
    return _real_connect(self, address)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]


class FakeEmbedder:
    """Deterministic bag-of-words vectors: texts sharing words get similar vectors."""

    def __init__(self, dimension: int = 64, name: str = "fake-embedder") -> None:
        self.dimension = dimension
        self.name = name
        self.calls: list[int] = []

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
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


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture(scope="session")
def embedder():
    """The real bundled all-MiniLM-L6-v2, loaded once per test session."""
    from qabot.embedding import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def seed_index_dir(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:
    """An index of the shipped corpus built with the real model (built once per session)."""
    from qabot.index import build_index

    index_dir = tmp_path_factory.mktemp("seed-index")
    build_index(SEED_CORPUS, index_dir, embedder)
    return index_dir


@pytest.fixture(scope="session")
def seed_answerer(seed_index_dir: Path, embedder):
    """An `Answerer` over the shipped corpus with the real model and default settings."""
    from qabot.answering import Answerer
    from qabot.index import load_index
    from qabot.retrieval import Retriever

    return Answerer(Retriever(load_index(seed_index_dir), embedder))


@pytest.fixture(scope="module")
def feedback(tmp_path_factory: pytest.TempPathFactory):
    """A fresh feedback store for each test module that serves the chat."""
    from qabot.web.feedback import FeedbackStore

    store = FeedbackStore(tmp_path_factory.mktemp("feedback") / "feedback.sqlite3")
    yield store
    store.close()


@pytest.fixture(scope="module")
def seed_server(seed_answerer, feedback):
    """The real app over the seed corpus, served by uvicorn on a free loopback port: its URL."""
    from qabot.web.server import build_app

    from serving import running

    with running(build_app(seed_answerer, feedback=feedback)) as url:
        yield url
