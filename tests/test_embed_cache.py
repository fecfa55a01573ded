import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from qabot.documents.corpus import corpus_fingerprint, file_digest
from qabot.documents.digest_memo import MEMO_FILE, remembered_fingerprint
from qabot.errors import StaleIndexError
from qabot.index.build import build_index, check_fresh, load_index
from qabot.index.embed_cache import MAX_SHARDS, EmbeddingCache, cache_key, cached_embed

from fakes import FakeEmbedder


def _cache(tmp_path: Path, embedder: FakeEmbedder, **kwargs) -> EmbeddingCache:
    return EmbeddingCache(
        tmp_path / "cache", embedder.name, **{"backend": embedder.backend, **kwargs}
    )


def test_cached_texts_are_not_embedded_again(tmp_path: Path):
    embedder = FakeEmbedder()
    cache = _cache(tmp_path, embedder)
    first = cached_embed(["a b", "c d", "a b"], embedder, cache)
    assert embedder.calls == [2] and cache.embedded == 2  # each distinct text once
    again = cached_embed(["c d", "e f", "a b"], embedder, _cache(tmp_path, embedder))
    assert embedder.calls == [2, 1]  # only "e f" is new
    assert np.array_equal(again[0], first[1]) and np.array_equal(again[2], first[0])
    assert np.array_equal(again[1], FakeEmbedder().embed_batch(["e f"])[0])


def test_keys_separate_models_backends_and_roles(tmp_path: Path):
    keys = {
        cache_key("m", "torch"),
        cache_key("m", "onnx"),
        cache_key("m", "torch", role="query"),
        cache_key("n", "torch"),
    }
    assert len(keys) == 4
    embedder = FakeEmbedder()
    cached_embed(["a"], embedder, _cache(tmp_path, embedder))
    cached_embed(["a"], embedder, _cache(tmp_path, embedder, backend="onnx"))
    assert embedder.calls == [1, 1]  # another backend's vectors are not reused


def test_a_damaged_shard_is_ignored_and_rebuilt(tmp_path: Path):
    embedder = FakeEmbedder()
    expected = cached_embed(["a b", "c d"], embedder, _cache(tmp_path, embedder))
    [shard] = _cache(tmp_path, embedder).folder.glob("shard-*.npy")
    shard.write_bytes(shard.read_bytes()[:-7])  # truncated by a full disk, say
    (shard.parent / "shard-0123.npy").write_bytes(b"not numpy")
    cache = _cache(tmp_path, embedder)
    again = cached_embed(["a b", "c d"], embedder, cache)
    assert cache.embedded == 2 and np.array_equal(again, expected)
    # The damaged files are removed; the texts are written again (the same shard, whole).
    assert [p.name for p in cache.folder.glob("shard-*.npy")] == [shard.name]
    cached_embed(["a b", "c d"], embedder, cache)
    assert cache.embedded == 0


def test_many_shards_are_merged(tmp_path: Path):
    embedder = FakeEmbedder()
    for n in range(MAX_SHARDS + 1):
        cached_embed([f"text {n}"], embedder, _cache(tmp_path, embedder))
    cache = _cache(tmp_path, embedder)
    vectors = cached_embed([f"text {n}" for n in range(MAX_SHARDS + 1)], embedder, cache)
    assert cache.embedded == 0
    assert len(list(cache.folder.glob("shard-*.npy"))) == 1
    assert np.array_equal(vectors, FakeEmbedder().embed_batch([f"text {n}" for n in range(9)]))


def _write_corpus(corpus: Path, count: int) -> None:
    corpus.mkdir(exist_ok=True)
    for n in range(count):
        (corpus / f"doc{n:02d}.txt").write_text(
            f"Document {n} is about topic {n % 5}. It has a second sentence on item {n}.\n\n"
            f"Another paragraph of document {n} talks about colour {n % 3}.",
            encoding="utf-8",
        )


def test_a_rebuild_equals_a_full_build_and_embeds_only_changes(tmp_path: Path):
    corpus = tmp_path / "corpus"
    _write_corpus(corpus, 12)
    embedder = FakeEmbedder()
    build_index(corpus, tmp_path / "incremental", embedder)
    (corpus / "doc03.txt").write_text("Document three was rewritten entirely.", encoding="utf-8")
    (corpus / "doc07.txt").unlink()
    embedder.calls.clear()
    rebuilt = build_index(corpus, tmp_path / "incremental", embedder)
    assert embedder.calls == [1]  # the rewritten document's one new text
    full = build_index(corpus, tmp_path / "full", FakeEmbedder(), cache_dir=None)
    assert rebuilt.store.passage_ids == full.store.passage_ids
    assert np.array_equal(np.asarray(rebuilt.store.vectors), np.asarray(full.store.vectors))
    assert rebuilt.manifest.corpus_fingerprint == full.manifest.corpus_fingerprint
    assert not any("doc07" in pid for pid in rebuilt.store.passage_ids)
    assert rebuilt.manifest.embedding_cache == "cache" and full.manifest.embedding_cache == ""


