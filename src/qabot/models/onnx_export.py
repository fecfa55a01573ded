"""Export a sentence-transformers model folder to ONNX, plain and int8, for `OnnxEmbedder`.

Only the transformer goes into the ONNX graph (token ids in, token vectors out); pooling and
normalisation are a few lines of numpy in `qabot.models.onnx_embedder`, driven by the model's own
``1_Pooling/config.json``. The output folder holds everything a replica needs and nothing
else::

    model.onnx           fp32, exported with torch.onnx.export (TorchScript exporter)
    model-int8.onnx      the same, weights dynamically quantised to int8 by onnxruntime
    tokenizer.json       the model's fast tokenizer (plus its small companion files)
    onnx.json            pooling, max sequence length, dimension and the `OnnxExport` record

This runs where an index is built, so torch and transformers are imported inside the function,
never at module import: importing this module stays cheap.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import shutil
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from qabot.errors import ModelError

ONNX_FILE = "model.onnx"
INT8_FILE = "model-int8.onnx"
CONFIG_FILE = "onnx.json"
DEFAULT_OPSET = 17
# Tokenizer files copied when present; tokenizer.json is the one `tokenizers` reads.
_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_POOLING_MODES = ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens")


@dataclass(frozen=True)
class Quantisation:
    """How ``model-int8.onnx`` was made (`onnxruntime.quantization.quantize_dynamic`)."""

    method: str = "dynamic"
    weight_type: str = "QInt8"
    # Per-channel scales: per-tensor int8 costs ~0.04 cosine on MiniLM (bench/results/onnx.md).
    per_channel: bool = True
    reduce_range: bool = False
    op_types: tuple[str, ...] = ("MatMul", "Gemm")
    nodes_to_exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class OnnxExport:
    """How an ONNX folder was made; goes into the index manifest as plain JSON."""

    source_model: str
    source_sha256: str
    exporter: str
    opset: int
    onnxruntime: str
    quantisation: Quantisation
    pooling: str
    max_seq_length: int
    dimension: int
    files: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["quantisation"]["op_types"] = list(self.quantisation.op_types)
        data["quantisation"]["nodes_to_exclude"] = list(self.quantisation.nodes_to_exclude)
        return data


def export_onnx(
    model_dir: Path | str,
    out_dir: Path | str,
    *,
    name: str | None = None,
    opset: int = DEFAULT_OPSET,
    quantisation: Quantisation | None = None,
) -> OnnxExport:
    """Export the transformer of a sentence-transformers folder to ONNX, then quantise it.

    Args:
        model_dir: a local sentence-transformers model folder (``modules.json`` inside).
        out_dir: where to write; created, existing files of the same names are replaced.
        name: the model's name for the record (default: the folder path).
        opset: ONNX opset of the export.
        quantisation: int8 settings (default: dynamic, per channel, MatMul/Gemm weights).

    Returns:
        The record of the export, also written to ``out_dir/onnx.json``.

    Raises:
        ModelError: the folder is not a sentence-transformers model this exporter handles.
    """
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    quantisation = quantisation or Quantisation()
    layout = read_layout(model_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    transformer_dir = model_dir / layout["transformer_path"]
    exporter = _export_transformer(transformer_dir, out_dir / ONNX_FILE, opset)
    quantise(out_dir / ONNX_FILE, out_dir / INT8_FILE, quantisation)
    for file_name in _TOKENIZER_FILES:
        if (transformer_dir / file_name).is_file():
            shutil.copyfile(transformer_dir / file_name, out_dir / file_name)
    if not (out_dir / "tokenizer.json").is_file():
        raise ModelError(f"Model {str(model_dir)!r} has no tokenizer.json (a fast tokenizer).")
    import onnxruntime

    files = [ONNX_FILE, INT8_FILE, *(f for f in _TOKENIZER_FILES if (out_dir / f).is_file())]
    record = OnnxExport(
        source_model=name or str(model_dir),
        source_sha256=weights_sha256(transformer_dir),
        exporter=exporter,
        opset=opset,
        onnxruntime=onnxruntime.__version__,
        quantisation=quantisation,
        pooling=layout["pooling"],
        max_seq_length=layout["max_seq_length"],
        dimension=layout["dimension"],
        files={f: file_sha256(out_dir / f) for f in files},
    )
    config = {**layout, "export": record.to_dict()}
    (out_dir / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return record


def read_layout(model_dir: Path) -> dict:
    """What the ONNX side needs from a sentence-transformers folder: modules, pooling, lengths.

    Raises:
        ModelError: no ``modules.json``, no Transformer + Pooling modules, or an unknown pooling.
    """
    try:
        modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(
            f"{str(model_dir)!r} is not a sentence-transformers folder: {exc}"
        ) from exc
    paths = {m["type"].rsplit(".", 1)[-1]: m.get("path", "") for m in modules}
    if "Transformer" not in paths or "Pooling" not in paths:
        raise ModelError(
            f"Model {str(model_dir)!r} has modules {sorted(paths)}; the ONNX export handles "
            "Transformer + Pooling (+ Normalize) only."
        )
    pooling = json.loads((model_dir / paths["Pooling"] / "config.json").read_text("utf-8"))
    chosen = [mode for mode in _POOLING_MODES if pooling.get(f"pooling_mode_{mode}")]
    if len(chosen) != 1 or any(
        value
        for key, value in pooling.items()
        if key.startswith("pooling_mode_")
        and key.removeprefix("pooling_mode_") not in _POOLING_MODES
    ):
        raise ModelError(
            f"Model {str(model_dir)!r} pools with {pooling}; the ONNX runtime handles exactly "
            f"one of {list(_POOLING_MODES)}."
        )
    if pooling.get("include_prompt") is False:
        raise ModelError(
            f"Model {str(model_dir)!r} pools without its prompt tokens; the ONNX runtime "
            "pools over every token."
        )
    st_config = model_dir / "config_sentence_transformers.json"
    st_settings = json.loads(st_config.read_text("utf-8")) if st_config.is_file() else {}
    bert_config = model_dir / paths["Transformer"] / "sentence_bert_config.json"
    settings = json.loads(bert_config.read_text("utf-8")) if bert_config.is_file() else {}
    hf_config = json.loads((model_dir / paths["Transformer"] / "config.json").read_text("utf-8"))
    return {
        "transformer_path": paths["Transformer"],
        "pooling": chosen[0],
        "dimension": int(pooling["word_embedding_dimension"]),
        # sentence-transformers truncates at max_seq_length, not at the tokenizer's own limit.
        "max_seq_length": int(
            settings.get("max_seq_length") or hf_config.get("max_position_embeddings", 512)
        ),
        "do_lower_case": bool(settings.get("do_lower_case", False)),
        "normalize": "Normalize" in paths,
        # Query/document prompts (e5's "query: "), applied by `OnnxEmbedder` as encode_query
        # and encode_document apply them.
        "prompts": dict(st_settings.get("prompts") or {}),
        "default_prompt_name": st_settings.get("default_prompt_name"),
    }


def quantise(source: Path, target: Path, quantisation: Quantisation) -> None:
    """Dynamically quantise an fp32 ONNX file's weights to int8."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # onnxruntime advises shape pre-processing on the root logger; it is for static
    # quantisation, and a build's output should not carry it.
    hint = _DropMessage("pre-processing before quantization")
    logging.getLogger().addFilter(hint)
    try:
        quantize_dynamic(
            source,
            target,
            op_types_to_quantize=list(quantisation.op_types),
            per_channel=quantisation.per_channel,
            reduce_range=quantisation.reduce_range,
            weight_type=getattr(QuantType, quantisation.weight_type),
            nodes_to_exclude=list(quantisation.nodes_to_exclude),
        )
    finally:
        logging.getLogger().removeFilter(hint)


