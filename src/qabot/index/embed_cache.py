"""A cache of embedded texts shared between builds: a rebuild embeds only new or changed texts.

Layout of a cache folder (by default ``<index_dir>/cache``; the manifest's ``embedding_cache``
names it)::

    <key>/                   one folder per model, backend and role (`cache_key`)
        key.json             what the key stands for, for people
        shard-<digest>.npy   records of (16-byte text hash, float32 vector)
    corpus-files.json        the corpus files' digests by size and mtime (`qabot.documents.digest_memo`)

A text is found by the first 16 bytes of its SHA-256. A shard is written under a temporary
name and renamed, and its name carries the BLAKE2b digest of its bytes, so a reader never sees
half a shard and a damaged one is recognised: it is ignored and removed, and its texts are
embedded again. The cache never makes a build fail. Once a key holds more than `MAX_SHARDS`
shards they are merged into one. Entries are never evicted: delete the folder to reclaim space.

Any number of builds, processes or machines (on shared storage) may use one cache folder at
once: shards are immutable, a shard vanishing under a reader only costs a re-embedding.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from qabot.models.embedding import Embedder, Role

DEFAULT_CACHE_DIR = "cache"
"""The cache folder's name inside the index folder, unless the build names another."""
MAX_SHARDS = 8
_HASH_BYTES = 16
_PREFIX = "shard-"


def cache_key(model: str, backend: str, role: Role = "document") -> str:
    """The folder name of the vectors one model, run by one backend, gives texts of one role."""
    spec = json.dumps([model, backend, role])
    return hashlib.sha256(spec.encode()).hexdigest()[:20]


def text_hashes(texts: Sequence[str]) -> np.ndarray:
    """``(len(texts), 16)`` uint8: the first 16 bytes of each text's SHA-256."""
    out = np.zeros((len(texts), _HASH_BYTES), dtype=np.uint8)
    for row, text in enumerate(texts):
        out[row] = np.frombuffer(hashlib.sha256(text.encode()).digest()[:_HASH_BYTES], np.uint8)
    return out


