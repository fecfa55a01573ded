"""Start-up with a shared index folder: one build among many starters, settings kept, replicas."""

import json
import threading
import time
from pathlib import Path

import pytest

from qabot.errors import IndexNotFoundError
from qabot.index.build import build_index
from qabot.index.manifest import read_manifest
from qabot.index.startup import ensure_index, wait_for_index

from fakes import FakeEmbedder


class SlowEmbedder(FakeEmbedder):
    """A fake embedder that takes its time, so that concurrent starters overlap."""

    def embed_batch(self, texts, *, progress=False):
        time.sleep(0.5)
        return super().embed_batch(texts, progress=progress)


def _corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "a.md").write_text(
        "# Apples\n\n" + "Apples grow on trees in orchards. " * 30, encoding="utf-8"
    )
    return corpus


def test_processes_starting_together_build_once(tmp_path: Path):
    corpus, index_dir = _corpus(tmp_path), tmp_path / "idx"
    embedder = SlowEmbedder()
    results: list = []
    errors: list = []

    def start() -> None:
        try:
            index, _ = ensure_index(corpus, index_dir, lambda name: embedder, default_model="fake")
            results.append(index.manifest.data_dir)
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)

    starters = [threading.Thread(target=start) for _ in range(3)]
    for thread in starters:
        thread.start()
    for thread in starters:
        thread.join(timeout=60)
    assert errors == []
    assert len(embedder.calls) == 1  # one build; the others loaded its commit
    assert len(set(results)) == 1 and len(results) == 3
    assert [p.name for p in index_dir.glob("data-*")] == results[:1]


def test_an_automatic_rebuild_keeps_the_index_max_chars(tmp_path: Path, fake_embedder):
    corpus, index_dir = _corpus(tmp_path), tmp_path / "idx"
    build_index(corpus, index_dir, fake_embedder, max_chars=200)
    (corpus / "b.txt").write_text("Pears are sweet.", encoding="utf-8")
    index, _ = ensure_index(corpus, index_dir, lambda name: fake_embedder, default_model="x")
    assert index.manifest.documents == 2 and index.manifest.max_chars == 200
    logs: list[str] = []
    index, _ = ensure_index(
        corpus,
        index_dir,
        lambda n: fake_embedder,
        default_model="x",
        max_chars=300,
        log=logs.append,
    )
    assert index.manifest.max_chars == 300 and "max_chars=200, not 300" in logs[0]


def test_an_index_of_another_qabot_version_is_rebuilt(tmp_path: Path, fake_embedder):
    corpus, index_dir = _corpus(tmp_path), tmp_path / "idx"
    first = build_index(corpus, index_dir, fake_embedder, max_chars=250).manifest
    path = index_dir / "manifest.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "qabot_version": "0.0.1"}))
    logs: list[str] = []
    index, _ = ensure_index(
        corpus, index_dir, lambda n: fake_embedder, default_model="x", log=logs.append
    )
    assert "built by qabot 0.0.1" in logs[0]
    assert index.manifest.data_dir != first.data_dir and index.manifest.max_chars == 250


def test_a_replica_never_builds(tmp_path: Path, fake_embedder):
    corpus, index_dir = _corpus(tmp_path), tmp_path / "idx"
    with pytest.raises(IndexNotFoundError):
        ensure_index(corpus, index_dir, lambda n: fake_embedder, default_model="x", build=False)
    assert not (index_dir / "manifest.json").exists() and fake_embedder.calls == []
    first = build_index(corpus, index_dir, fake_embedder).manifest
    (corpus / "b.txt").write_text("Pears are sweet.", encoding="utf-8")  # stale, yet served
    index, _ = ensure_index(
        corpus, index_dir, lambda n: fake_embedder, default_model="x", build=False
    )
    assert index.manifest == first and len(fake_embedder.calls) == 1


def test_wait_for_index_gives_up_with_a_clear_message(tmp_path: Path):
    with pytest.raises(IndexNotFoundError, match=r"No index appeared in .* within 0.2 s"):
        wait_for_index(tmp_path / "idx", wait=0.2, poll=0.05)


def test_wait_for_index_returns_once_a_build_commits(tmp_path: Path, fake_embedder):
    corpus, index_dir = _corpus(tmp_path), tmp_path / "idx"
    builder = threading.Timer(0.3, build_index, args=(corpus, index_dir, fake_embedder))
    builder.start()
    manifest = wait_for_index(index_dir, wait=30, poll=0.05)
    builder.join()
    assert manifest == read_manifest(index_dir) and manifest.documents == 1


def test_serve_no_build_gives_up_after_wait_in_one_line(tmp_path: Path, capsys):
    from qabot.cli import main

    code = main(["serve", "--no-build", "--wait", "0.3", "--index-dir", str(tmp_path / "idx")])
    errors = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and not (tmp_path / "idx").exists()
    assert errors[-1].startswith("qabot: error: No index appeared in")
    assert "within 0.3 s" in errors[-1]


def test_a_start_up_build_records_the_confidence_model_given(tmp_path: Path, fake_embedder):
    from dataclasses import replace

    from qabot.answering.confidence import default_model

    model = replace(default_model(), threshold=0.25)
    index, _ = ensure_index(
        _corpus(tmp_path),
        tmp_path / "idx",
        lambda name: fake_embedder,
        default_model="x",
        confidence=model.record(),
    )
    assert index.manifest.confidence == {"version": model.version, "sha256": model.fingerprint()}
    assert model.fingerprint() != default_model().fingerprint()
    assert read_manifest(tmp_path / "idx").retain_seconds == 15 * 60


def test_follow_symlinks_is_recorded_kept_and_checked(tmp_path, fake_embedder):
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("Pears ripen in August.", encoding="utf-8")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Plums ripen in September.", encoding="utf-8")
    (corpus / "link.txt").symlink_to(outside)
    index_dir = tmp_path / "index"

    def start(**settings):
        logs: list[str] = []
        index, _ = ensure_index(
            corpus,
            index_dir,
            lambda n: fake_embedder,
            default_model="x",
            log=logs.append,
            **settings,
        )
        return index, logs

    index, _ = start()
    assert index.manifest.documents == 1 and not index.manifest.follow_symlinks
    index, logs = start(follow_symlinks=True)
    assert index.manifest.documents == 2 and "follow_symlinks=False, not True" in logs[0]
    again, logs = start()  # None: the index's own setting, no rebuild
    assert again.manifest.data_dir == index.manifest.data_dir and logs == []
    outside.write_text("Pears ripen in October.", encoding="utf-8")  # the followed file changed
    changed, logs = start()
    assert changed.manifest.follow_symlinks and "changed since the index was built" in logs[0]