class _DropMessage(logging.Filter):
    """Drops log records whose message contains ``text``."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        return self.text not in record.getMessage()


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _export_transformer(transformer_dir: Path, target: Path, opset: int) -> str:
    """Trace the Hugging Face model to ONNX; returns the exporter's description."""
    import torch
    from transformers import AutoModel

    # Eager attention traces to plain ONNX ops; the SDPA path bakes in shape-specific masks.
    model = AutoModel.from_pretrained(
        str(transformer_dir), attn_implementation="eager", local_files_only=True
    )
    model.eval()
    # Some encoders (DistilBERT, MPNet) take no token_type_ids; the graph then has two inputs.
    inputs = [i for i in _INPUTS if i in inspect.signature(model.forward).parameters]
    wrapper = _last_hidden_state(model, inputs)
    sample = torch.ones((2, 8), dtype=torch.long)
    axes = {name: {0: "batch", 1: "sequence"} for name in (*inputs, "last_hidden_state")}
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript exporter warns about traced Python branches and its own deprecation;
        # the graph is checked against torch by the tests instead.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper,
            tuple(sample if i != "token_type_ids" else torch.zeros_like(sample) for i in inputs),
            str(target),
            dynamo=False,  # the dynamo exporter needs onnxscript, which we do not ship
            input_names=inputs,
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=opset,
        )
    return f"torch.onnx.export (TorchScript) torch {torch.__version__}"


def _last_hidden_state(model, inputs: list[str]):
    """Wrap a Hugging Face encoder: positional id tensors in, the token vectors out."""
    import torch

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors):
            return self.model(**dict(zip(inputs, tensors, strict=True))).last_hidden_state

    return LastHiddenState()


def weights_sha256(transformer_dir: Path) -> str:
    """One digest of a transformer folder's weight files (safetensors, else pytorch .bin)."""
    candidates: Sequence[Path] = sorted(transformer_dir.glob("*.safetensors")) or sorted(
        transformer_dir.glob("pytorch_model*.bin")
    )
    digest = hashlib.sha256()
    for path in candidates:
        digest.update(file_sha256(path).encode())
    return digest.hexdigest()
