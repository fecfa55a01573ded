"""The three dev corpora as grain rows, embedded once and cached under artifacts/quality-cache/.

Every passage owns rows tagged by grain (see `qabot.answering.evidence`): one WHOLE row (a body
passage's context + text; an FAQ entry's question + answer), one QUESTION row for FAQ entries,
and one SENTENCE row per sentence of the passage text or FAQ answer (a body passage of a single
sentence gets none: its sentence is its whole). Passages and tokens come from the product's own
modules (`load_corpus`, `chunk_documents`, `split_sentences`, `KeywordIndex`).

    PYTHONPATH=src .venv/bin/python bench/embed_cache.py            # embed what is not cached
    PYTHONPATH=src .venv/bin/python bench/embed_cache.py --only seed

Only dev questions are loaded: StackFAQ block 0, SciFact train qrels, the seed dev set.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qabot.documents.chunking import Passage, chunk_documents, split_sentences
from qabot.documents.corpus import load_corpus
from qabot.documents.grains import GRAIN_QUESTION, GRAIN_SENTENCE, GRAIN_WHOLE
from qabot.index.keyword import KeywordIndex, tokenize

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT.parent / "shared" / "benchmarks"
CACHE = ROOT / "artifacts" / "quality-cache"  # not in git (/artifacts/ is ignored)
DEVSET = ROOT / "eval" / "seed-dev.jsonl"
NAMES = ("stackfaq", "scifact", "seed")


@dataclass
class Question:
    """One dev question: its text, what counts as right, and its fold group."""

    text: str
    relevant: frozenset[str]  # thread ids, SciFact doc ids or passage ids; empty = unanswerable
    group: str
    category: str  # answerable | near-domain | out-of-scope


@dataclass
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
    faq_question_keyword: KeywordIndex | None
    vocabulary: frozenset[str]
    answer_key: list[str]  # what "right" is judged on: thread id, doc id or passage id


def grain_rows(passages: Sequence[Passage]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(row_passage, row_grain, row_text) for every grain row of every passage, in order."""
    owner, grain, text = [], [], []
    for number, passage in enumerate(passages):
        owner.append(number)
        grain.append(GRAIN_WHOLE)
        text.append(passage.embedding_texts()[-1])
        if passage.kind == "faq":
            owner.append(number)
            grain.append(GRAIN_QUESTION)
            text.append(passage.question or "")
        sentences = split_sentences(passage.text)
        if passage.kind == "faq" or len(sentences) > 1:
            owner += [number] * len(sentences)
            grain += [GRAIN_SENTENCE] * len(sentences)
            text += sentences
    return np.array(owner, dtype=np.int64), np.array(grain, dtype=np.int8), text


def embed_cached(texts: list[str], tag: str, embedder_factory) -> np.ndarray:
    """Vectors of ``texts``, read from the cache when the same texts were embedded before."""
    digest = hashlib.sha256("\x1f".join(texts).encode()).hexdigest()[:16]
    path = CACHE / f"{tag}-{digest}.npy"
    if path.is_file():
        return np.load(path)
    unique = list(dict.fromkeys(texts))
    started = time.perf_counter()
    vectors = embedder_factory().embed_batch(unique)
    print(f"{tag}: {len(unique)} texts in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    position = {t: i for i, t in enumerate(unique)}
    result = vectors[[position[t] for t in texts]]
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, result)
    return result


