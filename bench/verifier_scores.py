"""The verifier as a confidence feature, on the dev data: its scores and its feature.

Each dev row's top hit is read by the shipped verifier as the product reads it: a passage
answer's highlighted sentence (`read_text`); FAQ answers are not read. The scores are cached
under artifacts/verifier-scores/, keyed by the verifier's fingerprint and the pair, so a
retrained verifier is read afresh. ``bench/train_confidence.py --verifier`` fits the verified
confidence (``qabot/data/confidence-verified.json``) on the rows it reads, with the verifier's
clipped logit as the last feature (`qabot.answering.features.VERIFIED_FEATURES`).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from bench.data import ARTIFACTS
from qabot.answering.features import verifier_columns
from qabot.answering.verification import reads, verifier_text
from qabot.documents.grains import GRAIN_SENTENCE
from qabot.models.verifier import Verifier

if TYPE_CHECKING:
    from bench.dev_corpora import Bench
    from bench.fusion_search import Arrays
    from bench.train_confidence import DevRows

CACHE = ARTIFACTS / "verifier-scores"


def pair_key(question: str, text: str) -> str:
    return hashlib.sha256(f"{question}\x1f{text}".encode()).hexdigest()[:24]


def verifier_probabilities(
    verifier: Verifier, questions: Sequence[str], texts: Sequence[str]
) -> np.ndarray:
    """P(the text answers the question) for each (question, text), cached on disk."""
    path = CACHE / f"{verifier.fingerprint[:16]}.json"
    cache: dict[str, float] = json.loads(path.read_text()) if path.is_file() else {}
    pairs = list(zip(questions, texts, strict=True))
    keys = [pair_key(q, t) for q, t in pairs]
    todo = list(dict.fromkeys(k for k in keys if k not in cache))
    if todo:
        started = time.perf_counter()
        where = {k: n for n, k in enumerate(keys)}
        verdicts = verifier.verify_batch([pairs[where[k]] for k in todo])
        cache.update({k: v.probability for k, v in zip(todo, verdicts, strict=True)})
        print(
            f"verifier: {len(todo)} pairs in {time.perf_counter() - started:.0f} s",
            file=sys.stderr,
        )
        CACHE.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(cache))
    return np.array([cache[k] for k in keys])


READS = ("sentence", "window", "passage")
"""What the verifier may read of a passage: the product's highlighted sentence, that sentence with
its neighbours, or the whole passage (the last two are dev trials, not the product)."""


def read_text(bench: Bench, question: int, top: int, reading: str = "sentence") -> str | None:
    """What the product's verifier reads of passage ``top`` for question number ``question``:
    the passage's sentence most similar to the question (its highlight), or the passage when
    it is one sentence; None for an FAQ entry, which the verifier does not read
    (`qabot.answering.verification.reads`). ``reading`` (`READS`) widens it for a dev trial."""
    passage = bench.passages[top]
    if not reads(passage, bench.questions[question].text):
        return None
    rows = np.flatnonzero((bench.row_passage == top) & (bench.row_grain == GRAIN_SENTENCE))
    if reading == "passage" or not len(rows):
        return verifier_text(passage, None)[0]
    best = int(np.argmax(bench.row_vectors[rows] @ bench.query_vectors[question]))
    if reading == "window":
        return " ".join(bench.row_text[r] for r in rows[max(0, best - 1) : best + 2])
    return verifier_text(passage, bench.row_text[rows[best]])[0]


def with_verifier(
    rows: DevRows, arrays: dict[str, Arrays], reading: str = "sentence"
) -> tuple[DevRows, np.ndarray]:
    """``rows`` with the verifier's feature of each row's top hit as one more column, and which
    rows the product's verifier reads (passage answers; 0 in the column for the others);
    ``reading``: what it reads of a passage (`read_text`)."""
    from qabot.models.verifier import OnnxVerifier

    verifier = OnnxVerifier()
    columns = np.zeros((len(rows.y), 2))
    read = np.zeros(len(rows.y), dtype=bool)
    for name in dict.fromkeys(rows.corpus):
        mine = np.flatnonzero(rows.corpus == name)
        bench = arrays[name].bench
        texts = [
            read_text(bench, q, t, reading)
            for q, t in zip(rows.question[mine], rows.top[mine], strict=True)
        ]
        todo = [n for n, text in enumerate(texts) if text is not None]
        questions = [bench.questions[rows.question[mine[n]]].text for n in todo]
        probabilities = verifier_probabilities(verifier, questions, [texts[n] for n in todo])
        columns[mine[todo]] = np.reshape([verifier_columns(p) for p in probabilities], (-1, 2))
        read[mine[todo]] = True
    return replace(rows, x=np.column_stack([rows.x, columns])), read
