"""Which runtime embeds: torch (sentence-transformers), or our own ONNX export, fp32 or int8.

``torch``      `SentenceTransformerEmbedder`: the model as published, on PyTorch.
``onnx``       `OnnxEmbedder` on the fp32 ONNX export: the same vectors, without torch.
``onnx-int8``  `OnnxEmbedder` on the int8 (dynamically quantised) export: faster, a little off.

A build with an ONNX backend stores the exported model and its tokenizer in the index's data
folder (``onnx/``), so that loading the index needs nothing else: no torch, no model package,
no cache (`qabot.index.embedder`). The export itself is made once per model and quantisation and
kept in a cache folder (`exported_folder`); only the first build pays for it. Index vectors
and question vectors must come from the same backend: `check_backend` refuses an embedder of
another backend than the one an index was built with (`qabot.index.embedder.check_backend`).

Nothing here imports torch, transformers or onnxruntime at module import.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from qabot.errors import ModelError
from qabot.models.embedding import Embedder
from qabot.models.onnx_export import CONFIG_FILE, DEFAULT_OPSET, INT8_FILE, ONNX_FILE, Quantisation

BACKENDS = ("torch", "onnx", "onnx-int8")
# The fastest backend that passes the quality gate (bench/results/onnx-gate.md): fp32 ONNX.
DEFAULT_BACKEND = "onnx"
MODEL_DIR = "onnx"  # inside an index's data folder
_EXPORT_FORMAT = 2  # bump when the export's output changes, so that caches are not reused


def check_backend_name(backend: str) -> str:
    """Return ``backend`` when it is one of `BACKENDS`.

    Raises:
        ModelError: an unknown backend name, with the known ones.
    """
    if backend not in BACKENDS:
        raise ModelError(f"Unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}.")
    return backend


def load_embedder(
    model: str,
    backend: str = DEFAULT_BACKEND,
    *,
    cache_dir: Path | str,
    threads: int | None = None,
    log: Callable[[str], None] = lambda message: None,
) -> Embedder:
    """The embedder for ``model`` on ``backend``.

    torch loads the model as published; the ONNX backends take its export from ``cache_dir``
    (made there first when missing: torch is needed then). ``threads`` is onnxruntime's
    intra-op threads (None: the machine's cores). An index that stores its own model loads it
    with `qabot.index.embedder.embedder_for_index` instead.

    Raises:
        ModelError: unknown backend, or a model that cannot be loaded or exported.
    """
    backend = check_backend_name(backend)
    if backend == "torch":
        from qabot.models.embedding import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(model)
    from qabot.models.onnx_embedder import OnnxEmbedder

    folder = exported_folder(model, cache_dir, log=log)
    return OnnxEmbedder(folder, quantized=backend == "onnx-int8", threads=threads, name=model)


def exported_folder(
    model: str,
    cache_dir: Path | str,
    *,
    quantisation: Quantisation | None = None,
    log: Callable[[str], None] = lambda message: None,
) -> Path:
    """The ONNX export of ``model`` in ``cache_dir/onnx/<key>``, exported there when missing.

    The key covers the model's weights, the opset and the quantisation, so a changed model is
    exported again. Processes exporting at once each write their own folder; the first rename
    wins. The one-off export time is logged.
    """
    from qabot.models.embedding import resolve_model
    from qabot.models.onnx_export import export_onnx, read_layout, weights_sha256

    quantisation = quantisation or Quantisation()
    source = Path(resolve_model(model))
    if not (source / "modules.json").is_file():
        raise ModelError(
            f"Could not load embedding model {model!r}: the ONNX backends export a local "
            "sentence-transformers folder, and this is not one. Pass a model folder with "
            "--model, or use --backend torch."
        )
    layout = read_layout(source)
    key = _export_key(weights_sha256(source / layout["transformer_path"]), layout, quantisation)
    target = Path(cache_dir) / "onnx" / f"{_slug(model)}-{key}"
    if (target / CONFIG_FILE).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    log(f"Exporting {model} to ONNX (once; cached in {target}) ...")
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        export_onnx(source, scratch, name=model, quantisation=quantisation)
        os.rename(scratch, target)
    except OSError:
        if not (target / CONFIG_FILE).is_file():
            raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # gone already when the rename won
    log(f"Exported {model} to ONNX in {time.perf_counter() - started:.1f} s (one-off).")
    return target


def save_model(embedder: Embedder | None, data_dir: Path) -> None:
    """Copy an ONNX embedder's model and tokenizer files into a staged data folder."""
    folder = embedder.folder if embedder is not None else None
    if folder is None:
        return
    unused = ONNX_FILE if embedder.backend == "onnx-int8" else INT8_FILE
    target = data_dir / MODEL_DIR
    target.mkdir()
    for path in Path(folder).iterdir():
        if path.is_file() and path.name != unused:
            shutil.copyfile(path, target / path.name)


def manifest_record(embedder: Embedder) -> dict:
    """What the manifest records of the backend: ``backend`` and, for ONNX, the export."""
    backend = embedder.backend
    folder = embedder.folder
    if folder is None:
        return {"backend": backend}
    config = json.loads((Path(folder) / CONFIG_FILE).read_text(encoding="utf-8"))
    export = config["export"]
    model_file = INT8_FILE if backend == "onnx-int8" else ONNX_FILE
    quantisation = export["quantisation"] if backend == "onnx-int8" else None
    return {
        "backend": backend,
        "onnx": {
            "exporter": export["exporter"],
            "opset": export["opset"],
            "onnxruntime": export["onnxruntime"],
            "quantisation": quantisation,
            "file": f"{MODEL_DIR}/{model_file}",
            "sha256": export["files"][model_file],
            "source_sha256": export["source_sha256"],
        },
    }


def _export_key(source_sha256: str, layout: dict, quantisation: Quantisation) -> str:
    settings = {
        "format": _EXPORT_FORMAT,
        "source": source_sha256,
        "layout": layout,  # pooling, lengths, prompts: what the weights alone do not say
        "opset": DEFAULT_OPSET,
        "quantisation": asdict(quantisation),
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def _slug(model: str) -> str:
    name = Path(model.rstrip("/")).name or "model"
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name)