def _stackfaq() -> tuple[str, list[Question], dict[str, str]]:
    source = BENCHMARKS / "stackfaq"
    thread = {}
    for line in (source / "faq_pairs.jsonl").read_text().splitlines():
        row = json.loads(line)
        thread[row["id"]] = str(row["thread_id"])
    questions = []
    for line in (source / "queries.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row["block"] == 0:  # dev only; block 1 is the test block
            tid = str(row["thread_id"])
            questions.append(Question(row["text"], frozenset({tid}), f"t{tid}", "answerable"))
    return str(source / "faq_pairs.jsonl"), questions, thread


def _scifact() -> tuple[str, list[Question], dict[str, str]]:
    source = BENCHMARKS / "scifact"
    relevant: dict[str, set[str]] = {}
    for line in (source / "qrels" / "train.tsv").read_text().splitlines()[1:]:
        qid, doc, score = line.split("\t")
        if int(score) > 0:
            relevant.setdefault(qid, set()).add(doc)
    text = {}
    for line in (source / "queries.jsonl").read_text().splitlines():
        row = json.loads(line)
        text[row["_id"]] = row["text"]
    groups = _claim_groups(relevant)
    questions = [
        Question(text[q], frozenset(docs), groups[q], "answerable") for q, docs in relevant.items()
    ]
    return str(source / "corpus.jsonl.gz"), questions, {}


def _claim_groups(relevant: dict[str, set[str]]) -> dict[str, str]:
    """Claims citing a shared abstract form one group (connected components, union-find)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for q, docs in relevant.items():
        for d in docs:
            parent[find(f"q{q}")] = find(f"d{d}")
    # A group is named by its smallest member, not by its root: the root depends on the order
    # of the sets above, which changes from process to process (string hashing), and so would
    # the folds the names are hashed into.
    name: dict[str, str] = {}
    for member in sorted(parent):
        name.setdefault(find(member), member)
    return {q: name[find(f"q{q}")] for q in relevant}


def _seed() -> tuple[str, list[Question], dict[str, str]]:
    committed = _committed_devset()
    text = committed or (ROOT / "eval" / "seed-dev.jsonl").read_text()
    print(f"seed dev set: {'devset HEAD' if committed else 'eval/seed-dev.jsonl'}", file=sys.stderr)
    questions = []
    for line in text.splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        expected = frozenset(row.get("expected_ids") or ())
        category = row.get("category") or ("answerable" if expected else "out-of-scope")
        if category in ("single-fact", "faq"):
            category = "answerable"
        if not expected and category == "answerable":
            category = "out-of-scope"
        group = row.get("fact") or ("|".join(sorted(expected)) if expected else row["id"])
        questions.append(Question(row["question"], expected, f"seed:{group}", category))
    return str(ROOT / "corpus"), questions, {}


def _committed_devset() -> str | None:
    """The new seed dev set (rows tagged with a category) as committed in the devset worktree."""
    import subprocess

    shown = subprocess.run(
        ["git", "-C", str(DEVSET.parent), "show", "HEAD:eval/seed-dev.jsonl"],
        capture_output=True,
        text=True,
        check=False,
    )
    return shown.stdout if shown.returncode == 0 and '"category"' in shown.stdout else None


def load_bench(name: str, embedder_factory=None) -> Bench:
    """The named dev corpus with every vector it needs (embedded now if not cached)."""
    corpus_path, questions, thread = {"stackfaq": _stackfaq, "scifact": _scifact, "seed": _seed}[
        name
    ]()
    if embedder_factory is None:
        from qabot.models.embedding import SentenceTransformerEmbedder

        embedder_factory = SentenceTransformerEmbedder
    passages = chunk_documents(load_corpus(corpus_path).documents)
    row_passage, row_grain, row_text = grain_rows(passages)
    row_vectors = embed_cached(row_text, f"{name}-rows", embedder_factory)
    query_vectors = embed_cached([q.text for q in questions], f"{name}-queries", embedder_factory)
    keyword_texts = [p.keyword_text() for p in passages]
    keyword_index = KeywordIndex.build([p.passage_id for p in passages], keyword_texts)
    faq = [p for p in passages if p.kind == "faq"]
    faq_keyword_index = (
        KeywordIndex.build([p.passage_id for p in faq], [p.question or "" for p in faq])
        if faq
        else None
    )
    vocabulary = frozenset(t for tokens in tokenize(keyword_texts) for t in tokens)
    if name == "stackfaq":
        key = [thread[p.doc_id] for p in passages]
    elif name == "scifact":
        key = [p.doc_id for p in passages]
    else:
        key = [p.passage_id for p in passages]
    return Bench(
        name,
        passages,
        row_passage,
        row_grain,
        row_text,
        row_vectors,
        questions,
        query_vectors,
        keyword_index,
        faq_keyword_index,
        vocabulary,
        key,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=NAMES, action="append")
    args = parser.parse_args(argv)
    for name in args.only or NAMES:
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
