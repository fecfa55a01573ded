"""Where the benchmark data live and how bench reads them: every path and reader, once.

The public benchmarks (StackFAQ, SciFact; their README says what each file holds) sit in
``../shared/benchmarks`` beside the checkout, or wherever ``$QABOT_BENCHMARKS`` points (a git
worktree, say). The seed corpus and its question sets are the repository's own (``corpus/``,
``eval/``).

Whatever chooses a setting reads the dev splits only (`dev_set`): StackFAQ block 0, SciFact
train, ``eval/seed-dev.jsonl``, DoQA block 0, OR-ShARC block 0. The test splits (StackFAQ
block 1, SciFact test, ``eval/seed-check.jsonl``, DoQA and OR-ShARC block 1) are for the
scripts that report figures.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from qabot.documents.chunking import Passage
from qabot.evaluation.questionsets import read_qrels

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"  # caches and work folders, not in git (/artifacts/ is ignored)
SEED_CORPUS = ROOT / "corpus"
SEED_DEV = ROOT / "eval" / "seed-dev.jsonl"
SEED_CHECK = ROOT / "eval" / "seed-check.jsonl"
DEV_NAMES = ("stackfaq", "scifact", "seed", "doqa", "orsharc")
SQUAD_CAL = "squad-cal"
"""The verifier's calibration SQuAD articles (never trained on) as a corpus with a quarter of
its paragraphs removed: the dev set the verified confidence learns near-domain and adversarial
questions from (`bench.squad_sets`)."""


def benchmarks() -> Path:
    """The benchmark data folder: ``$QABOT_BENCHMARKS``, else ``../shared/benchmarks``."""
    return Path(os.environ.get("QABOT_BENCHMARKS") or ROOT.parent / "shared" / "benchmarks")


def read_jsonl(path: Path) -> list[dict]:
    """Every row of a JSON Lines file, gzipped when its name ends in ``.gz``."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as rows:
        return [json.loads(line) for line in rows if line.strip()]


def stackfaq_queries() -> list[dict]:
    """StackFAQ's questions, ``{qid, thread_id, text, block}``: block 0 is dev, block 1 test."""
    return read_jsonl(benchmarks() / "stackfaq" / "queries.jsonl")


def scifact_abstracts(count: int) -> list[str]:
    """The first ``count`` SciFact abstracts as ``title text``."""
    with gzip.open(benchmarks() / "scifact" / "corpus.jsonl.gz", "rt", encoding="utf-8") as rows:
        documents = [json.loads(row) for _, row in zip(range(count), rows, strict=False)]
    return [f"{d['title']} {d['text']}" for d in documents]


def seed_questions(path: Path = SEED_DEV) -> list[str]:
    """The questions of a seed question set, in file order."""
    return [row["question"] for row in read_jsonl(path)]


@dataclass(frozen=True)
class Question:
    """One dev question: its text, what counts as right, and its fold group."""

    text: str
    relevant: frozenset[str]  # thread ids, SciFact doc ids or passage ids; empty = unanswerable
    group: str
    category: str  # answerable | near-domain | out-of-scope


@dataclass(frozen=True)
class DevSet:
    """A dev corpus, its dev questions, and what "right" is judged on for each passage."""

    corpus: Path
    questions: list[Question]
    gold_key: Callable[[Passage], str]  # thread id, SciFact doc id or passage id


def dev_set(name: str) -> DevSet:
    """The named dev set, one of `DEV_NAMES`."""
    readers = {
        "stackfaq": _stackfaq,
        "scifact": _scifact,
        "seed": _seed,
        "doqa": lambda: _blocked("doqa", benchmarks() / "doqa" / "faqs.jsonl"),
        "orsharc": lambda: _blocked("orsharc", benchmarks() / "orsharc" / "corpus"),
        SQUAD_CAL: _squad_calibration,
    }
    if name not in readers:
        raise ValueError(
            f"no dev set {name!r}; the dev sets are {', '.join((*DEV_NAMES, SQUAD_CAL))}"
        )
    return readers[name]()


def _stackfaq() -> DevSet:
    source = benchmarks() / "stackfaq"
    thread = {row["id"]: str(row["thread_id"]) for row in read_jsonl(source / "faq_pairs.jsonl")}
    questions = [
        Question(
            row["text"], frozenset({str(row["thread_id"])}), f"t{row['thread_id']}", "answerable"
        )
        for row in stackfaq_queries()
        if row["block"] == 0  # dev only; block 1 is the test block
    ]
    return DevSet(source / "faq_pairs.jsonl", questions, lambda p: thread[p.doc_id])


def _scifact() -> DevSet:
    source = benchmarks() / "scifact"
    qrels = read_qrels(source / "qrels" / "train.tsv")
    relevant = {q: set(docs) for q, docs in qrels.items() if docs}
    text = {row["_id"]: row["text"] for row in read_jsonl(source / "queries.jsonl")}
    groups = _claim_groups(relevant)
    questions = [
        Question(text[q], frozenset(docs), groups[q], "answerable") for q, docs in relevant.items()
    ]
    return DevSet(source / "corpus.jsonl.gz", questions, lambda p: p.doc_id)


def _blocked(name: str, corpus: Path) -> DevSet:
    """DoQA or OR-ShARC: block 0 of ``queries.jsonl``, gold from ``qrels.tsv`` (entry ids)."""
    source = benchmarks() / name
    qrels = read_qrels(source / "qrels.tsv")
    dev = {r["id"]: r["text"] for r in read_jsonl(source / "queries.jsonl") if r["block"] == 0}
    relevant = {q: set(docs) for q, docs in qrels.items() if q in dev and docs}
    groups = _claim_groups(relevant)  # the blocks are split by gold entry: so are the folds
    questions = [
        Question(dev[q], frozenset(docs), f"{name}:{groups[q]}", "answerable")
        for q, docs in relevant.items()
    ]
    return DevSet(corpus, questions, lambda p: p.doc_id)


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


def _seed() -> DevSet:
    questions = []
    for row in read_jsonl(SEED_DEV):
        expected = frozenset(row.get("expected_ids") or ())
        category = row.get("category") or ("answerable" if expected else "out-of-scope")
        if category in ("single-fact", "faq"):
            category = "answerable"
        if not expected and category == "answerable":
            category = "out-of-scope"
        group = row.get("fact") or ("|".join(sorted(expected)) if expected else row["id"])
        questions.append(Question(row["question"], expected, f"seed:{group}", category))
    return DevSet(SEED_CORPUS, questions, lambda p: p.passage_id)


def _squad_calibration() -> DevSet:
    from bench.squad_sets import REMOVED_SHARE, squad_corpus, write_corpus
    from training.squad_data import read_calibration

    corpus = squad_corpus(read_calibration(), removed=REMOVED_SHARE)
    folder = ARTIFACTS / SQUAD_CAL
    write_corpus(corpus, folder / "corpus", folder / "questions.jsonl")
    questions = [
        Question(
            row["question"],
            frozenset(row.get("expected_ids") or ()),
            f"{SQUAD_CAL}:{group}",
            row["category"],
        )
        for row, group in zip(corpus.questions, corpus.groups, strict=True)
    ]
    return DevSet(folder / "corpus", questions, lambda p: p.doc_id)
