"""The verifier's part in answering: which answers it reads, what it reads of them, its span.

The answerability verifier (`qabot.models.verifier`) reads the question with the text of the
answer and gives P(the text answers the question) and its best answer span. qabot reads the top
passage answer to each question with it. Its probability is the last feature of the verified
confidence model (``qabot/data/confidence-verified.json``, fitted on the dev data with
``bench/train_confidence.py --verifier``), and the span marks the exact words inside the
quoted passage.
"""

from __future__ import annotations

from dataclasses import replace

from qabot.answering.questions import is_question
from qabot.documents.chunking import Passage
from qabot.models.verifier import Span, Verdict

SPAN_PROBABILITY = 0.5
"""A span is shown only when the verifier itself says the text answers (P >= this)."""


def reads(passage: Passage, question: str) -> bool:
    """Whether the verifier reads an answer quoting ``passage`` for ``question``: a passage,
    whose exact answer is worth a transformer pass, not an FAQ entry, whose answer was written
    for its question; and a question worded as one (`is_question`), not a claim or keywords,
    which a reader trained on questions misjudges."""
    return passage.kind != "faq" and is_question(question)


def verifier_text(passage: Passage, highlight: str | None = None) -> tuple[str, int]:
    """The text the verifier reads for a passage, and the offset that maps it into the
    passage's own text (``passage.text[i + offset]`` is the read text's ``i``-th character).

    A passage with a highlighted sentence is read as that sentence alone: the exact answer is
    shown inside it, and one sentence costs a fraction of a whole passage's pass. An FAQ entry
    is read with its question before its answer (a negative offset), as a reader reads an FAQ.
    """
    if passage.kind == "faq" and passage.question:
        return f"{passage.question}\n{passage.text}", -(len(passage.question) + 1)
    if highlight and highlight in passage.text:
        return highlight, passage.text.index(highlight)
    return passage.text, 0


def answer_span(passage: Passage, verdict: Verdict, highlight: str | None = None) -> Span | None:
    """The verifier's span as offsets into the passage's own text (``answer``), or None.

    ``highlight`` is the sentence the verifier read (`verifier_text`). None when the verifier
    doubts the text answers (`SPAN_PROBABILITY`), when its span lies in an FAQ entry's question
    rather than its answer, or when it is all the text it read (nothing shorter to show).
    """
    span = verdict.span
    if span is None or verdict.probability < SPAN_PROBABILITY:
        return None
    read, offset = verifier_text(passage, highlight)
    start, end = span.start + offset, span.end + offset
    if start < 0 or end > len(passage.text) or not span.text.strip():
        return None
    shown = read if offset >= 0 else passage.text  # the part of the answer it read
    if passage.text[start:end] != span.text or end - start >= len(shown.strip()):
        return None
    return replace(span, start=start, end=end)
