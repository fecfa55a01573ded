import json
import os
import time
from pathlib import Path

import pytest

from qabot.answering.confidence import default_model
from qabot.errors import (
    CorpusError,
    EmptyCorpusError,
    IndexCorruptError,
    IndexNotFoundError,
    ModelMismatchError,
    StaleIndexError,
)
from qabot.index.build import build_index, check_fresh, load_index
from qabot.index.manifest import FORMAT_VERSION, read_manifest
from qabot.index.startup import ensure_index


def _corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "a.md").write_text(
        "# Apples\n\nApples grow on trees in orchards.\n\nFAQ\n\n1. Are apples red?\n\nSome are green.",
        encoding="utf-8",
    )
    return corpus


def test_build_then_load_round_trip(tmp_path: Path, fake_embedder):
    corpus = _corpus(tmp_path)
    record = default_model().record()
    built = build_index(corpus, tmp_path / "idx", fake_embedder, max_chars=500, confidence=record)
    m = built.manifest
    assert (m.model, m.dimension, m.max_chars) == ("fake-embedder", 64, 500)
    # Rows: the passage's whole text (one sentence: no sentence rows); the FAQ entry's
    # question + answer, question, and its answer's one sentence.
    assert (m.documents, m.passages, m.faq_entries, m.rows) == (1, 1, 1, 4)
    assert m.grains == ("whole", "question", "sentence") and m.format_version == FORMAT_VERSION
    assert m.confidence == {"version": 1, "sha256": default_model().fingerprint()}
    assert m.corpus_path == str(corpus.resolve())
    loaded = load_index(tmp_path / "idx", model="fake-embedder")
    assert loaded.manifest == m
    assert [p.passage_id for p in loaded.passages] == ["a.md#0", "a.md#faq-0"]
    check_fresh(loaded.manifest, corpus)
    data_files = [p for p in (tmp_path / "idx" / m.data_dir).rglob("*") if p.is_file()]
    assert data_files and all(not (p.stat().st_mode & 0o222) for p in data_files)


def test_embedding_is_batched_once_for_the_corpus(tmp_path: Path, fake_embedder):
    build_index(_corpus(tmp_path), tmp_path / "idx", fake_embedder)
    assert fake_embedder.calls == [4]  # every grain row, in one batch


def test_missing_stale_mismatched_and_corrupt(tmp_path: Path, fake_embedder):
    with pytest.raises(IndexNotFoundError, match="No index in"):
        load_index(tmp_path / "nothing")
    corpus = _corpus(tmp_path)
    index_dir = tmp_path / "idx"
    build_index(corpus, index_dir, fake_embedder)
    with pytest.raises(ModelMismatchError, match="fake-embedder"):
        load_index(index_dir, model="all-MiniLM-L6-v2")
    (corpus / "b.txt").write_text("New document.", encoding="utf-8")
    with pytest.raises(StaleIndexError, match="changed"):
        check_fresh(read_manifest(index_dir), corpus)
    (index_dir / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="unreadable"):
        load_index(index_dir)


def test_failed_build_keeps_the_working_index(tmp_path: Path, fake_embedder):
    corpus = _corpus(tmp_path)
    index_dir = tmp_path / "idx"
    first = build_index(corpus, index_dir, fake_embedder).manifest

    class Exploding:
        name, dimension, backend, folder = "fake-embedder", 64, "torch", None

        def embed_batch(self, texts, *, progress=False):
            raise RuntimeError("crash mid-build")

    (corpus / "b.txt").write_text("More text to index.", encoding="utf-8")
    with pytest.raises(RuntimeError):
        build_index(corpus, index_dir, Exploding())
    assert load_index(index_dir).manifest == first
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(EmptyCorpusError):
        build_index(empty, index_dir, fake_embedder)
    assert load_index(index_dir).manifest == first
    assert [p.name for p in index_dir.iterdir() if p.name.startswith(".data-")] == []


def _data_dirs(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.glob("data-*"))


def test_replaced_data_folder_stays_for_the_grace_period(tmp_path: Path, fake_embedder):
    corpus = _corpus(tmp_path)
    index_dir = tmp_path / "idx"
    first = build_index(corpus, index_dir, fake_embedder).manifest
    second = build_index(corpus, index_dir, fake_embedder).manifest
    third = build_index(corpus, index_dir, fake_embedder).manifest
    assert second.retain_seconds == 15 * 60 == read_manifest(index_dir).retain_seconds
    # Readers that opened an earlier manifest still find its files.
    assert _data_dirs(index_dir) == sorted([first.data_dir, second.data_dir, third.data_dir])
    assert load_index(index_dir).manifest == third


def test_replaced_data_folder_goes_once_its_grace_period_is_over(tmp_path: Path, fake_embedder):
    corpus = _corpus(tmp_path)
    index_dir = tmp_path / "idx"
    first = build_index(corpus, index_dir, fake_embedder, retain_seconds=60).manifest
    second = build_index(corpus, index_dir, fake_embedder, retain_seconds=60).manifest
    assert _data_dirs(index_dir) == sorted([first.data_dir, second.data_dir])
    marker = index_dir / f".retired-{first.data_dir}"
    old = time.time() - 61  # the first folder stopped being current 61 s ago
    os.utime(marker, (old, old))
    third = build_index(corpus, index_dir, fake_embedder, retain_seconds=60).manifest
    assert _data_dirs(index_dir) == sorted([second.data_dir, third.data_dir])
    assert not marker.exists() and (index_dir / f".retired-{second.data_dir}").exists()


