"""`OnnxEmbedder`: the `Embedder` contract on onnxruntime + tokenizers, with no torch anywhere.

It reads a folder written by `qabot.models.onnx_export.export_onnx` and reproduces what
sentence-transformers does for the same model: strip each text, tokenize with the model's fast
tokenizer truncated at ``max_seq_length`` word pieces, run the transformer, pool the token
vectors as the model's pooling config says (mean over the attention mask for all-MiniLM-L6-v2)
and L2-normalise. Nothing on this module's import path loads torch, transformers or
sentence-transformers: that is what lets a server start in a fraction of the time.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qabot.errors import ModelError

DEFAULT_BATCH_SIZE = 32
_CONFIG_FILE = (
    "onnx.json"  # = qabot.models.onnx_export.CONFIG_FILE; not imported, to keep this lean
)
_MODEL_FILES = {False: "model.onnx", True: "model-int8.onnx"}
_SPAN_POOLING = ("mean_tokens", "mean_sqrt_len_tokens")


def machine_threads() -> int:
    """The cores this process may run on (its CPU affinity, which containers narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class OnnxEmbedder:
    """An `Embedder` backed by an exported ONNX model.

    Args:
        folder: a folder written by `qabot.models.onnx_export.export_onnx`.
        quantized: use ``model-int8.onnx`` rather than the fp32 ``model.onnx``.
        threads: onnxruntime intra-op threads; None follows the machine's cores.
        batch_size: texts per forward pass (texts are grouped by length first).
        name: the model name written to index manifests (default: the exported model's name).

    Raises:
        ModelError: the folder is missing files or holds an unreadable model.
    """

    def __init__(
        self,
        folder: Path | str,
        *,
        quantized: bool = False,
        threads: int | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        name: str | None = None,
    ) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        self.folder = Path(folder)
        self.quantized = quantized
        self.backend = "onnx-int8" if quantized else "onnx"
        self.batch_size = batch_size
        config = _read_config(self.folder)
        self.name = name or config["export"]["source_model"]
        self.dimension = int(config["dimension"])
        self.pooling = config["pooling"]
        self.max_seq_length = int(config["max_seq_length"])
        self.do_lower_case = bool(config.get("do_lower_case", False))
        self.prompts = {role: _prompt(config, role) for role in ("query", "document")}
        self.threads = threads or machine_threads()
        model_path = self.folder / _MODEL_FILES[quantized]
        try:
            self.tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
            self.session = onnxruntime.InferenceSession(
                str(model_path),
                session_options(onnxruntime, self.threads),
                ["CPUExecutionProvider"],
            )
        except Exception as exc:  # onnxruntime and tokenizers raise their own exception types
            raise ModelError(
                f"Could not load the ONNX model in {str(self.folder)!r} ({exc}). Rebuild the "
                "index (qabot index) to export it again."
            ) from exc
        # The tokenizer file may carry its own padding and truncation (128, fixed, for MiniLM);
        # sentence-transformers ignores them, and so do we: we pad per batch ourselves.
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=self.max_seq_length)
        self._inputs = [i.name for i in self.session.get_inputs()]

    def embed_batch(
        self, texts: Sequence[str], *, progress: bool = False, role: str = "document"
    ) -> np.ndarray:
        if role not in self.prompts:
            raise ValueError(f"role must be 'query' or 'document', not {role!r}.")
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # As sentence-transformers: the prompt is prepended, then the whole text stripped.
        prompt = self.prompts[role]
        prepared = [(prompt + str(t)).strip() for t in texts]
        if self.do_lower_case:
            prepared = [t.lower() for t in prepared]
        encodings = self.tokenizer.encode_batch(prepared)
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        # Grouping texts of similar length keeps padding, hence wasted work, small.
        order = np.argsort([len(e.ids) for e in encodings], kind="stable")
        bar = _progress_bar(len(texts)) if progress and len(texts) > self.batch_size else None
        for start in range(0, len(order), self.batch_size):
            chosen = order[start : start + self.batch_size]
            vectors[chosen] = self._forward([encodings[i] for i in chosen])
            if bar is not None:
                bar.update(len(chosen))
        if bar is not None:
            bar.close()
        return vectors

    def embed_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Document vectors of ``texts`` and, from the same pass, of character spans of each.

        "Late chunking": a span's vector pools the token vectors of its own word pieces, which
        the transformer computed in the context of the whole text, so a passage's sentences cost
        nothing beyond the passage's own pass. ``spans[i]`` are ``(start, end)`` offsets into
        ``texts[i]``. A span with no word piece inside the model's window (cut off by
        truncation, or empty) gets a row of NaN: the caller embeds it on its own.
        """
        if self.pooling not in _SPAN_POOLING:
            raise ModelError(f"Pooling {self.pooling!r} cannot pool spans; embed them as texts.")
        prompt = self.prompts["document"]
        prepared = [(prompt + str(t)).strip() for t in texts]
        if self.do_lower_case:
            prepared = [t.lower() for t in prepared]
        # Offsets in the prepared text: the prompt comes first, then leading blanks are stripped.
        shift = [len(prompt) - (len(prompt + t) - len((prompt + t).lstrip())) for t in texts]
        encodings = self.tokenizer.encode_batch(prepared)
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        pooled = [np.full((len(s), self.dimension), np.nan, dtype=np.float32) for s in spans]
        order = np.argsort([len(e.ids) for e in encodings], kind="stable")
        for start in range(0, len(order), self.batch_size):
            chosen = order[start : start + self.batch_size]
            feeds = pad_encodings([encodings[i] for i in chosen])
            (hidden,) = self.session.run(None, {name: feeds[name] for name in self._inputs})
            vectors[chosen] = normalise(pool(hidden, feeds["attention_mask"], self.pooling))
            summed = np.cumsum(hidden * feeds["attention_mask"][:, :, None], axis=1)
            summed = np.concatenate([np.zeros_like(summed[:, :1]), summed], axis=1)
            for row, i in enumerate(chosen):
                first, last = token_ranges(encodings[i], spans[i], shift[i])
                counts = (last - first).astype(np.float32)[:, None]
                sums = summed[row, last] - summed[row, first]
                scale = np.sqrt(counts) if self.pooling == "mean_sqrt_len_tokens" else counts
                good = counts[:, 0] > 0
                pooled[i][good] = normalise(sums[good] / scale[good])
        return vectors, pooled

    def _forward(self, encodings: list) -> np.ndarray:
        feeds = pad_encodings(encodings)
        (hidden,) = self.session.run(None, {name: feeds[name] for name in self._inputs})
        return normalise(pool(hidden, feeds["attention_mask"], self.pooling))

    def __repr__(self) -> str:
        return (
            f"OnnxEmbedder({self.name!r}, backend={self.backend!r}, dimension={self.dimension}, "
            f"threads={self.threads})"
        )


def pad_encodings(encodings: Sequence) -> dict[str, np.ndarray]:
    """A BERT model's inputs for a batch of `tokenizers` encodings, padded to the longest."""
    width = max(len(e.ids) for e in encodings)
    feeds = {
        name: np.zeros((len(encodings), width), dtype=np.int64)
        for name in ("input_ids", "attention_mask", "token_type_ids")
    }
    for row, encoding in enumerate(encodings):
        length = len(encoding.ids)
        feeds["input_ids"][row, :length] = encoding.ids
        feeds["attention_mask"][row, :length] = 1
        feeds["token_type_ids"][row, :length] = encoding.type_ids
    return feeds


