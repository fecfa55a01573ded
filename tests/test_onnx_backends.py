"""``--backend``: the ONNX model travels with its index, the manifest refuses mixed backends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qabot.cli import build_parser, main
from qabot.cli.wiring import threads
from qabot.errors import ModelError, ModelMismatchError, QabotError
from qabot.index.build import build_index
from qabot.index.embedder import check_backend, embedder_for_index
from qabot.index.manifest import read_manifest
from qabot.index.startup import ensure_index
from qabot.models.backends import BACKENDS, DEFAULT_BACKEND, exported_folder, load_embedder
from qabot.models.embedding import DEFAULT_MODEL
from qabot.models.onnx_export import CONFIG_FILE, Quantisation, file_sha256

from conftest import SEED_CORPUS
from fakes import FakeEmbedder


class FakeOnnxEmbedder(FakeEmbedder):
    """Vectors as the fake's, labelled with an ONNX backend (and no model files to store)."""

    backend = "onnx"


def test_the_manifest_refuses_a_replica_of_another_backend(tmp_path: Path):
    index_dir = tmp_path / "index"
    build_index(SEED_CORPUS, index_dir, FakeEmbedder(), max_chars=300)
    assert (read_manifest(index_dir).backend, read_manifest(index_dir).onnx) == ("torch", {})
    with pytest.raises(ModelMismatchError) as caught:
        ensure_index(
            None, index_dir, lambda name: FakeOnnxEmbedder(), default_model="x", build=False
        )
    message = str(caught.value)
    assert "backend 'torch', not 'onnx'" in message
    assert "qabot index --backend onnx" in message and "Drop --backend" in message


def test_a_changed_backend_rebuilds_with_the_index_own_settings(tmp_path: Path):
    index_dir = tmp_path / "index"
    build_index(SEED_CORPUS, index_dir, FakeEmbedder(), max_chars=300)
    before = read_manifest(index_dir)
    index, embedder = ensure_index(
        None, index_dir, lambda name: FakeOnnxEmbedder(name=name), default_model="x"
    )
    assert embedder.backend == "onnx"
    assert (index.manifest.backend, index.manifest.max_chars) == ("onnx", 300)
    assert index.manifest.data_dir != before.data_dir
    # The same backend again: loaded as it is, not rebuilt.
    again, _ = ensure_index(
        None, index_dir, lambda name: FakeOnnxEmbedder(name=name), default_model="x"
    )
    assert again.manifest.data_dir == index.manifest.data_dir


def test_check_backend_passes_the_same_backend(tmp_path: Path):
    build_index(SEED_CORPUS, tmp_path, FakeOnnxEmbedder())
    check_backend(read_manifest(tmp_path), FakeOnnxEmbedder(), tmp_path)
    with pytest.raises(ModelMismatchError, match="'onnx', not 'torch'"):
        check_backend(read_manifest(tmp_path), FakeEmbedder(), tmp_path)


def test_qabot_index_stores_the_int8_model_and_records_how_it_was_made(
    tmp_path: Path, onnx_folder: Path, capsys
):
    index_dir = tmp_path / "index"
    args = [str(SEED_CORPUS), "--index-dir", str(index_dir), "--backend", "onnx-int8"]
    assert main(["index", *args]) == 0
    assert "backend onnx-int8" in capsys.readouterr().out
    manifest = read_manifest(index_dir)
    assert manifest.backend == "onnx-int8"
    record = manifest.onnx
    assert record["exporter"].startswith("torch.onnx.export") and record["opset"] == 17
    assert record["quantisation"]["per_channel"] is True
    assert record["file"] == "onnx/model-int8.onnx"
    stored = index_dir / manifest.data_dir / "onnx"
    assert record["sha256"] == file_sha256(stored / "model-int8.onnx")
    assert not (stored / "model.onnx").exists()  # only the model the backend runs
    assert {"tokenizer.json", CONFIG_FILE} <= {p.name for p in stored.iterdir()}
    # Loading takes the index's own model: no export, an empty cache stays empty.
    empty = tmp_path / "no-cache"
    embedder = embedder_for_index(DEFAULT_MODEL, index_dir=index_dir, cache_dir=empty)
    assert (embedder.backend, embedder.folder, embedder.name) == (
        "onnx-int8",
        stored,
        DEFAULT_MODEL,
    )
    assert not empty.exists()


