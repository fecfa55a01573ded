"""SQuAD records, the fixed held-out split, and the (question, text) pairs a verifier learns from.

Torch-free on purpose: `evaluate_verifier.py` uses it next to onnxruntime only.

The two vendored files overlap (SQuAD 2.0 dev holds the answerable questions of SQuAD 1.1 dev for
its 30 articles), so they are merged by question id: 2.0 first, then the 1.1 questions it lacks.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
SQUAD2_FILE = "squad2-dev-train.json.gz"
SQUAD11_FILE = "squad1.1-dev-train.jsonl.gz"
HELDOUT_FILE = "heldout_articles.txt"
CALIBRATION_FILE = "calibration_articles.txt"


@dataclass(frozen=True)
class Question:
    """One SQuAD question on one paragraph; `answers` holds (text, char start) pairs."""

    qid: str
    article: str
    paragraph_index: int
    text: str
    answers: tuple[tuple[str, int], ...]
    impossible: bool


@dataclass(frozen=True)
class Pair:
    """A (question, text) example: `label` 1 if the text answers it; span as char offsets in text."""

    question: str
    text: str
    label: int
    kind: str
    span_start: int = -1
    span_end: int = -1


@dataclass(frozen=True)
class Squad:
    """Merged SQuAD: paragraphs by article title, and all questions."""

    paragraphs: dict[str, list[str]]
    questions: list[Question]

    def restrict(self, articles: Iterable[str]) -> Squad:
        """Keep only the given articles."""
        keep = set(articles)
        return Squad(
            {t: p for t, p in self.paragraphs.items() if t in keep},
            [q for q in self.questions if q.article in keep],
        )


def load_squad(data_dir: Path = DATA_DIR) -> Squad:
    """Load and merge the vendored SQuAD 2.0 dev and SQuAD 1.1 dev files."""
    paragraphs: dict[str, list[str]] = {}
    questions: list[Question] = []
    seen: set[str] = set()
    with gzip.open(data_dir / SQUAD2_FILE, "rt", encoding="utf-8") as f:
        squad2 = json.load(f)
    for article in squad2["data"]:
        title = article["title"]
        paragraphs[title] = [p["context"] for p in article["paragraphs"]]
        for index, para in enumerate(article["paragraphs"]):
            for qa in para["qas"]:
                impossible = bool(qa.get("is_impossible"))
                answers = () if impossible else _located(qa["answers"], para["context"])
                questions.append(
                    Question(qa["id"], title, index, qa["question"], answers, impossible)
                )
                seen.add(qa["id"])
    where: dict[tuple[str, str], int] = {
        (t, c): i for t, paras in paragraphs.items() for i, c in enumerate(paras)
    }
    only11: dict[str, dict[int, str]] = {}
    rows = []
    with gzip.open(data_dir / SQUAD11_FILE, "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if row["id"] in seen:
                continue
            rows.append(row)
            if row["title"] not in paragraphs:
                only11.setdefault(row["title"], {})[row["paragraph_index"]] = row["context"]
    for title, by_index in only11.items():
        paragraphs[title] = [by_index[i] for i in sorted(by_index)]
        where.update({(title, c): i for i, c in enumerate(paragraphs[title])})
    for row in rows:
        index = where.get((row["title"], row["context"]))
        if index is None:  # a 1.1 paragraph absent from 2.0's copy of the article
            paragraphs[row["title"]].append(row["context"])
            index = len(paragraphs[row["title"]]) - 1
            where[(row["title"], row["context"])] = index
        answers = _located(row["answers"], row["context"])
        questions.append(Question(row["id"], row["title"], index, row["question"], answers, False))
    return Squad(paragraphs, questions)


def _located(answers: Sequence[dict], context: str) -> tuple[tuple[str, int], ...]:
    """(text, start) for each answer; a missing start is the text's first occurrence."""
    located = []
    for a in answers:
        start = a.get("answer_start")
        if start is None or context[start : start + len(a["text"])] != a["text"]:
            start = context.find(a["text"])
        if start >= 0:
            located.append((a["text"], int(start)))
    return tuple(located)


def read_pairs(path: Path) -> list[Pair]:
    """Pairs from a JSONL(.gz) file of ``{"question", "text", "label", "kind"}`` rows (no span)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as rows:
        rows_ = [json.loads(line) for line in rows if line.strip()]
    return [
        Pair(r["question"], r["text"], int(r["label"]), str(r.get("kind", "extra"))) for r in rows_
    ]


def read_heldout(path: Path = DATA_DIR / HELDOUT_FILE) -> list[str]:
    """The fixed held-out article titles (one a line; '#' starts a comment)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [s for line in lines if (s := line.split("#", 1)[0].strip())]


def read_calibration(path: Path = DATA_DIR / CALIBRATION_FILE) -> list[str]:
    """The fixed calibration article titles: not trained on, for fitting the confidence."""
    return read_heldout(path)


def split_articles(squad: Squad, heldout: Sequence[str]) -> tuple[Squad, Squad]:
    """(train, held-out), by article title; never by question."""
    missing = set(heldout) - set(squad.paragraphs)
    if missing:
        raise ValueError(f"held-out titles not in the data: {sorted(missing)}")
    train = [t for t in squad.paragraphs if t not in set(heldout)]
    return squad.restrict(train), squad.restrict(heldout)