class EmbeddingCache:
    """The cached vectors of one model, backend and role in a cache folder.

    Args:
        directory: the cache folder (created when first written).
        model: the embedding model's name, as the manifest records it.
        backend: what runs the model (`qabot.models.embedding.Embedder.backend`; another
            backend gives other vectors).
        role: ``"document"`` for indexed texts, ``"query"`` for questions.
    """

    def __init__(
        self,
        directory: Path | str,
        model: str,
        *,
        backend: str,
        role: Role = "document",
    ) -> None:
        self.directory = Path(directory)
        self.model, self.backend, self.role = model, backend, role
        self.folder = self.directory / cache_key(model, backend, role)
        self.embedded = 0  # texts the last `embed` call had to embed (for logs and benches)

    def embed(
        self,
        texts: Sequence[str],
        embed_batch: Callable[[list[str]], np.ndarray],
        dimension: int,
    ) -> np.ndarray:
        """Vectors of ``texts``: cached ones read, the others computed by ``embed_batch`` once
        per distinct text and added to the cache."""
        unique = list(dict.fromkeys(texts))
        hashes = text_hashes(unique)
        vectors = np.zeros((len(unique), dimension), dtype=np.float32)
        found = self._lookup(hashes, vectors)
        missing = np.flatnonzero(~found)
        self.embedded = len(missing)
        if len(missing):
            new = np.asarray(embed_batch([unique[i] for i in missing]), dtype=np.float32)
            vectors[missing] = new
            self._write(hashes[missing], new)
        position = {t: i for i, t in enumerate(unique)}
        return vectors[[position[t] for t in texts]] if texts else vectors

    def _lookup(self, hashes: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Fill ``out`` with the cached vectors of ``hashes``; which were found."""
        found = np.zeros(len(hashes), dtype=bool)
        wanted = hashes.view(f"S{_HASH_BYTES}").reshape(-1)
        shards = self._shards()
        for shard in shards:
            records = _read_shard(shard, out.shape[1])
            if records is None or not len(records):
                continue
            keys = records["hash"].view(f"S{_HASH_BYTES}")
            order = np.argsort(keys)
            at = np.minimum(np.searchsorted(keys[order], wanted), len(keys) - 1)
            hit = np.flatnonzero((keys[order][at] == wanted) & ~found)
            out[hit] = records["vector"][order[at[hit]]]
            found[hit] = True
        if len(shards) > MAX_SHARDS:
            self._compact(shards, out.shape[1])
        return found

    def _shards(self) -> list[Path]:
        return sorted(self.folder.glob(f"{_PREFIX}*.npy")) if self.folder.is_dir() else []

    def _write(self, hashes: np.ndarray, vectors: np.ndarray) -> None:
        """Add one shard; a cache that cannot be written is only a cache (the build goes on)."""
        records = np.zeros(len(hashes), dtype=_record_type(vectors.shape[1]))
        records["hash"] = hashes.view(f"V{_HASH_BYTES}").reshape(-1)
        records["vector"] = vectors
        with contextlib.suppress(OSError):
            self.folder.mkdir(parents=True, exist_ok=True)
            key_file = self.folder / "key.json"
            if not key_file.exists():
                spec = {"model": self.model, "backend": self.backend, "role": self.role}
                key_file.write_text(json.dumps(spec) + "\n", encoding="utf-8")
            _write_shard(self.folder, records)

    def _compact(self, shards: list[Path], dimension: int) -> None:
        """Merge the shards into one (first copy of each text wins), then remove them."""
        read = {s: _read_shard(s, dimension) for s in shards}
        parts = {s: r for s, r in read.items() if r is not None}  # other widths stay as they are
        if len(parts) < 2:
            return
        merged = np.concatenate(list(parts.values()))
        _, first = np.unique(merged["hash"], return_index=True)
        with contextlib.suppress(OSError):
            kept = _write_shard(self.folder, merged[np.sort(first)])
            for shard in parts:
                if shard != kept:
                    shard.unlink(missing_ok=True)


def _record_type(dimension: int) -> np.dtype:
    return np.dtype([("hash", f"V{_HASH_BYTES}"), ("vector", "<f4", (dimension,))])


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _write_shard(folder: Path, records: np.ndarray) -> Path:
    """Write ``records`` as ``shard-<digest of its bytes>.npy``, atomically; its path."""
    fd, tmp = tempfile.mkstemp(prefix=f".{_PREFIX}", suffix=".npy", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            np.save(out, records, allow_pickle=False)
        data = Path(tmp).read_bytes()
        os.chmod(tmp, 0o644)  # other users of a shared cache read it
        path = folder / f"{_PREFIX}{_digest(data)}.npy"
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _read_shard(path: Path, dimension: int) -> np.ndarray | None:
    """A shard's records; None when it is damaged (then removed) or of another dimension."""
    try:
        data = path.read_bytes()
    except OSError:
        return None  # removed by a compaction meanwhile
    try:
        if _digest(data) != path.stem.removeprefix(_PREFIX):
            raise ValueError("digest mismatch")
        records = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError):
        with contextlib.suppress(OSError):
            path.unlink()
        return None
    if records.dtype != _record_type(dimension) or records.ndim != 1:
        return None  # sound, but of another width: a model name reused for another model
    return records


def cached_embed(
    texts: Sequence[str],
    embedder: Embedder,
    cache: EmbeddingCache | None,
    *,
    progress: bool = False,
) -> np.ndarray:
    """Document vectors of ``texts`` (each distinct text embedded once), through ``cache``."""

    def embed_batch(batch: list[str]) -> np.ndarray:
        return embedder.embed_batch(batch, progress=progress)

    if cache is None:
        cache_free = list(dict.fromkeys(texts))
        position = {t: i for i, t in enumerate(cache_free)}
        vectors = np.asarray(embed_batch(cache_free), dtype=np.float32)
        return vectors[[position[t] for t in texts]]
    return cache.embed(texts, embed_batch, embedder.dimension)


def document_cache(
    index_dir: Path | str, cache_dir: Path | str | None, embedder: Embedder
) -> EmbeddingCache | None:
    """The cache of ``embedder``'s document vectors in ``cache_dir`` (relative to ``index_dir``
    unless absolute); None when ``cache_dir`` is None."""
    if cache_dir is None:
        return None
    return EmbeddingCache(Path(index_dir) / cache_dir, embedder.name, backend=embedder.backend)
