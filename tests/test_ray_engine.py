"""`qabot index --engine ray`: a local Ray (2 CPUs) builds the same index as a local build."""

import json
import os
from pathlib import Path

import pytest
import ray  # the test environment installs the ray extra (make install)

from qabot.answering.answerer import Answerer
from qabot.answering.retrieval import Retriever
from qabot.cli import main
from qabot.index.build import build_index, load_index
from qabot.models.backends import DEFAULT_BACKEND

from conftest import SEED_CORPUS, SEED_QUESTIONS

SMALL_FAQ = (
    "id,question,answer\n"
    "f1,How do I reset my password?,Open settings and choose Reset password.\n"
    "f2,Where is the office?,The office is in Zagreb near the main station.\n"
    "f3,When is lunch served?,Lunch is served at noon in the cafeteria.\n"
)
SMALL_QUESTIONS = ["I forgot my password", "where do you work from", "what time is lunch", "pi"]


@pytest.fixture(scope="module")
def local_ray():
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    # Loopback only: the tests may not reach the network, and need not.
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    yield
    ray.shutdown()


def _answers(index_dir: Path, embedder, questions: list[str]) -> list[tuple]:
    answerer = Answerer(Retriever(load_index(index_dir), embedder))
    return [
        (a.found, a.source.passage_id if a.source else None, a.answer, round(a.score, 4))
        for a in answerer.answer_batch(questions)
    ]


def test_ray_builds_answer_like_local_builds(
    local_ray, tmp_path: Path, embedder, seed_index_dir: Path, capsys
):
    small = tmp_path / "small"
    small.mkdir()
    (small / "faq.csv").write_text(SMALL_FAQ, encoding="utf-8")
    lines = SEED_QUESTIONS.read_text(encoding="utf-8").splitlines()
    seed_questions = [json.loads(line)["question"] for line in lines]
    small_dir = tmp_path / "small-local"
    build_index(small, small_dir, embedder)
    for corpus, local_dir, questions in (
        (SEED_CORPUS, seed_index_dir, seed_questions),
        (small, small_dir, SMALL_QUESTIONS),
    ):
        ray_dir = tmp_path / f"{corpus.name}-ray"
        # A fresh cache: every text goes through the Ray actors.
        cache = tmp_path / f"{corpus.name}-cache"
        args = ["--index-dir", str(ray_dir), "--engine", "ray", "--embedding-cache", str(cache)]
        args += ["--backend", DEFAULT_BACKEND]  # the local builds': the same vectors expected
        code = main(["index", str(corpus), *args])
        assert code == 0 and "Indexed" in capsys.readouterr().out
        local, distributed = load_index(local_dir), load_index(ray_dir)
        assert distributed.store.passage_ids == local.store.passage_ids
        assert distributed.manifest.model == local.manifest.model
        assert distributed.manifest.backend == local.manifest.backend == DEFAULT_BACKEND
        assert _answers(ray_dir, embedder, questions) == _answers(local_dir, embedder, questions)


def test_a_ray_embedder_is_made_like_the_local_one(onnx_folder):
    from qabot.models.onnx_embedder import OnnxEmbedder
    from qabot.models.ray_embedding import RayEmbedder

    local = OnnxEmbedder(onnx_folder)
    remote = RayEmbedder.like(local, cache_dir="/nodes/cache", address="ray://head:10001")
    assert (remote.name, remote.dimension, remote.backend) == (local.name, 384, "onnx")
    assert remote.folder == local.folder  # the index stores the local export
    assert remote.make_embedder.keywords == {
        "backend": "onnx",
        "cache_dir": "/nodes/cache",
        "threads": 1,
    }
