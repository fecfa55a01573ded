"""Late chunking: a passage's sentence rows pooled out of the passage's own transformer pass.

An index stores a row per sentence of a passage (`qabot.index.grains`); embedded as texts of
their own, the sentences cost a transformer pass each (SciFact: 53,924 texts for 5,183
abstracts). Late chunking runs the model once over the passage's whole row and pools each
sentence's vector out of the token vectors of its own word pieces, so the sentences cost
almost nothing beyond the passage (an embedder with ``embed_spans``: `SpanEmbedder`).

A sentence vector pooled this way has seen its passage: it is not the vector of the sentence
embedded alone, so it is an option of the build (``sentence_vectors="late"``), recorded in the
manifest; ``"rows"`` (each sentence its own pass) stays the default until the dev figures say
otherwise (bench/results/late-chunking.md).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from qabot.documents.grains import GRAIN_SENTENCE, GRAIN_WHOLE
from qabot.errors import ModelError
from qabot.index.embed_cache import EmbeddingCache

SENTENCE_VECTORS = ("rows", "late")
"""How sentence rows are embedded: each as its own text, or pooled from its passage's pass."""
_LATE_SUFFIX = "+late"  # the cache key of pooled sentence vectors: another backend's vectors


@runtime_checkable
class SpanEmbedder(Protocol):
    """An embedder that also pools character spans of each text from the same pass."""

    def embed_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Vectors of ``texts`` and per text ``(len(spans[i]), dimension)`` span vectors
        (rows of NaN for spans it could not pool)."""
        ...


@dataclass(frozen=True)
class LateGroup:
    """One passage's whole row and the sentence rows pooled out of its pass."""

    whole_row: int
    sentence_rows: tuple[int, ...]
    spans: tuple[tuple[int, int], ...]


def sentence_spans(whole: str, sentences: Sequence[str]) -> list[tuple[int, int]] | None:
    """Where each sentence lies in ``whole``, in order; None when one is not found there."""
    spans, cursor = [], 0
    for sentence in sentences:
        at = whole.find(sentence, cursor)
        if at < 0:
            return None
        spans.append((at, at + len(sentence)))
        cursor = at + len(sentence)
    return spans


def late_groups(
    texts: Sequence[str], row_passage: np.ndarray, row_grain: np.ndarray
) -> list[LateGroup]:
    """The passages whose sentence rows can be pooled from their whole row (rows in grain order)."""
    groups = []
    bounds = np.flatnonzero(np.r_[True, row_passage[1:] != row_passage[:-1], True])
    for start, end in itertools.pairwise(bounds):
        rows = range(int(start), int(end))
        whole = [r for r in rows if row_grain[r] == GRAIN_WHOLE]
        sentences = tuple(r for r in rows if row_grain[r] == GRAIN_SENTENCE)
        if len(whole) != 1 or not sentences:
            continue
        spans = sentence_spans(texts[whole[0]], [texts[r] for r in sentences])
        if spans is not None:
            groups.append(LateGroup(whole[0], sentences, tuple(spans)))
    return groups


def pooled_vectors(
    texts: Sequence[str], groups: Sequence[LateGroup], embedder: SpanEmbedder
) -> tuple[np.ndarray, np.ndarray]:
    """(whole vectors per group, sentence vectors per sentence row of the groups, in order).

    A sentence the model could not pool (cut off by truncation) is a row of NaN.
    """
    wholes, pooled = embedder.embed_spans(
        [texts[g.whole_row] for g in groups], [g.spans for g in groups]
    )
    dimension = wholes.shape[1] if wholes.ndim == 2 else 0
    sentences = np.concatenate(pooled) if pooled else np.zeros((0, dimension), np.float32)
    return wholes, sentences


def late_vectors(
    texts: Sequence[str],
    row_passage: np.ndarray,
    row_grain: np.ndarray,
    embedder,
    cache: EmbeddingCache | None,
    *,
    progress: bool = False,
) -> np.ndarray:
    """Vectors of every grain row, each passage's sentences pooled from its whole row's pass.

    Rows that cannot be pooled (question rows, whole rows without sentences, sentences cut off
    by truncation or not found in their whole row) are embedded as texts, through ``cache``.
    Pooled sentence vectors are cached under a key of their own, by whole row and sentence.
    """
    if not isinstance(embedder, SpanEmbedder):
        raise ModelError(
            f"{embedder!r} cannot pool sentences out of a passage's pass; build with "
            "sentence vectors 'rows' (--sentence-vectors rows) or an ONNX backend."
        )
    groups = late_groups(texts, row_passage, row_grain)
    pooled = [(g, r) for g in groups for r in g.sentence_rows]
    fresh: dict[str, np.ndarray] = {}  # whole rows' vectors from the pooling passes
    vectors = np.zeros((len(texts), int(embedder.dimension)), dtype=np.float32)
    if pooled:
        keys = [_key(texts, g, r) for g, r in pooled]
        pool = _pooler(texts, groups, embedder, fresh, progress)
        vectors[[r for _, r in pooled]] = _through(_late_cache(cache), keys, pool, vectors.shape[1])
    done = {r for _, r in pooled}
    rest = [r for r in range(len(texts)) if r not in done]

    def embed_rest(batch: list[str]) -> np.ndarray:
        out = np.zeros((len(batch), vectors.shape[1]), dtype=np.float32)
        todo = [i for i, t in enumerate(batch) if t not in fresh]
        for i in set(range(len(batch))) - set(todo):
            out[i] = fresh[batch[i]]
        if todo:
            out[todo] = embedder.embed_batch([batch[i] for i in todo], progress=progress)
        return out

    if rest:
        vectors[rest] = _through(cache, [texts[r] for r in rest], embed_rest, vectors.shape[1])
    return vectors


def _pooler(texts, groups, embedder, fresh: dict, progress: bool):
    """``pool(keys)``: the pooled sentence vectors of these keys, their passages' whole
    vectors kept in ``fresh``; sentences cut off by truncation embedded on their own."""

    def pool(keys: list[str]) -> np.ndarray:
        wanted = set(keys)
        chosen = [g for g in groups if any(_key(texts, g, r) in wanted for r in g.sentence_rows)]
        wholes, sentences = pooled_vectors(texts, chosen, embedder)
        fresh.update({texts[g.whole_row]: v for g, v in zip(chosen, wholes, strict=True)})
        rows = [_key(texts, g, r) for g in chosen for r in g.sentence_rows]
        found = {key: i for i, key in enumerate(rows)}
        out = sentences[[found[k] for k in keys]]
        cut = np.flatnonzero(np.isnan(out).any(axis=1))
        if len(cut):
            alone = [keys[i].split("\x1f", 1)[1] for i in cut]
            out[cut] = embedder.embed_batch(alone, progress=progress)
        return out

    return pool


def _through(cache: EmbeddingCache | None, texts: list[str], compute, dimension: int):
    """Vectors of ``texts`` through ``cache`` (None: computed), each distinct text once."""
    if cache is not None:
        return cache.embed(texts, compute, dimension)
    unique = list(dict.fromkeys(texts))
    position = {t: i for i, t in enumerate(unique)}
    return np.asarray(compute(unique), dtype=np.float32)[[position[t] for t in texts]]


def _key(texts: Sequence[str], group: LateGroup, row: int) -> str:
    return f"{texts[group.whole_row]}\x1f{texts[row]}"


def _late_cache(cache: EmbeddingCache | None) -> EmbeddingCache | None:
    if cache is None:
        return None
    return EmbeddingCache(cache.directory, cache.model, backend=cache.backend + _LATE_SUFFIX)
