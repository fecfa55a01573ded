"""The bundled model through the `Embedder` contract (loaded once per session by conftest)."""

from pathlib import Path

import numpy as np
import pytest

from qabot.embedding import (
    DEFAULT_MODEL,
    Embedder,
    bundled_model_path,
    embed,
    resolve_model,
)

TEXTS = ["What is NATO?", "The North Atlantic Treaty Organization is an alliance.", "Bake bread."]


def test_vectors_are_unit_length_float32_of_the_model_dimension(embedder):
    assert isinstance(embedder, Embedder)
    assert embedder.name == DEFAULT_MODEL and embedder.dimension == 384
    vectors = embedder.embed_batch(TEXTS)
    assert vectors.dtype == np.float32 and vectors.shape == (3, 384)
    assert vectors.flags["C_CONTIGUOUS"]
    assert np.linalg.norm(vectors, axis=1) == pytest.approx([1.0, 1.0, 1.0], abs=1e-5)


def test_an_empty_batch_has_the_right_shape(embedder):
    vectors = embedder.embed_batch([])
    assert vectors.shape == (0, 384) and vectors.dtype == np.float32


def test_meaning_decides_similarity_and_single_is_batch(embedder):
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
