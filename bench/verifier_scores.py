"""The verifier's part of the confidence fit: its dev scores, and the band it is read in.

Each dev row's top hit is read by the shipped verifier; the scores are cached under
artifacts/verifier-scores/. `choose_band` picks where the answerer reads the verifier at all
(`qabot.answering.verification.Verification.reads`).

The pair is the one the answerer verifies (`qabot.answering.verification.verifier_text`): the
question with its top hit's text (an FAQ entry with its question first). The cache is keyed by
the verifier's fingerprint and the pair, so a retrained verifier is read afresh.
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
from qabot.answering.features import verifier_feature
from qabot.answering.verification import verifier_text
from qabot.documents.chunking import Passage
from qabot.models.verifier import Verifier

if TYPE_CHECKING:
    from bench.fusion_search import Arrays
    from bench.train_confidence import DevRows

CACHE = ARTIFACTS / "verifier-scores"
AGREEMENT = 0.99  # the band keeps >= this share of each corpus's decisions as always verifying


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


def choose_band(
    unverified: np.ndarray,
    verified: np.ndarray,
    threshold: float,
    rows: DevRows,
    faq: np.ndarray,
) -> tuple[float, float]:
    """The narrowest band of unverified probability to verify FAQ answers in (a passage is
    always verified: its span is the point): outside it, the shipped model without the verifier
    decides as always verifying would, on >= `AGREEMENT` of each corpus's rows. Prints the
    candidates; the shares verified count passages as verified."""
    always = verified >= threshold
    candidates = []
    for low in (0.0, 0.005, 0.01, 0.02, 0.05, 0.1):
        for high in (0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 1.0):
            inside = ~faq | ((unverified >= low) & (unverified <= high))
            cascade = np.where(inside, always, unverified >= threshold)
            agree = min(
                float(np.mean(cascade[rows.corpus == c] == always[rows.corpus == c]))
                for c in dict.fromkeys(rows.corpus)
            )
            read = {c: float(inside[rows.corpus == c].mean()) for c in dict.fromkeys(rows.corpus)}
            candidates.append((low, high, agree, read))
    print("\nVerify FAQ answers only where the unverified probability is in [low, high] (passages")
    print("always): the worst corpus's agreement with always verifying, and the share of rows")
    print("verified per corpus.\n")
    names = list(dict.fromkeys(rows.corpus))
    print("| low | high | worst agreement | " + " | ".join(f"{n} verified" for n in names) + " |")
    print("|---|---|---|" + "---|" * len(names))
    for low, high, agree, read in candidates:
        cells = " | ".join(f"{read[n]:.2f}" for n in names)
        print(f"| {low:g} | {high:g} | {agree:.3f} | {cells} |")
    usable = [c for c in candidates if c[2] >= AGREEMENT]
    low, high, agree, _ = min(usable, key=lambda c: (np.mean(list(c[3].values())), -c[2]))
    print(f"\nChosen: [{low:g}, {high:g}] (worst agreement {agree:.3f}).")
    return low, high


def shipped_verifier_sha256() -> str:
    from qabot.models.verifier import CONFIG_FILE, bundled_verifier_path

    config = bundled_verifier_path() / CONFIG_FILE
    return str(json.loads(config.read_text(encoding="utf-8"))["sha256"])
