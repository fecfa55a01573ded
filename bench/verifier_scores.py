"""The verifier as a confidence feature, on the dev data: its scores and its feature.

Each dev row's top hit is read by the shipped verifier; the scores are cached under
artifacts/verifier-scores/. ``bench/train_confidence.py --verifier`` fits the confidence with
the verifier's clipped logit as one more feature (`verifier_feature`): the measurement behind
qabot's choice not to let the verifier change the score (``bench/results/confidence-verified.md``).

The pair is the question with the whole text of its top hit (`qabot.answering.verification.verifier_text`
without a highlight; an FAQ entry with its question first). The cache is keyed by the
verifier's fingerprint and the pair, so a retrained verifier is read afresh.
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
from qabot.answering.verification import verifier_text
from qabot.documents.chunking import Passage
from qabot.models.verifier import Verifier

if TYPE_CHECKING:
    from bench.fusion_search import Arrays
    from bench.train_confidence import DevRows

CACHE = ARTIFACTS / "verifier-scores"
VERIFIER = "verifier"  # the feature's name: the verifier's clipped logit, evidence for


def verifier_feature(probability: float) -> float:
    """The verifier's P(the text answers) as a feature: its logit, clipped to [-10, 10]."""
    p = min(max(float(probability), 1e-12), 1 - 1e-12)
    return float(np.clip(np.log(p / (1 - p)), -10.0, 10.0))


def pair_key(question: str, text: str) -> str:
    return hashlib.sha256(f"{question}\x1f{text}".encode()).hexdigest()[:24]


def verifier_probabilities(
    verifier: Verifier, questions: Sequence[str], passages: Sequence[Passage]
) -> np.ndarray:
    """P(the passage answers the question) for each (question, passage), cached on disk."""
    path = CACHE / f"{verifier.fingerprint[:16]}.json"
    cache: dict[str, float] = json.loads(path.read_text()) if path.is_file() else {}
    pairs = [(q, verifier_text(p)[0]) for q, p in zip(questions, passages, strict=True)]
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


def with_verifier(rows: DevRows, arrays: dict[str, Arrays]) -> DevRows:
    """``rows`` with the verifier's feature of each row's top hit as one more column."""
    from qabot.models.verifier import OnnxVerifier

    verifier = OnnxVerifier()
    column = np.zeros(len(rows.y))
    for name in dict.fromkeys(rows.corpus):
        mine = np.flatnonzero(rows.corpus == name)
        bench = arrays[name].bench
        questions = [bench.questions[q].text for q in rows.question[mine]]
        passages = [bench.passages[t] for t in rows.top[mine]]
        probabilities = verifier_probabilities(verifier, questions, passages)
        column[mine] = [verifier_feature(p) for p in probabilities]
    return replace(rows, x=np.column_stack([rows.x, column]))
