"""The answerability verifier: does this text answer this question, and with which words?

A reader in the SQuAD 2.0 set-up (a MiniLM cross-encoder with a span head and an answerability
head), trained by ``training/train_verifier.py`` and shipped in the package
(``qabot/data/verifier/``, CC BY-SA 4.0 like the SQuAD data it learned from; see its
``MODEL_CARD.md``). It runs on onnxruntime: no torch. For each (question, text) pair it gives
P(the text answers the question) and the best answer span, as character offsets into the text.

Texts longer than the model's window are read in overlapping windows; a pair's probability is
the highest over its windows, and its span comes from that window.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from qabot.errors import ModelError
from qabot.models.onnx_embedder import machine_threads, pad_encodings, session_options

CONFIG_FILE = "verifier_config.json"
# One window per onnxruntime call: the int8 model quantises each call's activations with one
# scale, and a batch pads its windows to the longest, so a pair read beside others would score
# differently than alone (ask and eval must agree). The calls run side by side instead, one core
# each: on 2 cores that reads 2.1 ms a pair, as fast as batches of 16 (bench/results/verifier-calls.md).
DEFAULT_BATCH_SIZE = 1
# A question's word pieces read at most (SQuAD's max_query_length): a longer question would
# leave the text no room in the window, and the tokenizer refuses such a pair.
MAX_QUESTION_TOKENS = 64


@dataclass(frozen=True)
class Span:
    """An answer inside a text: ``text == passage[start:end]``; ``score`` is start + end logits."""

    text: str
    start: int
    end: int
    score: float


@dataclass(frozen=True)
class Verdict:
    """The verifier's reading of one (question, text) pair."""

    probability: float
    span: Span | None


@runtime_checkable
class Verifier(Protocol):
    """Anything that reads (question, text) pairs and says whether the text answers.

    ``name`` identifies the model; ``fingerprint`` names its weights (an index's manifest
    records it).
    """

    name: str
    fingerprint: str

    def verify_batch(self, pairs: Sequence[tuple[str, str]]) -> list[Verdict]:
        """One `Verdict` per pair, in order."""
        ...


def bundled_verifier_path() -> Path:
    """The folder of the verifier shipped in the package."""
    return Path(str(files("qabot") / "data" / "verifier"))


def verifier_identity(folder: Path | str | None = None) -> dict[str, str]:
    """``{"name", "sha256"}`` of the verifier in ``folder`` (default: the shipped one), read from
    its config alone: what an index's manifest records, without loading the model.

    Raises:
        ModelError: the folder has no readable config.
    """
    folder = Path(folder) if folder is not None else bundled_verifier_path()
    try:
        config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
        return {"name": str(config.get("name", folder.name)), "sha256": str(config["sha256"])}
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(
            f"Could not read the verifier's {CONFIG_FILE} in {str(folder)!r} ({exc}); reinstall "
            "qabot, or pass --no-verifier."
        ) from exc