def test_ensure_index_rebuilds_when_stale_or_corrupt(tmp_path: Path, fake_embedder):
    corpus = _corpus(tmp_path)
    index_dir = tmp_path / "idx"
    logs: list[str] = []
    made: list[str] = []

    def make(name: str):
        made.append(name)
        return fake_embedder

    kwargs = {"default_model": "fake-embedder", "log": logs.append}
    index, _ = ensure_index(corpus, index_dir, make, **kwargs)
    assert made == ["fake-embedder"] and logs and "No index" in logs[0]
    ensure_index(corpus, index_dir, make, **kwargs)
    assert len(logs) == 1  # fresh: loaded, not rebuilt
    (corpus / "b.txt").write_text("Pears are sweet.", encoding="utf-8")
    index, _ = ensure_index(corpus, index_dir, make, **kwargs)
    assert "changed" in logs[-1] and index.manifest.documents == 2
    manifest = json.loads((index_dir / "manifest.json").read_text())
    (index_dir / manifest["data_dir"] / "passage_ids.json").chmod(0o644)
    (index_dir / manifest["data_dir"] / "passage_ids.json").write_text("[]", encoding="utf-8")
    index, _ = ensure_index(corpus, index_dir, make, **kwargs)
    assert "passage_ids.json' is truncated or damaged" in logs[-1]
    # An index of an older format (before grain rows) is rebuilt, not read.
    manifest = json.loads((index_dir / "manifest.json").read_text())
    (index_dir / "manifest.json").write_text(json.dumps({**manifest, "format_version": 1}))
    index, _ = ensure_index(corpus, index_dir, make, **kwargs)
    assert "has format 1" in logs[-1] and "rebuild" in logs[-1]
    assert read_manifest(index_dir).format_version == FORMAT_VERSION
    assert load_index(index_dir).manifest.documents == 2
    (corpus / "bad.txt").write_bytes(b"\xff\xfe not utf-8")
    ensure_index(corpus, index_dir, make, **kwargs)
    assert "changed" in logs[-2] and logs[-1].startswith("skipped: bad.txt: not UTF-8")
    with pytest.raises(CorpusError, match="does not exist"):
        ensure_index(tmp_path / "typo", index_dir, make, **kwargs)


def test_index_files_are_readable_by_others(tmp_path: Path, fake_embedder):
    index = build_index(_corpus(tmp_path), tmp_path / "idx", fake_embedder)
    data = tmp_path / "idx" / index.manifest.data_dir
    assert (tmp_path / "idx" / "manifest.json").stat().st_mode & 0o044 == 0o044
    assert data.stat().st_mode & 0o055 == 0o055


def test_ensure_index_defaults_to_the_index_own_corpus(tmp_path: Path, fake_embedder):
    corpus = _corpus(tmp_path)
    index_dir = tmp_path / "idx"
    first = build_index(corpus, index_dir, fake_embedder).manifest
    logs: list[str] = []
    index, _ = ensure_index(
        None,
        index_dir,
        lambda name: fake_embedder,
        default_model="fake-embedder",
        default_corpus=tmp_path / "elsewhere",
        log=logs.append,
    )
    assert index.manifest == first and logs == []  # not rebuilt from the default corpus
    moved = tmp_path / "moved"
    corpus.rename(moved)
    index, _ = ensure_index(
        None, index_dir, lambda name: fake_embedder, default_model="x", log=logs.append
    )
    assert index.manifest == first and "not here" in logs[-1]


def test_the_commit_lock_is_exclusive_and_released(tmp_path: Path):
    import fcntl

    from qabot.index.folder import commit_lock as _commit_lock

    def try_lock() -> bool:
        with open(tmp_path / ".lock", "a") as other:
            try:
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            fcntl.flock(other, fcntl.LOCK_UN)
            return True

    with _commit_lock(tmp_path):
        assert not try_lock()  # a second build waits here
    assert try_lock()
    with pytest.raises(RuntimeError), _commit_lock(tmp_path):
        raise RuntimeError("a failed commit")
    assert try_lock()  # released on failure too


def test_a_build_commits_only_under_the_lock(tmp_path: Path, fake_embedder):
    import threading

    from qabot.index.folder import commit_lock as _commit_lock

    corpus, index_dir = _corpus(tmp_path), tmp_path / "idx"
    index_dir.mkdir()
    with _commit_lock(index_dir):
        builder = threading.Thread(target=build_index, args=(corpus, index_dir, fake_embedder))
        builder.start()
        deadline = time.monotonic() + 120
        while not _staged(index_dir) and builder.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _staged(index_dir), "the build committed (or failed) while the lock was held"
        builder.join(timeout=1)  # staged and read-only: only the lock keeps it from committing
        assert builder.is_alive()
        assert not (index_dir / "manifest.json").exists()
        assert [p.name for p in index_dir.glob("data-*")] == []
    builder.join(timeout=60)
    assert not builder.is_alive()
    assert load_index(index_dir).manifest.passages == 1
    assert list(index_dir.glob(".data-*")) == []


