"""Shared fixtures: the network blocked, a deterministic fake embedder, the real model once.

The real model runs on the backend users get (`qabot.models.backends.DEFAULT_BACKEND`); the
tests about torch itself take `torch_embedder`. Every test that uses the real model, directly
or through a fixture built on it, is marked ``slow`` at collection (`REAL_MODEL_FIXTURES`),
and a test without that marker that loads a model, starts a process or serves over a port
fails at once (`_unmarked_tests_stay_fast`): `make test-fast` leaves out exactly what is slow.
"""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from qabot.answering import answer as answering
from qabot.offline import OFFLINE_ENV

from fakes import FakeEmbedder

ROOT = Path(__file__).resolve().parent.parent
SEED_CORPUS = ROOT / "corpus"
SEED_QUESTIONS = ROOT / "eval" / "seed-dev.jsonl"
# The JSON keys `qabot ask --json`, the API and the chat promise: those of the Answer record.
ANSWER_KEYS = frozenset(answering.ANSWER_KEYS)
# The fixtures that load the real model. Every fixture built on them (seed_index_dir,
# seed_answerer, seed_server, ...) is in a test's fixture closure too, so these suffice.
REAL_MODEL_FIXTURES = frozenset({"onnx_folder", "embedder", "torch_embedder"})

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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if REAL_MODEL_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _unmarked_tests_stay_fast(request: pytest.FixtureRequest, monkeypatch) -> None:
    """Fail a test without the ``slow`` or ``browser`` marker that does slow work."""
    if any(request.node.get_closest_marker(name) for name in ("slow", "browser")):
        return

    def refuse(what: str):
        def refused(*args, **kwargs):
            # pytest.fail is no Exception: library code that catches errors cannot hide it.
            pytest.fail(f"{request.node.nodeid} {what}: mark it slow", pytrace=False)

        return refused

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse("starts a process"))
    monkeypatch.setattr("uvicorn.Server.__init__", refuse("starts a server"))
    monkeypatch.setattr("onnxruntime.InferenceSession", refuse("loads an ONNX model"))
    monkeypatch.setattr(
        "qabot.models.embedding.SentenceTransformerEmbedder.__init__",
        refuse("loads a sentence-transformers model"),
    )


@pytest.fixture(scope="session", autouse=True)
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ONNX export cache for the whole session (and its subprocesses): exported once."""
    folder = tmp_path_factory.mktemp("qabot-cache")
    os.environ["QABOT_CACHE"] = str(folder)
    return folder


@pytest.fixture(scope="session")
def onnx_folder(onnx_cache: Path) -> Path:
    """The bundled model's ONNX export (fp32 and int8), the one `qabot index` uses."""
    from qabot.models.backends import exported_folder
    from qabot.models.embedding import DEFAULT_MODEL

    return exported_folder(DEFAULT_MODEL, onnx_cache)


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture(scope="session")
def embedder(onnx_cache: Path):
    """The real bundled all-MiniLM-L6-v2 on the default backend, loaded once per session."""
    from qabot.models.backends import DEFAULT_BACKEND, load_embedder
    from qabot.models.embedding import DEFAULT_MODEL

    return load_embedder(DEFAULT_MODEL, DEFAULT_BACKEND, cache_dir=onnx_cache)


@pytest.fixture(scope="session")
def torch_embedder():
    """The same model on torch, for the tests about torch (backend agreement, the export)."""
    from qabot.models.embedding import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def seed_index_dir(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:
    """An index of the shipped corpus built with the real model (built once per session)."""
    from qabot.answering.adaptive import fusion_record
    from qabot.index.build import build_index

    index_dir = tmp_path_factory.mktemp("seed-index")
    build_index(SEED_CORPUS, index_dir, embedder, choose_fusion=fusion_record)
    return index_dir


@pytest.fixture(scope="session")
def seed_answerer(seed_index_dir: Path, embedder):
    """An `Answerer` over the shipped corpus with the real model and default settings (the
    shipped verifier and the small talk included, as ``qabot serve`` answers)."""
    from qabot.answering.answerer import Answerer
    from qabot.answering.retrieval import Retriever
    from qabot.answering.smalltalk import load_smalltalk
    from qabot.cli.wiring import load_verifier
    from qabot.index.build import load_index

    return Answerer(
        Retriever(load_index(seed_index_dir), embedder),
        verifier=load_verifier(),
        smalltalk=load_smalltalk(SEED_CORPUS),
    )


@pytest.fixture(scope="session")
def seed_report(seed_answerer):
    """The seed dev set evaluated as `qabot eval eval/seed-dev.jsonl` does (once per session)."""
    from qabot.evaluation.questionsets import load_question_set, resolve_gold
    from qabot.evaluation.run import evaluate

    cases, warnings = load_question_set(SEED_QUESTIONS)
    cases, more = resolve_gold(cases, seed_answerer.passages)
    assert warnings + more == []
    return evaluate(seed_answerer, cases, settings={"questions": str(SEED_QUESTIONS)})


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
