"""An index folder: build, save atomically, load and check (its manifest: `qabot.index.manifest`).

Layout of ``index_dir``::

    manifest.json          what built the index, and which data folder is current
    calibration.json       optional: the calibrated confidence (`qabot.answering.calibrated` reads it)
    data-<build id>/       read-only files: passages.jsonl, the grain rows (rows.npy,
                           row_passage.npy, row_grain.npy, passage_ids.json), keyword/ and
                           keyword-faq-questions/ (when the corpus has FAQ entries)

A build writes a new data folder, then replaces ``manifest.json`` in one atomic rename: until
that moment the previous index stays current, so a failed or interrupted build never destroys
a working index, and any number of readers (server replicas) can share the folder. A replaced
data folder is kept for the manifest's ``retain_seconds`` (a ``.retired-<name>`` marker says
since when), so that a replica loading the previous build never sees its files vanish.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from qabot.atomic import write_json_atomic
from qabot.documents.chunking import DEFAULT_MAX_CHARS, Passage, chunk_documents, with_alternates
from qabot.documents.corpus import Corpus, corpus_fingerprint, load_corpus
from qabot.documents.digest_memo import memo_path, remembered_fingerprint
from qabot.errors import (
    EmptyCorpusError,
    IndexCorruptError,
    IndexWriteError,
    ModelMismatchError,
    StaleIndexError,
)
from qabot.index.candidates import check_numbering
from qabot.index.embed_cache import DEFAULT_CACHE_DIR, cached_embed, document_cache
from qabot.index.folder import (
    DEFAULT_RETAIN_SECONDS,
    commit_lock,
    make_index_folder,
    make_read_only,
    remove_tree,
    retire_old_data,
    verify_checksums,
    write_checksums,
)
from qabot.index.grains import faq_question_index, grain_rows
from qabot.index.keyword import DEFAULT_B, DEFAULT_K1, KeywordIndex
from qabot.index.late_chunking import SENTENCE_VECTORS, late_vectors
from qabot.index.manifest import MANIFEST_FILE, IndexManifest, read_manifest
from qabot.index.passage_table import PassageTable
from qabot.index.profile import collection_profile
from qabot.index.store import VectorStore
from qabot.models.backends import manifest_record, save_model
from qabot.models.embedding import Embedder
from qabot.version import __version__

_PASSAGES_FILE = "passages.jsonl"
_KEYWORD_DIR = "keyword"
_FAQ_KEYWORD_DIR = "keyword-faq-questions"


@dataclass(frozen=True)
class Index:
    """A loaded index: its manifest, passages, vector store and keyword indexes.

    ``passages`` are in passage-number order: a tuple after a build, a `PassageTable` (read from
    disk when asked for) after `load_index`. ``faq_keyword_index`` scores FAQ questions only (one row
    per phrasing; None without FAQ entries).
    """

    index_dir: Path
    manifest: IndexManifest
    passages: Sequence[Passage]
    store: VectorStore
    keyword_index: KeywordIndex
    faq_keyword_index: KeywordIndex | None = None

    def passage(self, passage_id: str) -> Passage:
        """The passage with this id (`KeyError` if there is none).

        The keyword index's rows are passage numbers (`qabot.index.candidates`), so its id map serves.
        """
        return self.passages[self.keyword_index.position[passage_id]]


def build_index(
    corpus_path: Path | str,
    index_dir: Path | str,
    embedder: Embedder,
    *,
    max_chars: int = DEFAULT_MAX_CHARS,
    progress: bool = False,
    confidence: Mapping[str, object] | None = None,
    verifier: Mapping[str, object] | None = None,
    choose_fusion: Callable[[Mapping[str, object]], Mapping[str, object]] | None = None,
    retain_seconds: float = DEFAULT_RETAIN_SECONDS,
    cache_dir: Path | str | None = DEFAULT_CACHE_DIR,
    index_type: str = "auto",
    follow_symlinks: bool = False,
    sentence_vectors: str = "rows",
) -> Index:
    """Read the corpus, chunk it, embed its grain rows and save a new index atomically.

    ``progress`` asks the embedder to show its progress (the CLI does, for builds).
    ``confidence`` is what the answering layer records of the model the answers will be scored
    with (`qabot.answering.confidence.ConfidenceModel.record`); it is written to the manifest
    as given (None: nothing recorded). The index never reads it: it records, answering decides.
    ``verifier`` is the same kind of record of the answer verifier
    (`qabot.models.verifier.verifier_identity`; None: answers are not verified).
    The build measures the collection's profile (`qabot.index.profile`) and records it;
    ``choose_fusion(profile)`` (`qabot.answering.adaptive.fusion_record`) says which ranking
    weights answering will use for it, and that record is written too (None: nothing recorded).
    ``retain_seconds`` (recorded in the manifest) is how long a replaced data folder is kept
    for readers still loading it; later commits remove it once that time has passed.
    ``cache_dir`` (relative to ``index_dir`` unless absolute; None for none) holds embedded
    texts between builds, so a rebuild embeds only new or changed texts (`qabot.index.embed_cache`).
    ``index_type`` is the FAISS index kind (`qabot.index.faiss_search.INDEX_TYPES`; ``auto`` by size).
    ``follow_symlinks`` reads links that leave the corpus folder (by default they are skipped,
    and listed among the manifest's problems); the manifest records it.
    ``sentence_vectors`` says how sentence rows are embedded: ``"rows"`` each as its own text,
    ``"late"`` pooled from their passage's pass (`qabot.index.late_chunking`; ONNX backends).

    Raises:
        CorpusError / EmptyCorpusError: the corpus cannot be read or yields no passages.
        IndexWriteError: ``index_dir`` is a file or cannot be created or written.
    """
    if sentence_vectors not in SENTENCE_VECTORS:
        raise ValueError(
            f"sentence_vectors must be one of {', '.join(SENTENCE_VECTORS)}, "
            f"not {sentence_vectors!r}."
        )
    corpus_path, index_dir = Path(corpus_path).resolve(), Path(index_dir)
    make_index_folder(index_dir)  # a path that can hold no index fails before the work
    corpus = load_corpus(corpus_path, follow_symlinks=follow_symlinks)
    passages, problems = with_alternates(
        chunk_documents(corpus.documents, max_chars), corpus.alternates
    )
    if not passages:
        raise EmptyCorpusError(f"Corpus {str(corpus_path)!r} yielded no passages to index.")
    row_passage, row_grain, texts = grain_rows(passages)
    cache = document_cache(index_dir, cache_dir, embedder)
    if sentence_vectors == "late":
        vectors = late_vectors(texts, row_passage, row_grain, embedder, cache, progress=progress)
    else:
        vectors = cached_embed(texts, embedder, cache, progress=progress)
    ids = [p.passage_id for p in passages]
    store = VectorStore.build(ids, vectors, row_passage, row_grain, index_type=index_type)
    profile = collection_profile(vectors, row_passage, row_grain)
    keyword_index = KeywordIndex.build(ids, [p.keyword_text() for p in passages])
    faq_keyword_index = faq_question_index(passages)
    data_dir = f"data-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    staging = _stage(
        index_dir, data_dir, passages, store, keyword_index, faq_keyword_index, embedder
    )
    manifest = _manifest(corpus, corpus_path, passages, store, embedder.name, max_chars, data_dir)
    manifest = replace(
        manifest,
        problems=(*manifest.problems, *problems),
        confidence=dict(confidence or {}),
        verifier=dict(verifier or {}),
        profile=profile,
        fusion=dict(choose_fusion(profile)) if choose_fusion else {},
        retain_seconds=retain_seconds,
        embedding_cache="" if cache_dir is None else str(cache_dir),
        index_type=store.index_type,
        follow_symlinks=follow_symlinks,
        sentence_vectors=sentence_vectors,
        **manifest_record(embedder),
    )
    # The commit: one build at a time renames its data in, swaps the manifest and clears the old
    # data, so that two builds (say `serve` and `ask`) never delete each other's folder.
    with commit_lock(index_dir):
        os.rename(staging, index_dir / data_dir)
        write_json_atomic(index_dir / MANIFEST_FILE, manifest.to_dict())
        retire_old_data(index_dir, keep=data_dir, retain_seconds=retain_seconds)
    store = VectorStore.load(index_dir / data_dir)  # memory-mapped: the vectors held once
    return Index(index_dir, manifest, tuple(passages), store, keyword_index, faq_keyword_index)


def _stage(
    index_dir: Path,
    data_dir: str,
    passages: Sequence[Passage],
    store: VectorStore,
    keyword_index: KeywordIndex,
    faq_keyword_index: KeywordIndex | None,
    embedder: Embedder | None = None,
) -> Path:
    """Write the data files into a hidden staging folder, read-only; removed if that fails."""
    staging = Path(tempfile.mkdtemp(prefix=f".{data_dir}.", dir=index_dir))
    try:
        store.save(staging)
        save_model(embedder, staging)  # an ONNX model travels with its index
        keyword_index.save(staging / _KEYWORD_DIR)
        if faq_keyword_index is not None:
            faq_keyword_index.save(staging / _FAQ_KEYWORD_DIR)
        with open(staging / _PASSAGES_FILE, "w", encoding="utf-8") as out:
            for passage in passages:
                out.write(json.dumps(asdict(passage), ensure_ascii=False) + "\n")
        write_checksums(staging)
        make_read_only(staging)
    except OSError as exc:
        remove_tree(staging)
        raise IndexWriteError(
            f"Could not write the new index in {str(index_dir)!r} ({exc.strerror or exc}); "
            "the previous index is unchanged.",
        ) from exc
    except BaseException:
        remove_tree(staging)
        raise
    return staging


def _manifest(
    corpus: Corpus,
    corpus_path: Path,
    passages: Sequence[Passage],
    store: VectorStore,
    model: str,
    max_chars: int,
    data_dir: str,
) -> IndexManifest:
    """What decided this build's content, as the manifest records it."""
    return IndexManifest(
        model=model,
        dimension=store.dimension,
        max_chars=max_chars,
        corpus_path=str(corpus_path),
        corpus_fingerprint=corpus.fingerprint,
        documents=len(corpus.documents),
        passages=sum(p.kind == "passage" for p in passages),
        faq_entries=sum(p.kind == "faq" for p in passages),
        rows=len(store),
        data_dir=data_dir,
        built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        qabot_version=__version__,
        keyword_index={"library": "bm25s", "k1": DEFAULT_K1, "b": DEFAULT_B, "stemmer": "english"},
        problems=tuple(str(p) for p in corpus.problems),
    )


def load_index(index_dir: Path | str, *, model: str | None = None) -> Index:
    """Load an index; with ``model``, check that it was built with that model.

    Raises:
        IndexNotFoundError, IndexCorruptError, ModelMismatchError.
    """
    index_dir = Path(index_dir)
    manifest = read_manifest(index_dir)
    if model is not None and model != manifest.model:
        raise ModelMismatchError(
            f"Index in {str(index_dir)!r} was built with model {manifest.model!r}, not {model!r}.",
            index_dir,
        )
    data = index_dir / manifest.data_dir
    verify_checksums(data, index_dir)
    store = VectorStore.load(data)
    ids = store.passage_ids
    try:
        # Each passage is checked against its id when it is read; the ends are read now.
        passages = PassageTable(data / _PASSAGES_FILE, ids)
        if len(passages):
            passages[0], passages[-1]
    except OSError as exc:
        raise IndexCorruptError(
            f"Passages of the index in {str(index_dir)!r} are unreadable ({exc}).",
            index_dir,
        ) from exc
    except IndexCorruptError as exc:
        raise IndexCorruptError(str(exc), index_dir) from exc
    keyword_index = KeywordIndex.load(data / _KEYWORD_DIR)
    faq = manifest.faq_entries > 0
    faq_keyword_index = KeywordIndex.load(data / _FAQ_KEYWORD_DIR) if faq else None
    if (
        store.dimension != manifest.dimension
        or len(store) != manifest.rows
        or len(passages) != manifest.passages + manifest.faq_entries
        or len(set(ids)) != len(ids)
        or not check_numbering(ids, keyword_index.ids)
    ):
        raise IndexCorruptError(
            f"Index files in {str(index_dir)!r} disagree with each other.",
            index_dir,
        )
    return Index(index_dir, manifest, passages, store, keyword_index, faq_keyword_index)


def check_fresh(
    manifest: IndexManifest, corpus_path: Path | str, *, index_dir: Path | str | None = None
) -> None:
    """Raise `StaleIndexError` when the corpus changed since the index was built.

    Given the ``index_dir``, files whose size and mtime are unchanged since the last check are
    not read again (`qabot.documents.digest_memo`, kept in the index's embedding cache folder).
    """
    corpus_path = Path(corpus_path).resolve()
    if str(corpus_path) != manifest.corpus_path:
        raise StaleIndexError(
            f"Index was built from {manifest.corpus_path!r}, not {str(corpus_path)!r}."
        )
    memo = memo_path(index_dir, manifest.embedding_cache) if index_dir is not None else None
    follow = manifest.follow_symlinks
    fingerprint = (
        remembered_fingerprint(corpus_path, memo, follow_symlinks=follow)
        if memo
        else corpus_fingerprint(corpus_path, follow_symlinks=follow)
    )
    if fingerprint != manifest.corpus_fingerprint:
        raise StaleIndexError(f"Corpus {str(corpus_path)!r} changed since the index was built.")
