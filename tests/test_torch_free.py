"""An index that carries its ONNX model is served without torch: `ask` and `serve` never load it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT, SEED_CORPUS
from serving import free_port

HEAVY = ("torch", "transformers", "sentence_transformers")
# Runs `qabot ask`, then says which of the heavy packages the process imported.
ASK_AND_LIST = (
    "import json, sys\n"
    "from qabot.cli import main\n"
    "code = main(sys.argv[1:])\n"
    f"heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))\n"
    "print(json.dumps({'code': code, 'heavy': heavy}), file=sys.stderr)\n"
)


@pytest.fixture(scope="module")
def onnx_index(tmp_path_factory: pytest.TempPathFactory, onnx_folder: Path) -> Path:
    """The seed corpus indexed by `qabot index --backend onnx` (export from the session cache)."""
    from qabot.cli import main

    index_dir = tmp_path_factory.mktemp("onnx-index")
    assert (
        main(["index", str(SEED_CORPUS), "--index-dir", str(index_dir), "--backend", "onnx"]) == 0
    )
    return index_dir


@pytest.fixture(scope="module")
def torch_index(tmp_path_factory: pytest.TempPathFactory, torch_embedder) -> Path:
    """The seed corpus indexed on torch: the control."""
    from qabot.index.build import build_index

    index_dir = tmp_path_factory.mktemp("torch-index")
    build_index(SEED_CORPUS, index_dir, torch_embedder)
    return index_dir


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT / "src")}


def _ask(index_dir: Path) -> tuple[dict, subprocess.CompletedProcess]:
    """Run `qabot ask --json` in a fresh interpreter: its exit code and heavy imports, and it."""
    command = [sys.executable, "-c", ASK_AND_LIST, "ask", "What is NATO?", "--json"]
    result = subprocess.run(
        [*command, "--index-dir", str(index_dir)],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
        check=False,
    )
    return json.loads(result.stderr.strip().splitlines()[-1]), result


def test_ask_imports_no_torch(onnx_index: Path):
    report, result = _ask(onnx_index)
    assert report == {"code": 0, "heavy": []}, result.stderr
    answer = json.loads(result.stdout)
    assert answer["found"] and answer["faq_question"] == "What is NATO?"


def test_the_control_a_torch_index_does_import_torch(torch_index: Path):
    # The same check on an index built with torch: the probe really sees torch when it is there.
    report, result = _ask(torch_index)
    assert report["code"] == 0 and "torch" in report["heavy"], result.stderr


def test_serve_maps_no_libtorch(onnx_index: Path, tmp_path: Path):
    port = free_port()
    command = [sys.executable, "-m", "qabot", "serve", "--index-dir", str(onnx_index)]
    command += ["--port", str(port), "--feedback", str(tmp_path / "feedback.sqlite3")]
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=_env())
    try:
        answer = _ask_when_up(f"http://127.0.0.1:{port}", server, deadline=time.monotonic() + 240)
        assert answer["found"] and answer["faq_question"] == "What is NATO?"
        lines = Path(f"/proc/{server.pid}/maps").read_text().splitlines()
        mapped = {Path(line.split()[-1]) for line in lines if line.split()[-1].startswith("/")}
        # The probe sees the libraries it should: onnxruntime's is there.
        assert any(p.name.startswith("onnxruntime_pybind11") for p in mapped), sorted(mapped)
        torch_files = [p for p in mapped if p.name.startswith("libtorch") or "torch" in p.parts]
        assert torch_files == []
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()


def _ask_when_up(url: str, server: subprocess.Popen, deadline: float) -> dict:
    """Poll /api/ask until the server answers (or fail with its log)."""
    request = urllib.request.Request(
        f"{url}/api/ask",
        data=json.dumps({"question": "What is NATO?"}).encode(),
        headers={"content-type": "application/json"},
    )
    while time.monotonic() < deadline:
        assert server.poll() is None, "qabot serve exited"
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read())
        except OSError:
            time.sleep(0.5)
    raise AssertionError("qabot serve did not answer in time")
