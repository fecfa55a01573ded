"""SQuAD articles as a qabot corpus: their paragraphs as documents, their questions sorted by kind.

With ``removed`` of each article's paragraphs taken out (chosen with a fixed seed), the
questions on those become near-domain: on topic, unanswered by the corpus. The unanswerable
questions SQuAD 2.0 wrote for a paragraph still in the corpus are adversarial: written to look
answerable by it. The rest are answerable, their paragraph the gold document.

Two users: the verifier's held-out articles as test sets (`bench.verifier_e2e`), and its
calibration articles as the dev set the verified confidence is fitted on (`bench.data`,
``squad-cal``). Neither set of articles is ever trained on (``training/data/``).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

REMOVED_SHARE = 0.25
SEED = 18


@dataclass(frozen=True)
class SquadCorpus:
    """Paragraph documents and question rows, as ``qabot index`` and ``qabot eval`` read them."""

    documents: list[dict]  # {"id", "title", "text"}
    questions: list[dict]  # {"id", "question", "category", "expected_ids" | "answerable": False}
    groups: list[str]  # per question, its article and paragraph: questions on one are near-twins


def squad_corpus(
    articles: list[str], *, removed: float = 0.0, adversarial: bool = True
) -> SquadCorpus:
    """The named SQuAD articles as a corpus, ``removed`` of each one's paragraphs taken out.

    ``adversarial`` keeps the unanswerable questions of the paragraphs left in.
    """
    from training.squad_data import load_squad

    squad = load_squad().restrict(articles)
    doc_id = {
        (t, i): f"{t}#p{i}" for t, paras in squad.paragraphs.items() for i in range(len(paras))
    }
    rng = random.Random(SEED)
    gone = set()
    for title, paragraphs in sorted(squad.paragraphs.items()):
        count = round(removed * len(paragraphs))
        gone |= {(title, i) for i in rng.sample(range(len(paragraphs)), count)}
    documents = [
        {"id": doc_id[(t, i)], "title": t.replace("_", " "), "text": text}
        for t, paras in squad.paragraphs.items()
        for i, text in enumerate(paras)
        if (t, i) not in gone
    ]
    questions, groups = [], []
    for q in squad.questions:
        where = (q.article, q.paragraph_index)
        if q.impossible:
            if not adversarial or where in gone:
                continue
            questions.append(_row(q.qid, q.text, None, "adversarial"))
        elif where in gone:
            questions.append(_row(q.qid, q.text, None, "near-domain"))
        else:
            questions.append(_row(q.qid, q.text, doc_id[where], "answerable"))
        groups.append(doc_id[where])
    return SquadCorpus(documents, questions, groups)


def write_corpus(corpus: SquadCorpus, folder: Path, questions: Path) -> None:
    """Write the documents as ``folder/paragraphs.jsonl`` and the questions as ``questions``,
    leaving files that already hold the same bytes untouched (their times feed caches)."""
    folder.mkdir(parents=True, exist_ok=True)
    questions.parent.mkdir(parents=True, exist_ok=True)
    _write_jsonl(folder / "paragraphs.jsonl", corpus.documents)
    _write_jsonl(questions, corpus.questions)


def _row(qid: str, text: str, gold: str | None, category: str) -> dict:
    row = {"id": qid, "question": text, "category": category}
    return {**row, "expected_ids": [gold]} if gold else {**row, "answerable": False}


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if not (path.is_file() and path.read_text(encoding="utf-8") == text):
        path.write_text(text, encoding="utf-8")