class OnnxVerifier:
    """A `Verifier` on an exported ONNX reader, loaded once.

    Args:
        folder: holds ``verifier_config.json``, ``tokenizer.json`` and the ONNX file it names
            (default: the shipped verifier).
        threads: how many onnxruntime calls run side by side, each on one core (None: the
            machine's cores).
        batch_size: windows per onnxruntime call (default 1: a pair's reading then never
            depends on what else is read with it; see `DEFAULT_BATCH_SIZE`).
        model_file: an ONNX file to run instead of the folder's own (the training's fp32 export).

    Raises:
        ModelError: the folder is missing files or holds an unreadable model.
    """

    def __init__(
        self,
        folder: Path | str | None = None,
        *,
        threads: int | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        model_file: Path | str | None = None,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.folder = Path(folder) if folder is not None else bundled_verifier_path()
        try:
            self.config = json.loads((self.folder / CONFIG_FILE).read_text(encoding="utf-8"))
            model_path = Path(model_file or self.folder / self.config["model_file"])
            # The shipped folder's config names its model's sha256; another file is hashed.
            self.fingerprint = (
                hashlib.sha256(model_path.read_bytes()).hexdigest()
                if model_file
                else str(self.config["sha256"])
            )
            self.tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
            # One intra-op thread: small windows gain little from two, and `verify_batch`
            # runs `workers` calls side by side on the one (thread-safe) session instead.
            self.session = ort.InferenceSession(
                str(model_path), session_options(ort, 1), providers=["CPUExecutionProvider"]
            )
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise ModelError(
                f"Could not load the verifier in {str(self.folder)!r} ({exc}). It needs "
                f"{CONFIG_FILE}, tokenizer.json and its ONNX file; reinstall qabot, or pass "
                "--no-verifier."
            ) from exc
        self.name = verifier_identity(self.folder)["name"]
        self.max_length = int(self.config["max_length"])
        self.max_answer_tokens = int(self.config.get("max_answer_tokens", 30))
        self.batch_size = batch_size
        self.workers = threads or machine_threads()
        self.tokenizer.no_padding()
        self._question_tokenizer = Tokenizer.from_str(self.tokenizer.to_str())
        self._question_tokenizer.no_truncation()
        self.tokenizer.enable_truncation(
            max_length=self.max_length,
            stride=int(self.config.get("stride", 64)),
            strategy="only_second",
        )

    def _clip_question(self, question: str) -> str:
        """The question cut after its first `MAX_QUESTION_TOKENS` word pieces."""
        encoding = self._question_tokenizer.encode(question, add_special_tokens=False)
        if len(encoding.ids) <= MAX_QUESTION_TOKENS:
            return question
        return question[: encoding.offsets[MAX_QUESTION_TOKENS][0]]

    def verify(self, question: str, text: str) -> Verdict:
        """One pair: ``verify_batch([(question, text)])[0]``."""
        return self.verify_batch([(question, text)])[0]

    def verify_batch(self, pairs: Sequence[tuple[str, str]]) -> list[Verdict]:
        """P(answers) and the best span for each (question, text) pair, in order."""
        if not pairs:
            return []
        windows: list[tuple[int, Any]] = []
        clipped = [(self._clip_question(q), text) for q, text in pairs]
        for pair, encoding in enumerate(self.tokenizer.encode_batch(clipped)):
            windows.extend((pair, w) for w in [encoding, *encoding.overflowing])
        # Windows of like length share a batch, padded only to the longest of them.
        order = sorted(range(len(windows)), key=lambda j: len(windows[j][1].ids))
        chunks = [order[k : k + self.batch_size] for k in range(0, len(order), self.batch_size)]
        best: list[tuple[float, int, np.ndarray, np.ndarray] | None] = [None] * len(pairs)
        for chunk, (start, end, logit) in zip(chunks, self._run_all(windows, chunks), strict=True):
            encodings = [windows[j][1] for j in chunk]
            for row, j in enumerate(chunk):
                pair = windows[j][0]
                if best[pair] is None or logit[row] > best[pair][0]:  # type: ignore[index]
                    n = len(encodings[row].ids)
                    best[pair] = (float(logit[row]), j, start[row, :n], end[row, :n])
        verdicts = []
        for (_, text), found in zip(pairs, best, strict=True):
            logit, j, start, end = found  # type: ignore[misc]
            span = self._best_span(text, windows[j][1], start, end)
            verdicts.append(Verdict(float(1.0 / (1.0 + np.exp(-logit))), span))
        return verdicts

    def _run_all(
        self, windows: list[tuple[int, Any]], chunks: list[list[int]]
    ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """`_run` of each chunk of windows, up to `workers` calls side by side."""
        jobs = [[windows[j][1] for j in chunk] for chunk in chunks]
        if self.workers == 1 or len(jobs) == 1:
            return [self._run(job) for job in jobs]
        with ThreadPoolExecutor(min(self.workers, len(jobs))) as pool:
            return list(pool.map(self._run, jobs))

    def _run(self, encodings: list[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One onnxruntime call on dynamically padded windows."""
        start, end, logit = self.session.run(
            ["start_logits", "end_logits", "answerable_logit"], pad_encodings(encodings)
        )
        return start, end, np.asarray(logit).reshape(-1)

    def _best_span(
        self, text: str, encoding: Any, start: np.ndarray, end: np.ndarray
    ) -> Span | None:
        """The best start+end span of the text's tokens, at most `max_answer_tokens` long."""
        inside = np.array(
            [
                sequence == 1 and e > s
                for sequence, (s, e) in zip(encoding.sequence_ids, encoding.offsets, strict=True)
            ]
        )
        if not inside.any():
            return None
        grid = np.where(inside, start, -np.inf)[:, None] + np.where(inside, end, -np.inf)[None, :]
        i, j = np.indices(grid.shape)
        grid[(j < i) | (j - i >= self.max_answer_tokens)] = -np.inf
        a, b = np.unravel_index(int(np.argmax(grid)), grid.shape)
        char_start, char_end = encoding.offsets[a][0], encoding.offsets[b][1]
        return Span(text[char_start:char_end], char_start, char_end, float(grid[a, b]))