def test_a_shared_cache_folder_outside_the_index(tmp_path: Path):
    corpus, shared = tmp_path / "corpus", tmp_path / "shared-cache"
    _write_corpus(corpus, 3)
    embedder = FakeEmbedder()
    build_index(corpus, tmp_path / "a", embedder, cache_dir=shared)
    embedder.calls.clear()
    index = build_index(corpus, tmp_path / "b", embedder, cache_dir=shared)
    assert embedder.calls == [] and index.manifest.embedding_cache == str(shared)
    assert not (tmp_path / "b" / "cache").exists()


def test_the_memo_reads_only_touched_files(tmp_path: Path, monkeypatch):
    corpus = tmp_path / "corpus"
    _write_corpus(corpus, 4)
    settled = time.time() - 60  # older than the racy window
    for file in corpus.iterdir():
        os.utime(file, (settled, settled))
    memo = tmp_path / MEMO_FILE
    assert remembered_fingerprint(corpus, memo) == corpus_fingerprint(corpus)
    read: list[str] = []
    real = file_digest
    monkeypatch.setattr(
        "qabot.documents.digest_memo.file_digest", lambda f: read.append(f.name) or real(f)
    )
    assert remembered_fingerprint(corpus, memo) == corpus_fingerprint(corpus)
    assert read == []  # every file vouched for by its size and mtime
    (corpus / "doc01.txt").write_text("changed", encoding="utf-8")
    assert remembered_fingerprint(corpus, memo) == corpus_fingerprint(corpus)
    assert read == ["doc01.txt"]


def test_a_fresh_edit_is_hashed_even_with_an_unchanged_size_and_mtime(tmp_path: Path):
    corpus = tmp_path / "corpus"
    _write_corpus(corpus, 2)
    memo = tmp_path / MEMO_FILE
    before = remembered_fingerprint(corpus, memo)  # written just now: racy, not trusted
    file = corpus / "doc00.txt"
    stat = file.stat()
    file.write_text(file.read_text(encoding="utf-8").replace("topic", "TOPIC"), encoding="utf-8")
    os.utime(file, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size, same mtime
    assert remembered_fingerprint(corpus, memo) != before
    assert remembered_fingerprint(corpus, memo) == corpus_fingerprint(corpus)


def test_a_bad_memo_is_an_empty_one(tmp_path: Path):
    corpus = tmp_path / "corpus"
    _write_corpus(corpus, 2)
    (tmp_path / MEMO_FILE).write_text("{not json", encoding="utf-8")
    assert remembered_fingerprint(corpus, tmp_path / MEMO_FILE) == corpus_fingerprint(corpus)
    assert json.loads((tmp_path / MEMO_FILE).read_text(encoding="utf-8"))


def test_check_fresh_uses_the_memo_and_still_sees_changes(tmp_path: Path):
    corpus = tmp_path / "corpus"
    _write_corpus(corpus, 3)
    index = build_index(corpus, tmp_path / "idx", FakeEmbedder())
    check_fresh(index.manifest, corpus, index_dir=index.index_dir)
    assert (tmp_path / "idx" / "cache" / MEMO_FILE).is_file()
    (corpus / "doc02.txt").write_text("New words.", encoding="utf-8")
    with pytest.raises(StaleIndexError):
        check_fresh(load_index(tmp_path / "idx").manifest, corpus, index_dir=tmp_path / "idx")


def test_a_model_name_reused_with_another_dimension_is_not_mixed_up(tmp_path: Path):
    wide, narrow = FakeEmbedder(64), FakeEmbedder(32)
    cached_embed(["a b"], wide, _cache(tmp_path, wide))
    vectors = cached_embed(["a b"], narrow, _cache(tmp_path, narrow))
    assert vectors.shape == (1, 32) and narrow.calls == [1]
    cache = _cache(tmp_path, wide)
    cached_embed(["a b"], wide, cache)
    assert cache.embedded == 0  # the other width's shard was skipped, not removed
