"""Faults: a build killed mid-way, a full disk, damaged index files, a feedback file that fails."""

import errno
import logging
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.hostile_files import HOSTILE_FILES, good_corpus, long_word
from qabot.documents.files import printable
from qabot.errors import IndexCorruptError, IndexWriteError
from qabot.index.build import build_index, check_fresh, load_index
from qabot.index.manifest import read_manifest
from qabot.web.feedback import FeedbackStore

from conftest import ROOT
from fakes import FakeEmbedder

# Builds an index in a fresh interpreter; says when its imports are done, then how long it took.
_BUILD = """
import sys, time
from fakes import FakeEmbedder
from qabot.index.build import build_index
print("ready", flush=True)
start = time.monotonic()
build_index(sys.argv[1], sys.argv[2], FakeEmbedder())
print(time.monotonic() - start, flush=True)
"""


def _corpus(tmp_path: Path, documents: int = 1) -> Path:
    corpus = tmp_path / "docs"
    corpus.mkdir()
    for n in range(documents):
        paragraphs = "\n\n".join(
            f"Paragraph {p} of document {n} tells of apples, pears and plums {n * p}."
            for p in range(40)
        )
        (corpus / f"d{n}.md").write_text(f"# Doc {n}\n\n{paragraphs}", encoding="utf-8")
    return corpus


