"""The ONNX runtime: export, agreement with sentence-transformers, and no torch on its path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qabot.errors import ModelError
from qabot.models.onnx_embedder import OnnxEmbedder, machine_threads, normalise, pool
from qabot.models.onnx_export import INT8_FILE, ONNX_FILE, file_sha256, read_layout

ROOT = Path(__file__).resolve().parent.parent
TEXTS = [
    "What does NATO stand for?",
    "  how do I undo the last git commit?  ",  # sentence-transformers strips; so must we
    "Ünïcode, accents — and punctuation!?",
    "The mitochondria is the powerhouse of the cell, said every biology textbook ever.",
    "short",
    # Longer than 256 word pieces: both sides must truncate at the model's max_seq_length.
    " ".join(f"token{n} relates to the alliance's article five commitments" for n in range(60)),
]
# Measured on StackFAQ questions and SciFact abstracts (bench/results/onnx.md): fp32 ONNX agrees
# with torch to 1e-6; int8 (per-channel) stays above 0.98 on every text, 0.99 on average.
FP32_MIN_COSINE = 0.9999
INT8_MIN_COSINE = 0.98
INT8_MEAN_COSINE = 0.99


@pytest.fixture(scope="session")
def onnx_fp32(onnx_folder: Path) -> OnnxEmbedder:
    return OnnxEmbedder(onnx_folder, quantized=False)


@pytest.fixture(scope="session")
def onnx_int8(onnx_folder: Path) -> OnnxEmbedder:
    return OnnxEmbedder(onnx_folder, quantized=True)


def test_export_writes_the_models_the_tokenizer_and_a_record(onnx_folder: Path) -> None:
    config = json.loads((onnx_folder / "onnx.json").read_text(encoding="utf-8"))
    record = config["export"]
    assert record["source_model"] == "all-MiniLM-L6-v2"
    assert record["exporter"].startswith("torch.onnx.export")
    assert record["opset"] == 17
    assert record["quantisation"]["weight_type"] == "QInt8"
    assert (record["pooling"], record["max_seq_length"], record["dimension"]) == (
        "mean_tokens",
        256,
        384,
    )
    assert {ONNX_FILE, INT8_FILE, "tokenizer.json"} <= set(record["files"])
    for name, digest in record["files"].items():
        assert file_sha256(onnx_folder / name) == digest
    # int8 weights: the quantised file is markedly smaller than the fp32 one.
    assert (onnx_folder / INT8_FILE).stat().st_size < 0.7 * (onnx_folder / ONNX_FILE).stat().st_size


def test_fp32_vectors_match_sentence_transformers(onnx_fp32: OnnxEmbedder, torch_embedder) -> None:
    cosines = (onnx_fp32.embed_batch(TEXTS) * torch_embedder.embed_batch(TEXTS)).sum(axis=1)
    assert cosines.min() > FP32_MIN_COSINE, cosines


def test_int8_vectors_stay_close(onnx_int8: OnnxEmbedder, torch_embedder) -> None:
    cosines = (onnx_int8.embed_batch(TEXTS) * torch_embedder.embed_batch(TEXTS)).sum(axis=1)
    assert cosines.min() > INT8_MIN_COSINE, cosines
    assert cosines.mean() > INT8_MEAN_COSINE, cosines
    assert cosines.min() < 0.99999  # it really is the quantised model


@pytest.mark.parametrize("quantized", [False, True])
def test_contract(onnx_folder: Path, quantized: bool) -> None:
    onnx = OnnxEmbedder(onnx_folder, quantized=quantized)
    assert (onnx.name, onnx.dimension) == ("all-MiniLM-L6-v2", 384)
    assert onnx.backend == ("onnx-int8" if quantized else "onnx")
    vectors = onnx.embed_batch(TEXTS)
    assert vectors.dtype == np.float32 and vectors.shape == (len(TEXTS), 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    empty = onnx.embed_batch([])
    assert empty.dtype == np.float32 and empty.shape == (0, 384)


def test_length_batching_keeps_the_input_order(onnx_fp32: OnnxEmbedder) -> None:
    together = onnx_fp32.embed_batch(TEXTS)
    one_by_one = np.stack([onnx_fp32.embed_batch([t])[0] for t in TEXTS])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)
    small_batches = OnnxEmbedder(onnx_fp32.folder, batch_size=2).embed_batch(TEXTS[::-1])
    np.testing.assert_allclose(small_batches, together[::-1], atol=1e-5)


def test_threads_follow_the_machine_or_the_argument(onnx_folder: Path) -> None:
    assert OnnxEmbedder(onnx_folder).threads == machine_threads()
    single = OnnxEmbedder(onnx_folder, threads=1)
    assert single.session.get_session_options().intra_op_num_threads == 1


def run_alone(script: str) -> str:
    """What ``script`` prints, run by a Python process of its own on qabot's sources."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_threads_spin_inside_a_pass_and_stop_after_it(onnx_folder: Path) -> None:
    """Spinning threads make a short pass fast; stopped after it, they leave the core idle."""
    embedder = OnnxEmbedder(onnx_folder, threads=2)
    options = embedder.session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "1"
    assert options.get_session_config_entry("session.force_spinning_stop") == "1"
    # The idle CPU is read in a process of its own: no other test's threads are counted.
    script = (
        "import time\n"
        "from qabot.models.onnx_embedder import OnnxEmbedder\n"
        f"embedder = OnnxEmbedder({str(onnx_folder)!r}, threads=2)\n"
        f"texts = {TEXTS!r}\n"
        "embedder.embed_batch(texts)\n"
        "idle = 0.0\n"
        "for text in texts[:5]:  # a spinning pool burns tens of ms of CPU after each pass\n"
        "    embedder.embed_batch([text])\n"
        "    started = time.process_time()\n"
        "    time.sleep(0.1)\n"
        "    idle += time.process_time() - started\n"
        "print(idle)\n"
    )
    assert float(run_alone(script)) < 0.05


