"""The embedder an index was built with: its stored ONNX model, or the same model and backend.

Question vectors must come from the model and backend that embedded the index. An index built
on an ONNX backend stores that model in its data folder (`qabot.models.backends.save_model`),
so loading it needs no torch, no model package and no export cache.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from qabot.errors import ModelError, ModelMismatchError, QabotIndexError
from qabot.index.manifest import IndexManifest, read_manifest
from qabot.models.backends import (
    DEFAULT_BACKEND,
    MODEL_DIR,
    check_backend_name,
    load_embedder,
)
from qabot.models.embedding import Embedder
from qabot.models.onnx_export import CONFIG_FILE


def check_backend(manifest: IndexManifest, embedder: Embedder, index_dir: Path) -> None:
    """Raise `ModelMismatchError` when the index was built with another backend than this."""
    backend = embedder.backend
    if manifest.backend != backend:
        raise ModelMismatchError(
            f"Index in {str(index_dir)!r} was built with backend {manifest.backend!r}, not "
            f"{backend!r}: index and question vectors must come from the same backend. Drop "
            f"--backend to use the index's own, or rebuild it (qabot index --backend {backend}).",
            index_dir,
        )


def embedder_for_index(
    model: str,
    backend: str | None = None,
    *,
    index_dir: Path | str | None,
    cache_dir: Path | str,
    threads: int | None = None,
    log: Callable[[str], None] = lambda message: None,
) -> Embedder:
    """The embedder for ``model``; ``backend`` None means the index's own, else the default.

    When the index in ``index_dir`` was built with this model on an ONNX backend, its stored
    model is used (no torch, no export); otherwise `qabot.models.backends.load_embedder`.
    """
    manifest = _manifest_or_none(index_dir)
    backend = check_backend_name(backend or (manifest.backend if manifest else DEFAULT_BACKEND))
    if manifest and manifest.model == model and manifest.backend == backend != "torch":
        stored = index_embedder(Path(index_dir), manifest, threads=threads)  # type: ignore[arg-type]
        if stored is not None:
            return stored
    return load_embedder(model, backend, cache_dir=cache_dir, threads=threads, log=log)


def index_embedder(
    index_dir: Path, manifest: IndexManifest, *, threads: int | None = None
) -> Embedder | None:
    """The ONNX embedder stored in an index's data folder; None when it has none usable."""
    from qabot.models.onnx_embedder import OnnxEmbedder

    folder = index_dir / manifest.data_dir / MODEL_DIR
    if manifest.backend == "torch" or not (folder / CONFIG_FILE).is_file():
        return None
    try:
        return OnnxEmbedder(
            folder, quantized=manifest.backend == "onnx-int8", threads=threads, name=manifest.model
        )
    except ModelError:
        return None  # damaged: the caller exports again, and the index is rebuilt


def _manifest_or_none(index_dir: Path | str | None) -> IndexManifest | None:
    if index_dir is None:
        return None
    try:
        return read_manifest(index_dir)
    except QabotIndexError:
        return None