def _start_build(corpus: Path, index_dir: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests")])}
    process = subprocess.Popen(
        [sys.executable, "-c", _BUILD, str(corpus), str(index_dir)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout.readline().strip() == "ready"
    return process


KILLS = 10
KILL_SEED = 20231129  # the kill moments, as shares of a measured build: the same on every run


def _timed_build(corpus: Path, index_dir: Path) -> float:
    """Seconds from a build's start (imports done) to its process's end, as the killer sees it."""
    process = _start_build(corpus, index_dir)
    start = time.monotonic()
    process.communicate(timeout=120)
    assert process.returncode == 0
    return time.monotonic() - start


@pytest.mark.slow
def test_a_build_killed_at_any_moment_leaves_the_previous_index_loadable(tmp_path: Path):
    corpus, index_dir = _corpus(tmp_path, documents=20), tmp_path / "idx"
    build_seconds = max(_timed_build(corpus, index_dir) for _ in range(2))  # the 2nd: a rebuild
    previous = read_manifest(index_dir)
    # One kill in each tenth of 1.2 build times (so the last land after the commit), at a
    # seeded place within its tenth.
    rng = random.Random(KILL_SEED)
    shares = [(n + rng.random()) * 1.2 / KILLS for n in range(KILLS)]
    outcomes = []
    for share in shares:
        killed_at = f"killed at {share:.3f} of a {build_seconds:.2f} s build"
        with _start_build(corpus, index_dir) as process:  # closes its stdout pipe
            time.sleep(share * build_seconds)
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        index = load_index(index_dir)  # checks every file against its checksum
        # Either the previous build, untouched, or the killed one if it had committed.
        if index.manifest.data_dir == previous.data_dir:
            assert index.manifest == previous, killed_at
            outcomes.append("previous")
        else:
            assert index.manifest.built_at >= previous.built_at, killed_at
            outcomes.append("new")
        assert index.manifest.passages == 20 * 40 and len(index.passages) == 20 * 40, killed_at
        assert (index_dir / previous.data_dir).is_dir(), killed_at  # still readable by a replica
        previous = index.manifest
    assert outcomes[0] == "previous"  # the first kill, early in the build, landed before the commit
    # No lock is left held: the next build commits.
    after = build_index(corpus, index_dir, _fake()).manifest
    assert read_manifest(index_dir).data_dir == after.data_dir


def _fake():
    from fakes import FakeEmbedder

    return FakeEmbedder()


def test_a_full_disk_leaves_the_previous_index_intact(tmp_path: Path, monkeypatch):
    corpus, index_dir = _corpus(tmp_path), tmp_path / "idx"
    before = build_index(corpus, index_dir, _fake()).manifest

    def disk_full(self, folder):
        Path(folder).mkdir()
        (Path(folder) / "part").write_text("half written")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("qabot.index.keyword.KeywordIndex.save", disk_full)
    with pytest.raises(
        IndexWriteError, match=r"No space left on device.*previous index is unchanged"
    ):
        build_index(corpus, index_dir, _fake())
    assert load_index(index_dir).manifest == before
    # No half-written data folder is left; the embedding cache (not index data) stays.
    folders = sorted(p.name for p in index_dir.iterdir() if p.is_dir())
    assert folders == sorted([before.data_dir, "cache"])


@pytest.mark.parametrize(
    "name", ["rows.npy", "passage_ids.json", "passages.jsonl", "keyword/vocab.index.json"]
)
@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_damaged_data_file_is_named(tmp_path: Path, name: str, damage: str):
    index_dir = tmp_path / "idx"
    manifest = build_index(_corpus(tmp_path), index_dir, _fake()).manifest
    path = index_dir / manifest.data_dir / name
    raw = path.read_bytes()
    path.chmod(0o644)
    if damage == "truncate":
        path.write_bytes(raw[: len(raw) // 2])
    else:  # same size, one byte changed
        path.write_bytes(raw[:-1] + bytes([raw[-1] ^ 0xFF]))
    with pytest.raises(IndexCorruptError) as caught:
        load_index(index_dir)
    assert str(path) in str(caught.value)
    assert ("truncated" in str(caught.value)) == (damage == "truncate")


def _answered(store: FeedbackStore, times: int) -> list[int]:
    return [store.record("What is NATO?", "a#0", 0.9, True, channel="api") for _ in range(times)]


def test_a_locked_feedback_file_is_logged_once_and_never_raises(tmp_path: Path, caplog):
    path = tmp_path / "feedback.sqlite"
    store = FeedbackStore(path)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    try:
        with caplog.at_level(logging.WARNING, logger="qabot.web.feedback"):
            assert _answered(store, 3) == [0, 0, 0]
            store.vote(1, 1)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert [r.getMessage() for r in caplog.records if "locked" in r.getMessage()] != []
    assert len(caplog.records) == 1 and "still answered" in caplog.records[0].getMessage()
    assert _answered(store, 1) != [0]  # and it recovers once the lock is gone


def test_a_read_only_feedback_file_is_logged_once_and_never_raises(tmp_path: Path, caplog):
    store = FeedbackStore(tmp_path / "feedback.sqlite")
    # Read-only as SQLite sees it (the tests may run as root, whom file modes do not stop).
    store._db.execute("PRAGMA query_only = ON")
    with caplog.at_level(logging.WARNING, logger="qabot.web.feedback"):
        assert _answered(store, 2) == [0, 0]
        store.vote(1, -1)
    assert len(caplog.records) == 1 and "readonly" in caplog.records[0].getMessage()


def test_the_api_answers_while_feedback_cannot_be_stored(tmp_path: Path, fake_embedder, caplog):
    from fastapi.testclient import TestClient

    from qabot.cli.wiring import answerer_for
    from qabot.web.server import build_app

    index = build_index(_corpus(tmp_path), tmp_path / "idx", fake_embedder)
    store = FeedbackStore(tmp_path / "feedback.sqlite")
    store._db.execute("PRAGMA query_only = ON")
    app = build_app(answerer_for(index, fake_embedder, threshold=0.0), feedback=store)
    with caplog.at_level(logging.WARNING, logger="qabot.web.feedback"), TestClient(app) as client:
        replies = [client.post("/api/ask", json={"question": "apples?"}) for _ in range(3)]
    assert [r.status_code for r in replies] == [200, 200, 200]
    assert all(r.json()["found"] for r in replies)
    assert len([r for r in caplog.records if r.name == "qabot.web.feedback"]) == 1


@pytest.mark.parametrize("kind", [*sorted(HOSTILE_FILES), "long-word"])
def test_a_hostile_file_does_not_stop_the_build(tmp_path, kind):
    corpus = good_corpus(tmp_path / "corpus")
    name = (HOSTILE_FILES.get(kind) or long_word)(corpus)
    index = build_index(corpus, tmp_path / "index", FakeEmbedder(), max_chars=500, cache_dir=None)
    assert "good.txt#0" in index.keyword_index.position
    assert max(len(p.text) for p in index.passages) <= 500
    if kind == "long-word":  # read, and cut to size
        assert sum(p.path == name for p in index.passages) == 4000
    else:  # skipped, named in one escaped line
        assert [p.split(":")[0] for p in index.manifest.problems][:1] == [printable(name)]
    reloaded = load_index(tmp_path / "index")
    check_fresh(reloaded.manifest, corpus, index_dir=tmp_path / "index")  # not stale
