"""Alternate phrasings of FAQ entries, learnt from the chat (QnA Maker's "active learning").

Two steps, both plain data:

* `suggest_alternates` reads the feedback rows (`qabot.web.feedback.FeedbackStore.rows`) and
  proposes, for an FAQ entry, the questions people asked that got a liked answer from it, or
  that were declined with a best score close below the threshold while it was the nearest FAQ
  entry. Equal questions (case, spacing and end punctuation aside) are grouped and counted;
  each `Suggestion` has a short id, stable across runs, that a person names to accept it.
* `accept_alternates` appends the chosen phrasings to the corpus's alternates file,
  ``<corpus name>.alternates.jsonl`` beside it, one ``{"passage_id": ..., "question": ...}``
  per line. The next index build reads that file.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from qabot.atomic import write_text_atomic

_FAQ_ID = re.compile(r"#faq-\d+$")
_END_PUNCTUATION = "?!.;:,… \t"


@dataclass(frozen=True)
class Suggestion:
    """A proposed alternate phrasing of one FAQ entry.

    Attributes:
        id: short and stable (a hash of the entry id and the normalised question).
        passage_id: the FAQ entry (``{doc_id}#faq-{n}``).
        question: the phrasing, as people most often typed it.
        liked: how often it was asked and the entry's answer liked.
        declined: how often it was declined with this entry nearest.
    """

    id: str
    passage_id: str
    question: str
    liked: int
    declined: int

    @property
    def count(self) -> int:
        """How often the phrasing was seen, liked and declined together."""
        return self.liked + self.declined


def is_faq_id(passage_id: str | None) -> bool:
    """Whether a passage id names an FAQ entry (``{doc_id}#faq-{n}``)."""
    return passage_id is not None and _FAQ_ID.search(passage_id) is not None


def phrasing_key(question: str) -> str:
    """How feedback phrasings are compared: case-folded, single-spaced, no end punctuation.

    A key for the alternates file, looser than retrieval's `normalise_question` (which also
    drops accents and numbering to match questions asked verbatim).
    """
    return " ".join(question.casefold().split()).strip(_END_PUNCTUATION)


def suggestion_id(passage_id: str, question: str) -> str:
    """The short id of a phrasing of an entry; equal for questions that normalise the same."""
    key = f"{passage_id}\x1f{phrasing_key(question)}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]


def suggest_alternates(
    rows: Iterable[Mapping],
    *,
    min_declined_score: float,
    threshold: float,
    known: Iterable[tuple[str, str]] = (),
) -> list[Suggestion]:
    """Group the feedback rows into proposed phrasings, most often seen first.

    Args:
        rows: feedback rows (``question, answer_id, score, found, vote, nearest_id``).
        min_declined_score: a declined question counts when its best score is at least this.
        threshold: the answer threshold; declined scores at or above it are ignored (another
            threshold answered then), so "close below" means ``[min_declined_score, threshold)``.
        known: ``(passage_id, question)`` pairs already in the alternates file: left out.

    A phrasing disliked more often than it was liked for the same entry is left out.
    """
    seen = {suggestion_id(pid, q) for pid, q in known}
    liked: Counter[str] = Counter()
    declined: Counter[str] = Counter()
    disliked: Counter[str] = Counter()
    forms: dict[str, Counter[str]] = {}
    entries: dict[str, str] = {}
    for row in rows:
        entry, tally = _entry_and_tally(row, min_declined_score, threshold)
        if entry is None or not phrasing_key(row["question"]):
            continue
        key = suggestion_id(entry, row["question"])
        {"liked": liked, "declined": declined, "disliked": disliked}[tally][key] += 1
        if tally != "disliked":
            forms.setdefault(key, Counter())[" ".join(row["question"].split())] += 1
            entries[key] = entry
    suggestions = [
        Suggestion(key, entries[key], forms[key].most_common(1)[0][0], liked[key], declined[key])
        for key in forms
        if key not in seen and disliked[key] <= liked[key]
    ]
    return sorted(suggestions, key=lambda s: (-s.count, s.passage_id, s.question.casefold()))


def _entry_and_tally(row: Mapping, min_declined: float, threshold: float) -> tuple[str | None, str]:
    """Which FAQ entry a row speaks for, and how (liked, declined, disliked), if any."""
    answer_id = row.get("answer_id")
    if row.get("found") and is_faq_id(answer_id):
        if row.get("vote") == 1:
            return answer_id, "liked"
        if row.get("vote") == -1:
            return answer_id, "disliked"
        return None, ""
    nearest = row.get("nearest_id")
    if not row.get("found") and is_faq_id(nearest) and min_declined <= row["score"] < threshold:
        return nearest, "declined"
    return None, ""


def read_alternates_file(path: Path) -> list[tuple[str, str]]:
    """The ``(passage_id, question)`` pairs of an alternates file; unreadable lines are skipped."""
    if not path.exists():
        return []
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and data.get("passage_id") and data.get("question"):
            pairs.append((str(data["passage_id"]), str(data["question"])))
    return pairs


def accept_alternates(path: Path, suggestions: Sequence[Suggestion]) -> list[Suggestion]:
    """Append the suggestions' phrasings to the alternates file at ``path``, atomically.

    Phrasings the file already holds (compared as `phrasing_key` does) are not written
    again; the file's existing lines are kept as they are. Returns the suggestions written.
    """
    path = Path(path)
    have = {suggestion_id(pid, q) for pid, q in read_alternates_file(path)}
    new = []
    for suggestion in suggestions:
        if suggestion.id not in have:
            have.add(suggestion.id)
            new.append(suggestion)
    if not new:
        return []
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if old and not old.endswith("\n"):
        old += "\n"
    lines = [
        json.dumps({"passage_id": s.passage_id, "question": s.question}, ensure_ascii=False)
        for s in new
    ]
    write_text_atomic(path, old + "".join(f"{line}\n" for line in lines))
    return new
