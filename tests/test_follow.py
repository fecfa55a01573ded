"""A running server follows the index's manifest: a new build is served without a restart."""

import json
import threading
import time
from pathlib import Path

import httpx
import pytest

from qabot.cli.wiring import answerer_for
from qabot.index.build import build_index
from qabot.web.follow import ManifestFollower
from qabot.web.holder import AnswererHolder
from qabot.web.server import build_app

from serving import running


def _corpus(tmp_path: Path, name: str, text: str) -> Path:
    corpus = tmp_path / name
    corpus.mkdir()
    (corpus / f"{name}.md").write_text(f"# {name.title()}\n\n{text}", encoding="utf-8")
    return corpus


def _follower(index_dir: Path, embedder, logs: list[str], interval: float = 0.1):
    index = build_index(
        _corpus(index_dir.parent, "apples", "Apples grow on trees in orchards."),
        index_dir,
        embedder,
    )
    holder = AnswererHolder(answerer_for(index, embedder, threshold=0.0))
    follower = ManifestFollower(
        index_dir,
        holder,
        lambda new: answerer_for(new, embedder, threshold=0.0),
        model=embedder.name,
        interval=interval,
        log=logs.append,
    )
    return holder, follower


@pytest.mark.slow
def test_a_running_server_serves_a_new_build_without_failing_a_request(
    tmp_path: Path, fake_embedder
):
    index_dir = tmp_path / "idx"
    logs: list[str] = []
    holder, follower = _follower(index_dir, fake_embedder, logs)
    statuses: list[int] = []
    stop = threading.Event()
    with running(build_app(holder)) as url:

        def ask_all_the_time() -> None:
            with httpx.Client(timeout=30) as client:
                while not stop.is_set():
                    response = client.post(f"{url}/api/ask", json={"question": "Where?"})
                    statuses.append(response.status_code)

        asker = threading.Thread(target=ask_all_the_time)
        follower.start()
        asker.start()
        try:
            question = {"question": "Where do bananas grow?"}
            first = httpx.post(f"{url}/api/ask", json=question, timeout=30).json()
            assert first["source"]["passage_id"].startswith("apples.md")
            bananas = _corpus(tmp_path, "bananas", "Bananas grow on plants in the tropics.")
            build_index(bananas, index_dir, fake_embedder)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                record = httpx.post(f"{url}/api/ask", json=question, timeout=30).json()
                if record["source"]["passage_id"].startswith("bananas.md"):
                    break
                time.sleep(0.1)
            assert record["source"]["passage_id"].startswith("bananas.md")
            health = httpx.get(f"{url}/healthz", timeout=10).json()
            assert health["documents"] == 1 and holder.manifest.corpus_path == str(bananas)
        finally:
            stop.set()
            asker.join(timeout=30)
            follower.stop()
    assert len(statuses) > 5 and set(statuses) == {200}
    assert len([line for line in logs if line.startswith("Now serving build")]) == 1


def test_a_build_that_cannot_be_loaded_keeps_the_current_answerer(tmp_path: Path, fake_embedder):
    index_dir = tmp_path / "idx"
    logs: list[str] = []
    holder, follower = _follower(index_dir, fake_embedder, logs)
    current = holder.current
    manifest = json.loads((index_dir / "manifest.json").read_text())
    # A manifest naming a data folder that is not there (say, removed by hand).
    (index_dir / "manifest.json").write_text(json.dumps({**manifest, "data_dir": "data-gone"}))
    assert follower.check() is False and follower.check() is False
    assert holder.current is current
    assert len(logs) == 1 and logs[0].startswith("Kept the current index")
    (index_dir / "manifest.json").write_text(json.dumps(manifest) + "\n")  # the same build
    assert follower.check() is False and holder.current is current


def test_a_build_of_another_model_is_not_loaded(tmp_path: Path, fake_embedder):
    from fakes import FakeEmbedder

    index_dir = tmp_path / "idx"
    logs: list[str] = []
    holder, follower = _follower(index_dir, fake_embedder, logs)
    current = holder.current
    build_index(tmp_path / "apples", index_dir, FakeEmbedder(name="other-model"))
    assert follower.check() is False and holder.current is current
    assert "other-model" in logs[0]


def test_the_follower_thread_starts_and_stops(tmp_path: Path, fake_embedder):
    index_dir = tmp_path / "idx"
    logs: list[str] = []
    holder, follower = _follower(index_dir, fake_embedder, logs, interval=0.05)
    follower.start()
    try:
        build_index(tmp_path / "apples", index_dir, fake_embedder)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not logs:
            time.sleep(0.05)
    finally:
        follower.stop()
    assert logs and logs[0].startswith("Now serving build")
    assert (
        holder.manifest.data_dir
        == json.loads((index_dir / "manifest.json").read_text())["data_dir"]
    )
    assert not any(t.name == "qabot-follow" for t in threading.enumerate())


def test_serve_wires_the_follower_to_its_answerer(tmp_path: Path, fake_embedder):
    from qabot.cli import build_parser
    from qabot.cli.serving import open_holder

    corpus = _corpus(tmp_path, "apples", "Apples grow on trees in orchards.")
    index_dir = tmp_path / "idx"
    args = build_parser().parse_args(
        [
            "serve",
            "--corpus",
            str(corpus),
            "--index-dir",
            str(index_dir),
            "--alternatives",
            "0",
            "--no-verifier",
        ]
    )
    holder, follower = open_holder(args, make_embedder=lambda name: fake_embedder)
    first = holder.manifest.data_dir
    assert follower.check() is False
    build_index(_corpus(tmp_path, "pears", "Pears are sweet."), index_dir, fake_embedder)
    assert follower.check() is True and holder.manifest.data_dir != first
    assert holder.current.alternatives == 0 and holder.current.retriever.embedder is fake_embedder
