"""The manifest: what built an index, which data folder is current, and its checks on read.

``manifest.json`` is the one file a build replaces atomically (`qabot.index.build`); every
reader (a server replica, ``qabot ask``) reads it first and follows it to the data folder.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from qabot.documents.grains import GRAINS
from qabot.errors import IndexCorruptError, IndexNotFoundError
from qabot.index.folder import DEFAULT_RETAIN_SECONDS

FORMAT_VERSION = 3  # 2: grain rows (whole, question, sentence); 3: keyword/ folders
MANIFEST_FILE = "manifest.json"


@dataclass(frozen=True)
class IndexManifest:
    """Everything that decided an index's content; checked when the index is loaded."""

    model: str
    dimension: int
    max_chars: int
    corpus_path: str
    corpus_fingerprint: str
    documents: int
    passages: int
    faq_entries: int
    rows: int
    data_dir: str
    built_at: str
    qabot_version: str
    keyword_index: dict = field(default_factory=dict)
    problems: tuple[str, ...] = ()
    format_version: int = FORMAT_VERSION
    grains: tuple[str, ...] = GRAINS
    confidence: dict = field(default_factory=dict)
    verifier: dict = field(default_factory=dict)  # the answer verifier's record; {} for none
    profile: dict = field(default_factory=dict)  # `qabot.index.profile.collection_profile`
    fusion: dict = field(default_factory=dict)  # the ranking weights answering chose for it
    retain_seconds: float = DEFAULT_RETAIN_SECONDS
    embedding_cache: str = ""  # the cache folder, relative to the index folder; "" for none
    index_type: str = "flat"  # the FAISS index kind (`qabot.index.faiss_search.INDEX_TYPES`)
    backend: str = ""  # `qabot.models.embedding.Embedder.backend`; every build records it
    onnx: dict = field(default_factory=dict)  # how the stored ONNX model was made
    follow_symlinks: bool = False  # whether links leaving the corpus folder were read
    sentence_vectors: str = "rows"  # `qabot.index.late_chunking.SENTENCE_VECTORS`

    def to_dict(self) -> dict:
        return {**asdict(self), "problems": list(self.problems), "grains": list(self.grains)}


def read_manifest(index_dir: Path | str) -> IndexManifest:
    """Read and validate ``manifest.json``.

    Raises:
        IndexNotFoundError: there is no manifest.
        IndexCorruptError: the manifest is unreadable or from an incompatible version.
    """
    index_dir = Path(index_dir)
    path = index_dir / MANIFEST_FILE
    if not path.is_file():
        raise IndexNotFoundError(
            f"No index in {str(index_dir)!r}.",
            index_dir,
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        known = {f.name for f in fields(IndexManifest)}
        manifest = IndexManifest(**{k: v for k, v in data.items() if k in known})
    except (OSError, ValueError, TypeError) as exc:
        raise IndexCorruptError(
            f"Index manifest {str(path)!r} is unreadable ({exc}).",
            index_dir,
        ) from exc
    if manifest.format_version != FORMAT_VERSION:
        raise IndexCorruptError(
            f"Index in {str(index_dir)!r} has format {manifest.format_version}, this qabot reads "
            f"format {FORMAT_VERSION}: rebuild it (qabot index).",
            index_dir,
        )
    return replace(manifest, problems=tuple(manifest.problems), grains=tuple(manifest.grains))
