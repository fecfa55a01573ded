"""The bundled model through the `Embedder` contract, on the default backend and on torch
(each loaded once per session by conftest)."""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from qabot.models.backends import DEFAULT_BACKEND
from qabot.models.embedding import (
    DEFAULT_MODEL,
    Embedder,
    SentenceTransformerEmbedder,
    bundled_model_path,
    embed,
    resolve_model,
)

TEXTS = ["What is NATO?", "The North Atlantic Treaty Organization is an alliance.", "Bake bread."]


@pytest.fixture(params=[DEFAULT_BACKEND, "torch"])
def any_backend(request, embedder, torch_embedder):
    """The real model on the backend users get, then on torch: both keep the contract."""
    chosen = torch_embedder if request.param == "torch" else embedder
    assert chosen.backend == request.param
    return chosen


def test_vectors_are_unit_length_float32_of_the_model_dimension(any_backend):
    embedder = any_backend
    assert isinstance(embedder, Embedder)
    assert embedder.name == DEFAULT_MODEL and embedder.dimension == 384
    vectors = embedder.embed_batch(TEXTS)
    assert vectors.dtype == np.float32 and vectors.shape == (3, 384)
    assert vectors.flags["C_CONTIGUOUS"]
    assert np.linalg.norm(vectors, axis=1) == pytest.approx([1.0, 1.0, 1.0], abs=1e-5)


def test_an_empty_batch_has_the_right_shape(any_backend):
    vectors = any_backend.embed_batch([])
    assert vectors.shape == (0, 384) and vectors.dtype == np.float32


def test_meaning_decides_similarity_and_single_is_batch(any_backend):
    embedder = any_backend
    question, alliance, bread = embedder.embed_batch(TEXTS)
    assert question @ alliance > 0.5 > question @ bread
    assert embed(embedder, TEXTS[0]) == pytest.approx(question, abs=1e-5)
    # The progress display changes nothing in the vectors.
    with_bar = embedder.embed_batch(TEXTS, progress=True)
    assert with_bar == pytest.approx(embedder.embed_batch(TEXTS), abs=1e-6)


def test_resolve_model_maps_the_bundled_names_and_keeps_paths(tmp_path: Path):
    bundled = bundled_model_path()
    assert (bundled / "modules.json").is_file()
    assert resolve_model(DEFAULT_MODEL) == str(bundled)
    assert resolve_model(f"sentence-transformers/{DEFAULT_MODEL}") == str(bundled)
    assert resolve_model(tmp_path / "my-model") == str(tmp_path / "my-model")
    assert resolve_model("org/other-model") == "org/other-model"  # left to the local cache


@pytest.fixture(scope="module")
def prompted_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled model with e5-style prompts in its configuration (weights linked, not copied)."""
    folder = tmp_path_factory.mktemp("prompted") / "model"
    shutil.copytree(bundled_model_path(), folder, copy_function=_link_weights)
    config_file = folder / "config_sentence_transformers.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    config["prompts"] = {"query": "query: ", "document": "passage: "}
    config_file.write_text(json.dumps(config), encoding="utf-8")
    return folder


def _link_weights(source: str, target: str) -> None:
    if source.endswith(".safetensors"):
        os.symlink(source, target)
    else:
        shutil.copy2(source, target)


@pytest.mark.slow
def test_a_model_with_prompts_embeds_questions_and_passages_differently(prompted_model):
    prompted = SentenceTransformerEmbedder(prompted_model)
    as_query = prompted.embed_batch(TEXTS, role="query")
    as_document = prompted.embed_batch(TEXTS, role="document")
    assert np.linalg.norm(as_query, axis=1) == pytest.approx([1.0, 1.0, 1.0], abs=1e-5)
    cosines = np.sum(as_query * as_document, axis=1)
    assert (cosines < 0.999).all()  # each prompt changed the vector
    assert as_document == pytest.approx(prompted.embed_batch(TEXTS), abs=1e-6)  # the default
    # The prompts are the model's own: "passage: " + text through the bare model is the same.
    bare = prompted.model.encode(
        [f"passage: {t}" for t in TEXTS], normalize_embeddings=True, convert_to_numpy=True
    )
    assert as_document == pytest.approx(bare, abs=1e-5)
    assert embed(prompted, TEXTS[0], role="query") == pytest.approx(as_query[0], abs=1e-5)


def test_a_model_without_prompts_embeds_both_roles_alike(any_backend):
    assert any_backend.embed_batch(TEXTS, role="query") == pytest.approx(
        any_backend.embed_batch(TEXTS, role="document"), abs=1e-6
    )
    with pytest.raises(ValueError, match="'query' or 'document'"):
        any_backend.embed_batch(TEXTS, role="passage")