def _staged(index_dir: Path) -> bool:
    """Whether a build's staging folder is complete (made readable by others, its last step)."""
    return any(p.stat().st_mode & 0o055 == 0o055 for p in index_dir.glob(".data-*"))


def test_old_data_and_stale_staging_folders_are_removed(tmp_path: Path, fake_embedder):
    corpus, index_dir = _corpus(tmp_path), tmp_path / "idx"
    build_index(corpus, index_dir, fake_embedder, retain_seconds=0)
    second = build_index(corpus, index_dir, fake_embedder, retain_seconds=0).manifest
    # A build killed a day ago left its staging folder (read-only, like a finished one);
    # another build is writing one right now.
    stale = index_dir / ".data-20200101T000000-dead.x1"
    (stale / "keyword").mkdir(parents=True)
    (stale / "keyword" / "ids.json").write_text("[]", encoding="utf-8")
    for path in (stale / "keyword" / "ids.json", stale / "keyword", stale):
        path.chmod(0o444 if path.is_file() else 0o555)
    a_day_ago = time.time() - 25 * 3600
    os.utime(stale, (a_day_ago, a_day_ago))
    running = index_dir / ".data-20990101T000000-live.x2"
    running.mkdir()
    # With no grace period, the first folder (retired by the second build) goes now.
    third = build_index(corpus, index_dir, fake_embedder, retain_seconds=0).manifest
    assert sorted(p.name for p in index_dir.iterdir() if p.is_dir()) == sorted(
        [running.name, second.data_dir, third.data_dir, "cache"]
    )


def test_an_index_written_with_a_context_field_still_loads(tmp_path: Path, fake_embedder):
    corpus = _corpus(tmp_path)
    (corpus / "c.jsonl").write_text(
        '{"_id": "7", "title": "Cells", "text": "Cells divide."}\n', encoding="utf-8"
    )
    index = build_index(corpus, tmp_path / "idx", fake_embedder)
    data = tmp_path / "idx" / index.manifest.data_dir / "passages.jsonl"
    rows = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines()]
    assert {row["passage_id"]: row["section"] for row in rows} == {
        "7#0": "Cells",  # a structured row's title is its section
        "a.md#0": "Apples",
        "a.md#faq-0": "FAQ",
    }
    # Before `context` was folded into `section`, a row's title was its context only.
    for row in rows:
        row["context"] = row["section"] if row["kind"] == "passage" else ""
        if row["passage_id"] == "7#0":
            row["section"] = ""
    data.chmod(0o644)
    data.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    (data.parent / "checksums.json").unlink()  # indexes of that time had none
    loaded = load_index(tmp_path / "idx")
    assert tuple(loaded.passages) == index.passages


def test_progress_is_asked_for_only_when_wanted(tmp_path: Path, fake_embedder):
    corpus, index_dir = _corpus(tmp_path), tmp_path / "idx"
    build_index(corpus, index_dir, fake_embedder, cache_dir=None)
    build_index(corpus, index_dir, fake_embedder, progress=True, cache_dir=None)
    (corpus / "b.txt").write_text("Pears are sweet.", encoding="utf-8")
    ensure_index(corpus, index_dir, lambda name: fake_embedder, default_model="x", progress=True)
    assert fake_embedder.progress_calls == [False, True, True]


def test_the_index_type_is_recorded_and_kept_on_load(tmp_path: Path, fake_embedder):
    corpus = _corpus(tmp_path)
    assert build_index(corpus, tmp_path / "auto", fake_embedder).manifest.index_type == "flat"
    built = build_index(corpus, tmp_path / "hnsw", fake_embedder, index_type="hnsw")
    assert built.manifest.index_type == "hnsw" == built.store.index_type
    loaded = load_index(tmp_path / "hnsw")
    assert loaded.store.index_type == "hnsw"
    [found] = loaded.store.search_batch(fake_embedder.embed_batch(["Are apples red?"]), 2)
    assert loaded.passages[found.numbers[0]].passage_id == "a.md#faq-0"
    with pytest.raises(ValueError, match="not one of"):
        build_index(corpus, tmp_path / "bad", fake_embedder, index_type="annoy")


def test_numbering_that_disagrees_is_corrupt(tmp_path: Path, fake_embedder):
    built = build_index(_corpus(tmp_path), tmp_path / "idx", fake_embedder)
    data = tmp_path / "idx" / built.manifest.data_dir
    for path in (data, data / "keyword", data / "keyword" / "ids.json"):
        path.chmod(0o755)  # the data folder is read-only
    (data / "keyword" / "ids.json").write_text(json.dumps(["a.md#faq-0", "a.md#0"]), "utf-8")
    (data / "checksums.json").unlink()  # so the numbering check, not a checksum, catches it
    with pytest.raises(IndexCorruptError, match="disagree"):
        load_index(tmp_path / "idx")