def token_ranges(
    encoding, spans: Sequence[tuple[int, int]], shift: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Per character span, the ``[first, last)`` word pieces of ``encoding`` lying inside it.

    Special tokens ([CLS], [SEP]) belong to no span; ``shift`` is added to the spans' offsets.
    """
    special = np.asarray(encoding.special_tokens_mask, dtype=bool)
    offsets = np.asarray(encoding.offsets, dtype=np.int64).reshape(-1, 2)
    # Word pieces in text order; special ones sit at the ends and are pushed out of every span.
    starts = np.where(special, np.iinfo(np.int64).max, offsets[:, 0])
    starts[: int(np.argmin(special))] = -1  # leading specials: before any span
    ends = np.where(special, np.iinfo(np.int64).max, offsets[:, 1])
    ends[: int(np.argmin(special))] = -1
    bounds = np.asarray(spans, dtype=np.int64).reshape(-1, 2) + shift
    first = np.searchsorted(starts, bounds[:, 0], side="left")
    last = np.searchsorted(ends, bounds[:, 1], side="right")
    # A span running past the last word piece kept (truncation) is not pooled from a part.
    kept = offsets[~special, 1].max() if (~special).any() else -1
    last = np.where(bounds[:, 1] > kept, first, np.maximum(last, first))
    return first, last


def pool(hidden: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    """Token vectors ``(n, t, d)`` to one vector per text, as sentence-transformers' Pooling."""
    if mode == "cls_token":
        return hidden[:, 0].astype(np.float32)
    weights = mask[:, :, None].astype(np.float32)
    if mode == "max_tokens":
        return np.where(weights > 0, hidden, -1e9).max(axis=1).astype(np.float32)
    summed = (hidden * weights).sum(axis=1)
    counts = np.clip(weights.sum(axis=1), 1e-9, None)
    if mode == "mean_tokens":
        return (summed / counts).astype(np.float32)
    if mode == "mean_sqrt_len_tokens":
        return (summed / np.sqrt(counts)).astype(np.float32)
    raise ModelError(
        f"Unknown pooling {mode!r}; known: cls_token, max_tokens, mean_tokens, mean_sqrt_len_tokens."
    )


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as torch's F.normalize."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def _prompt(config: dict, role: str) -> str:
    """The prompt sentence-transformers' encode_query / encode_document would apply."""
    prompts = config.get("prompts") or {}
    names = ("query",) if role == "query" else ("document", "passage", "corpus")
    for name in (*names, config.get("default_prompt_name")):
        if name in prompts:
            return str(prompts[name])
    return ""


def _progress_bar(total: int):
    """A tqdm bar on stderr, counting texts (as sentence-transformers shows for a build)."""
    from tqdm import tqdm

    return tqdm(total=total, desc="Embedding", unit="text")


def _read_config(folder: Path) -> dict:
    try:
        return json.loads((folder / _CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(
            f"{str(folder)!r} holds no exported ONNX model ({exc}). Rebuild the index "
            "(qabot index) to export it."
        ) from exc


def session_options(onnxruntime, threads: int):
    """qabot's onnxruntime settings: ``threads`` intra-op threads that wait busily inside a
    forward pass and yield the core at its end."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Inside a pass, a thread that sleeps between operators costs more to wake than a short
    # question's operator takes: it spins (one question's encode + search 4.8 -> 3.5 ms p50, a
    # batch's encode 7 % faster: bench/results/answer-profile.md). At the end of a pass it
    # stops, so faiss, the verifier and other requests on the same cores are not starved.
    options.add_session_config_entry("session.intra_op.allow_spinning", "1")
    options.add_session_config_entry("session.force_spinning_stop", "1")
    return options
