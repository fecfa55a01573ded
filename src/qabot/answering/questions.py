"""Questions as people type them: cleaned, checked and trimmed before anything searches.

The one place that decides what a question may hold: the CLI, the API, the chat and the
evaluation all clean with `clean_question`.
"""

from __future__ import annotations

import unicodedata

from qabot.errors import QuestionError

MAX_QUESTION_CHARS = 2000


def clean_question(question: str, max_chars: int = MAX_QUESTION_CHARS) -> tuple[str, bool]:
    """Strip control characters and surrounding space; trim very long questions.

    Returns the cleaned question and whether it was trimmed.

    Raises:
        QuestionError: the question is empty once cleaned, or holds a lone surrogate.
    """
    if not isinstance(question, str):
        raise QuestionError(f"A question must be text, not {type(question).__name__}.")
    # A lone surrogate (category Cs) is not a character: it cannot be encoded, so it would
    # break the tokenizer and the model later, far from the caller.
    if question.isascii():  # the common case, kept cheap: its only control characters are Cc
        return _trimmed(" ".join(question.translate(_ASCII_CONTROLS).split()), max_chars)
    if any(unicodedata.category(c) == "Cs" for c in question):
        raise QuestionError(
            "The question contains invalid characters (lone UTF-16 surrogates): send it as text."
        )
    cleaned = "".join(
        " " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in question
    )
    return _trimmed(" ".join(cleaned.split()), max_chars)


_ASCII_CONTROLS = {code: " " for code in (*range(32), 127)}


def _trimmed(cleaned: str, max_chars: int) -> tuple[str, bool]:
    if not cleaned:
        raise QuestionError("The question is empty: type a question.")
    if len(cleaned) > max_chars:
        return cleaned[:max_chars].rsplit(" ", 1)[0] or cleaned[:max_chars], True
    return cleaned, False


_QUESTION_WORDS = frozenset(
    {
        "what",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "which",
        "why",
        "how",
        "is",
        "are",
        "was",
        "were",
        "am",
        "do",
        "does",
        "did",
        "can",
        "could",
        "should",
        "would",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "has",
        "have",
        "had",
        "isn't",
        "aren't",
        "wasn't",
        "weren't",
        "don't",
        "doesn't",
        "didn't",
        "can't",
        "couldn't",
        "won't",
    }
)


def is_question(text: str) -> bool:
    """Whether ``text`` is worded as a question: it ends with "?" or opens with a question word
    or an auxiliary verb ("What…", "Does…"). A claim or a few keywords is not: the verifier, a
    reader trained on questions, reads only answers to questions."""
    stripped = text.strip()
    if stripped.endswith("?"):
        return True
    first = stripped.split(maxsplit=1)[0].lower().strip("\"'(¿¡") if stripped else ""
    return first in _QUESTION_WORDS
