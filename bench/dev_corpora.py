"""The three dev corpora as grain rows, embedded once and cached under artifacts/quality-cache/.

Every passage owns the rows the product's index embeds for it (`qabot.index.grains.grain_rows`:
one WHOLE row, a QUESTION row per phrasing of an FAQ entry, a SENTENCE row per sentence of a
passage that has more than one), and the keyword indexes the product builds. Passages, rows and
tokens all come from the product's own modules; the questions are the dev splits
(`bench.data.dev_set`). The scripts that choose the fusion and fit the confidence read these.

    .venv/bin/python -m bench.dev_corpora              # embed whatever is not cached yet
    .venv/bin/python -m bench.dev_corpora --only seed
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.data import ARTIFACTS, DEV_NAMES, Question, dev_set
from qabot.answering.adaptive import fusion_for
from qabot.answering.evidence import Fusion
from qabot.documents.chunking import Passage, chunk_documents
from qabot.documents.corpus import load_corpus
from qabot.documents.grains import GRAIN_QUESTION, GRAIN_SENTENCE, GRAIN_WHOLE
from qabot.index.grains import faq_question_index, grain_rows
from qabot.index.keyword import KeywordIndex
from qabot.index.profile import collection_profile

CACHE = ARTIFACTS / "quality-cache"

Embed = Callable[[list[str], str], np.ndarray]
"""Vectors of the texts for a role (``"query"`` or ``"document"``), as `Embedder.embed_batch`."""


@dataclass(frozen=True)
class Bench:
    """A corpus as rows, its keyword indexes, its dev questions and their vectors."""

    name: str
    passages: list[Passage]
    row_passage: np.ndarray
    row_grain: np.ndarray
    row_text: list[str]
    row_vectors: np.ndarray
    questions: list[Question]
    query_vectors: np.ndarray
    keyword_index: KeywordIndex
    faq_keyword_index: KeywordIndex | None  # FAQ phrasings only (ids repeat), as the index's
    gold_key: list[str]  # per passage, what "right" is judged on: thread, doc or passage id

    @property
    def vocabulary(self) -> frozenset[str]:
        """Every keyword token of the corpus."""
        return self.keyword_index.vocabulary

    def profile(self) -> dict:
        """The corpus's profile, as its index's build measures it (`qabot.index.profile`)."""
        return collection_profile(self.row_vectors, self.row_passage, self.row_grain)

    def fusion(self) -> Fusion:
        """The ranking weights the product would use for this corpus's index."""
        return fusion_for(self.profile())


def build_bench(
    name: str,
    corpus: Path,
    questions: Sequence[Question],
    gold_key: Callable[[Passage], str],
    embed: Embed,
) -> Bench:
    """A corpus read and chunked as the product does, its rows and ``questions`` embedded."""
    passages = chunk_documents(load_corpus(corpus).documents)
    row_passage, row_grain, row_text = grain_rows(passages)
    keyword_texts = [p.keyword_text() for p in passages]
    return Bench(
        name,
        passages,
        row_passage,
        row_grain,
        row_text,
        embed(row_text, "document"),
        list(questions),
        embed([q.text for q in questions], "query"),
        KeywordIndex.build([p.passage_id for p in passages], keyword_texts),
        faq_question_index(passages),
        [gold_key(p) for p in passages],
    )


def load_bench(name: str, embedder_factory: Callable | None = None) -> Bench:
    """The named dev corpus with every vector it needs (embedded now if not cached)."""
    if embedder_factory is None:
        from qabot.models.embedding import SentenceTransformerEmbedder

        embedder_factory = SentenceTransformerEmbedder
    dev = dev_set(name)

    def embed(texts: list[str], role: str) -> np.ndarray:
        tag = f"{name}-queries" if role == "query" else f"{name}-rows"
        return embed_cached(texts, tag, embedder_factory, role=role)

    return build_bench(name, dev.corpus, dev.questions, dev.gold_key, embed)


def embed_cached(
    texts: list[str], tag: str, embedder_factory: Callable, *, role: str = "document"
) -> np.ndarray:
    """Vectors of ``texts``, read from the cache when the same texts were embedded before.

    The cache is keyed by ``tag`` and the texts, not by the model: it holds the bundled
    model's vectors only.
    """
    digest = hashlib.sha256("\x1f".join(texts).encode()).hexdigest()[:16]
    path = CACHE / f"{tag}-{digest}.npy"
    if path.is_file():
        return np.load(path)
    unique = list(dict.fromkeys(texts))
    started = time.perf_counter()
    vectors = embedder_factory().embed_batch(unique, role=role)
    print(f"{tag}: {len(unique)} texts in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    position = {t: i for i, t in enumerate(unique)}
    result = vectors[[position[t] for t in texts]]
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, result)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=DEV_NAMES, action="append")
    args = parser.parse_args(argv)
    for name in args.only or DEV_NAMES:
        bench = load_bench(name)
        grains = np.bincount(bench.row_grain, minlength=3)
        print(
            f"{name}: {len(bench.passages)} passages, {len(bench.row_text)} rows "
            f"(whole {grains[GRAIN_WHOLE]}, question {grains[GRAIN_QUESTION]}, "
            f"sentence {grains[GRAIN_SENTENCE]}), {len(bench.questions)} dev questions"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