def test_ask_answers_from_an_onnx_index_and_rebuilds_for_another_backend(
    tmp_path: Path, onnx_folder: Path, capsys
):
    index_dir = tmp_path / "index"
    assert main(["index", str(SEED_CORPUS), "--index-dir", str(index_dir)]) == 0
    assert read_manifest(index_dir).backend == DEFAULT_BACKEND
    capsys.readouterr()
    assert main(["ask", "What is NATO?", "--index-dir", str(index_dir), "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["found"] and answer["faq_question"] == "What is NATO?"
    first = read_manifest(index_dir).data_dir
    other = "onnx" if DEFAULT_BACKEND == "onnx-int8" else "onnx-int8"
    ask = ["ask", "What is NATO?", "--index-dir", str(index_dir), "--backend", other]
    assert main(ask) == 0
    manifest = read_manifest(index_dir)
    assert (manifest.backend, manifest.data_dir != first) == (other, True)
    assert "Index in" in capsys.readouterr().err  # the reason for the rebuild is said


def test_the_export_is_cached_per_model_and_quantisation(
    tmp_path: Path, onnx_folder: Path, onnx_cache: Path, monkeypatch
):
    import qabot.models.onnx_export

    def no_export(*args, **kwargs):
        raise RuntimeError("exported again")

    monkeypatch.setattr(qabot.models.onnx_export, "export_onnx", no_export)
    assert exported_folder(DEFAULT_MODEL, onnx_cache) == onnx_folder
    with pytest.raises(RuntimeError, match="exported again"):
        exported_folder(DEFAULT_MODEL, onnx_cache, quantisation=Quantisation(per_channel=False))

    def fake_export(source, out_dir, **kwargs):
        (Path(out_dir) / CONFIG_FILE).write_text("{}")

    monkeypatch.setattr(qabot.models.onnx_export, "export_onnx", fake_export)
    said: list[str] = []
    folder = exported_folder(DEFAULT_MODEL, tmp_path, log=said.append)
    assert folder.parent == tmp_path / "onnx" and (folder / CONFIG_FILE).is_file()
    assert folder.name.startswith(f"{DEFAULT_MODEL}-")
    assert any("one-off" in line for line in said), said
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # no scratch left


def test_an_onnx_backend_needs_a_local_model_folder(tmp_path: Path):
    with pytest.raises(ModelError, match="--backend torch"):
        exported_folder("no-such-model", tmp_path)
    with pytest.raises(ModelError, match="onnx-int8"):
        load_embedder(DEFAULT_MODEL, "onnx-int4", cache_dir=tmp_path)


@pytest.mark.parametrize("command", ["index", "ask", "serve", "eval", "lint"])
def test_every_command_that_embeds_takes_a_backend(command: str, capsys):
    first = {"ask": ["q"], "eval": ["questions.jsonl"]}.get(command, [])
    parser = build_parser()
    for backend in BACKENDS:
        assert parser.parse_args([command, *first, "--backend", backend]).backend == backend
    assert parser.parse_args([command, *first]).backend is None
    with pytest.raises(SystemExit):
        parser.parse_args([command, *first, "--backend", "tensorflow"])
    assert "invalid choice: 'tensorflow'" in capsys.readouterr().err


def test_threads_follow_the_cores_or_qabot_threads(monkeypatch, onnx_folder: Path):
    from qabot.cli import wiring
    from qabot.models.onnx_embedder import machine_threads

    monkeypatch.delenv("QABOT_THREADS", raising=False)
    assert threads() is None
    assert wiring.open_embedder(DEFAULT_MODEL, "onnx").threads == machine_threads()
    monkeypatch.setenv("QABOT_THREADS", "3")
    assert threads() == 3
    embedder = wiring.open_embedder(DEFAULT_MODEL, "onnx-int8")
    assert embedder.session.get_session_options().intra_op_num_threads == 3
    monkeypatch.setenv("QABOT_THREADS", "many")
    with pytest.raises(QabotError, match="QABOT_THREADS"):
        threads()


def test_a_server_keeps_its_build_when_a_new_one_has_another_backend(tmp_path: Path):
    from qabot.cli.serving import open_holder

    index_dir = tmp_path / "idx"
    served = FakeEmbedder(name="fake")
    args = build_parser().parse_args(
        ["serve", "--corpus", str(SEED_CORPUS), "--index-dir", str(index_dir), "--no-verifier"]
    )
    holder, follower = open_holder(args, make_embedder=lambda name: served)
    logs: list[str] = []
    follower.log = logs.append
    first = holder.manifest.data_dir
    build_index(SEED_CORPUS, index_dir, FakeOnnxEmbedder(name="fake"))
    assert follower.check() is False and holder.manifest.data_dir == first
    assert "backend 'onnx', not 'torch'" in logs[0]
    build_index(SEED_CORPUS, index_dir, FakeEmbedder(name="fake"))
    assert follower.check() is True and holder.manifest.data_dir != first