def test_no_torch_on_the_onnx_path(onnx_folder: Path) -> None:
    script = (
        "import sys\n"
        "from qabot.models.onnx_embedder import OnnxEmbedder\n"
        f"vectors = OnnxEmbedder({str(onnx_folder)!r}, quantized=True).embed_batch(['hi there'])\n"
        "assert vectors.shape == (1, 384), vectors.shape\n"
        "heavy = ('torch', 'transformers', 'sentence_transformers')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    assert run_alone(script).strip() == "[]"


def test_a_folder_without_an_export_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="qabot index"):
        OnnxEmbedder(tmp_path)


def test_layout_refuses_pooling_it_cannot_reproduce(tmp_path: Path) -> None:
    modules = [
        {"type": "sentence_transformers.models.Transformer", "path": ""},
        {"type": "sentence_transformers.models.Pooling", "path": "1_Pooling"},
    ]
    (tmp_path / "modules.json").write_text(json.dumps(modules))
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "1_Pooling").mkdir()
    pooling = {"word_embedding_dimension": 8, "pooling_mode_weightedmean_tokens": True}
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    with pytest.raises(ModelError, match="mean_tokens"):
        read_layout(tmp_path)


def test_pooling_ignores_padding() -> None:
    hidden = np.array([[[1.0, 0.0], [3.0, 2.0], [100.0, 100.0]]], dtype=np.float32)
    mask = np.array([[1, 1, 0]])
    np.testing.assert_allclose(pool(hidden, mask, "mean_tokens"), [[2.0, 1.0]])
    np.testing.assert_allclose(pool(hidden, mask, "max_tokens"), [[3.0, 2.0]])
    np.testing.assert_allclose(pool(hidden, mask, "cls_token"), [[1.0, 0.0]])
    np.testing.assert_allclose(normalise(np.array([[3.0, 4.0], [0.0, 0.0]])), [[0.6, 0.8], [0, 0]])


def test_prompts_are_applied_by_role_as_sentence_transformers_does(
    onnx_folder: Path, onnx_fp32: OnnxEmbedder, tmp_path: Path
) -> None:
    for path in onnx_folder.iterdir():
        if path.name != INT8_FILE:
            (tmp_path / path.name).symlink_to(path)
    config = json.loads((onnx_folder / "onnx.json").read_text(encoding="utf-8"))
    config["prompts"] = {"query": "query: ", "passage": "passage: "}
    (tmp_path / "onnx.json").unlink()
    (tmp_path / "onnx.json").write_text(json.dumps(config), encoding="utf-8")
    prompted = OnnxEmbedder(tmp_path)
    texts = TEXTS[:3]
    as_query = prompted.embed_batch(texts, role="query")
    as_document = prompted.embed_batch(texts, role="document")
    expected_query = onnx_fp32.embed_batch([f"query: {t}" for t in texts])
    np.testing.assert_allclose(as_query, expected_query, atol=1e-5)
    # "passage" stands in for a missing "document" prompt, as in encode_document.
    expected_document = onnx_fp32.embed_batch([f"passage: {t}" for t in texts])
    np.testing.assert_allclose(as_document, expected_document, atol=1e-5)
    assert (np.sum(as_query * as_document, axis=1) < 0.999).all()
    with pytest.raises(ValueError, match="'query' or 'document'"):
        prompted.embed_batch(texts, role="passage")