_SENTENCE_END = re.compile(r"(?<=[.!?])([\"')\]]*)\s+(?=[\"'(\[]?[A-Z0-9])")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of `text` (a plain punctuation rule, good enough here)."""
    spans, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        if m.end(1) - start > 1:
            spans.append((start, m.end(1)))
            start = m.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def main_answer(q: Question) -> tuple[str, int] | None:
    """The answer most annotators gave (ties: the first), as (text, char start)."""
    if not q.answers:
        return None
    counts = Counter(a[0] for a in q.answers)
    best = max(counts.values())
    return next(a for a in q.answers if counts[a[0]] == best)


def own_pair(q: Question, paras: Sequence[str]) -> Pair | None:
    """A question against its own paragraph: ``unans`` for an unanswerable one, ``pos`` with its
    main answer's span for an answerable one; None when no answer can be located."""
    own = paras[q.paragraph_index]
    if q.impossible:
        return Pair(q.text, own, 0, "unans")
    answer = main_answer(q)
    if answer is None:
        return None
    text, start = answer
    return Pair(q.text, own, 1, "pos", start, start + len(text))


def build_pairs(
    squad: Squad,
    rng: random.Random,
    *,
    hard_per_question: float = 0.5,
    easy_per_question: float = 0.1,
    windows_per_question: float = 0.5,
    max_window_sentences: int = 3,
) -> list[Pair]:
    """One epoch of training pairs, drawn with `rng` (fresh negatives each epoch).

    Kinds: ``pos`` (answerable question, own paragraph, with span), ``unans`` (unanswerable
    question, own paragraph: the adversarial case), ``hard`` (answerable question, another paragraph
    of its article), ``easy`` (a paragraph of another article), ``win_pos`` / ``win_neg`` (a 1-3
    sentence window of the own paragraph with / without the answer).
    """
    titles = sorted(squad.paragraphs)
    pairs: list[Pair] = []
    for q in squad.questions:
        paras = squad.paragraphs[q.article]
        own = own_pair(q, paras)
        if own is None:
            continue
        pairs.append(own)
        if own.kind == "unans":
            continue
        a_start, a_end = own.span_start, own.span_end
        others = [i for i in range(len(paras)) if i != q.paragraph_index]
        for _ in range(_count(rng, hard_per_question)):
            if others:
                pairs.append(Pair(q.text, paras[rng.choice(others)], 0, "hard"))
        for _ in range(_count(rng, easy_per_question)):
            title = rng.choice(titles)
            if title != q.article:
                pairs.append(Pair(q.text, rng.choice(squad.paragraphs[title]), 0, "easy"))
        if rng.random() < windows_per_question:
            pairs.extend(_windows(q.text, own.text, a_start, a_end, rng, max_window_sentences))
    return pairs


def _count(rng: random.Random, rate: float) -> int:
    """An integer with mean `rate`."""
    whole = int(rate)
    return whole + (1 if rng.random() < rate - whole else 0)


def _windows(
    question: str, text: str, a_start: int, a_end: int, rng: random.Random, most: int
) -> list[Pair]:
    """A window holding the answer (positive) and, if there is room, one without it (negative)."""
    sents = sentence_spans(text)
    holding = [i for i, (s, e) in enumerate(sents) if s <= a_start < e]
    if not holding:
        return []
    first = holding[0]
    last = next((i for i, (s, e) in enumerate(sents) if s < a_end <= e), first)
    if last - first + 1 > most:
        return []
    size = rng.randint(last - first + 1, most)
    size = min(size, len(sents))
    lo = rng.randint(max(0, last - size + 1), max(0, min(first, len(sents) - size)))
    hi = min(lo + size, len(sents))
    base = sents[lo][0]
    window = text[base : sents[hi - 1][1]]
    out = [Pair(question, window, 1, "win_pos", a_start - base, a_end - base)]
    outside = [i for i in range(len(sents)) if i < first or i > last]
    starts = [
        i
        for i in outside
        if all(j in outside for j in range(i, i + size)) and i + size <= len(sents)
    ]
    if not starts:  # no room for a window that long: one sentence without the answer
        starts, size = outside, 1
    if starts:
        i = rng.choice(starts)
        out.append(Pair(question, text[sents[i][0] : sents[i + size - 1][1]], 0, "win_neg"))
    return out


def eval_pairs(squad: Squad, *, negatives_per_question: int = 3, seed: int = 18) -> list[Pair]:
    """Held-out pairs, fixed by `seed`: ``pos``, ``unans`` and ``hard`` kinds as in `build_pairs`.

    Every answerable question against its own paragraph and `negatives_per_question` other
    paragraphs of its article (sampled, so evaluation stays minutes on a CPU); every unanswerable
    question against its own paragraph. ``pos`` pairs carry all gold answers in `gold_answers`.
    """
    rng = random.Random(seed)
    pairs: list[Pair] = []
    for q in sorted(squad.questions, key=lambda q: q.qid):
        paras = squad.paragraphs[q.article]
        own = own_pair(q, paras)
        if own is None:
            continue
        pairs.append(own)
        if own.kind == "unans":
            continue
        others = [i for i in range(len(paras)) if i != q.paragraph_index]
        for i in rng.sample(others, min(negatives_per_question, len(others))):
            pairs.append(Pair(q.text, paras[i], 0, "hard"))
    return pairs


def gold_answers(squad: Squad) -> dict[tuple[str, str], list[str]]:
    """All gold answer texts of each answerable (question, own paragraph)."""
    gold: dict[tuple[str, str], list[str]] = {}
    for q in squad.questions:
        if not q.impossible and q.answers:
            own = squad.paragraphs[q.article][q.paragraph_index]
            gold.setdefault((q.text, own), []).extend(a[0] for a in q.answers)
    return gold
