"""Small talk: short configured replies to "hello", "thanks", "who are you?", "help"...

They are words we wrote, not the documents': the `Answer` says so with ``kind ==
"smalltalk"`` (``found`` is False: the documents did not answer). A reply is given only to a
short utterance that is close to one of the set's phrasings, and only when the documents do
not answer better (`SmallTalk.reply`): an answer is kept when its probability is at least
the utterance's closeness to small talk. So an FAQ question asked verbatim (1.0) always keeps
its answer, while "what are you?" is not answered with "What is NATO?" at 0.25.

A set is JSON lines, each a phrasing (``question``), a reply (``answer``), or both, grouped
by ``intent``; the row giving an intent's ``answer`` may add ``"suggest": true`` to offer
starter questions with it. A reply may name what the index covers with ``{documents}`` (the
number of documents and their titles) and ``{questions}`` (some FAQ questions). The default
English set ships in the package (``qabot/data/smalltalk.jsonl``); a corpus folder's own
``smalltalk.jsonl`` (never indexed) overrides it: its reply to an intent replaces the
default's, its phrasings are added.

Matching is on the words, typos forgiven: every word said must be close to a word of the
phrasing (or be a filler such as "please"), and the whole close to the whole. So "thnaks
so much" is thanks, but "what can you tell me about NATO summits" is not help.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from importlib.resources import files
from pathlib import Path

from qabot.answering.answer import Answer
from qabot.answering.closeness import Vocabulary, close, ratio
from qabot.documents.chunking import Passage
from qabot.documents.corpus import SMALLTALK_FILE
from qabot.errors import CorpusError

MAX_SMALLTALK_WORDS = 8
MIN_SIMILARITY = 0.8  # of the whole utterance to the whole phrasing (difflib's ratio)
MIN_WORD_SIMILARITY = 0.65  # of each word said to its closest word of the phrasing
DEFAULT_SUGGESTIONS = 3
_KNOWN_KEPT = 10_000  # words remembered as close to the set's or not
_COVERAGE_SCAN = 5000  # passages read to list what the index covers (a large one: the first)
_FILLERS = frozenset(
    [
        "please",
        "pls",
        "plz",
        "there",
        "so",
        "very",
        "much",
        "again",
        "a",
        "the",
        "um",
        "uh",
        "oh",
        "well",
        "just",
        "bot",
        "qabot",
        "dear",
        "friend",
        "buddy",
        "mate",
        "guys",
        "all",
        "everyone",
        "folks",
        "real",
        "really",
        "today",
        "now",
        "actually",
    ]
)
_SPELLINGS = {"u": "you", "ur": "your", "r": "are", "im": "i am", "youre": "you are"}
_CLAUSE_END = re.compile(r"[,.!?;:]+")
_NOT_WORD = re.compile(r"[^\w\s]|_")
_REPEATS = re.compile(r"(\w)\1+")


@dataclass(frozen=True)
class Coverage:
    """What an index covers, for the replies that say so: its size, some titles, some FAQ
    questions (the starter questions)."""

    documents: int
    titles: tuple[str, ...]
    questions: tuple[str, ...]


@dataclass(frozen=True)
class Intent:
    """One kind of small talk: its phrasings, its reply, and whether to offer starters."""

    name: str
    phrasings: tuple[str, ...]
    answer: str
    suggest: bool = False


def normalise(text: str) -> str:
    """Lower case, no punctuation, doubled letters single ("Hellooo!!" → "helo"), "u" → "you"."""
    return _spelled(_words(text))


def _words(text: str) -> list[str]:
    """The lower-case words of ``text`` without punctuation: `normalise`'s words before spelling
    (a spelling may become two words, never none)."""
    return _NOT_WORD.sub("", text.lower().replace("’", "'").replace("'", "")).split()


def _spelled(words: list[str]) -> str:
    """`normalise`'s last step: spellings replaced, doubled letters single."""
    return " ".join(_REPEATS.sub(r"\1", _SPELLINGS.get(w, w)) for w in words)


def similarity(said: str, phrasing: str) -> float:
    """How close a normalised utterance is to a normalised phrasing, 0 to 1.

    0 when a word said (not a filler) is close to no word of the phrasing: an utterance that
    brings its own topic is not small talk.
    """
    words = [w for w in said.split() if w not in _FILLERS] or said.split()
    known = [w for w in phrasing.split() if w not in _FILLERS] or phrasing.split()
    for word in words:
        if not any(close(word, k, MIN_WORD_SIMILARITY) for k in known):
            return 0.0
    return ratio(" ".join(words), " ".join(known))


class SmallTalk:
    """Recognises small talk and replies to it.

    Args:
        intents: the set (see `load_smalltalk`).
        min_similarity: how close an utterance must be to a phrasing.
        max_words: longer utterances are never small talk.
    """

    def __init__(
        self,
        intents: Sequence[Intent],
        *,
        min_similarity: float = MIN_SIMILARITY,
        max_words: int = MAX_SMALLTALK_WORDS,
    ) -> None:
        self.intents = tuple(intents)
        self.min_similarity = min_similarity
        self.max_words = max_words
        self._phrasings = [
            (normalise(p), intent) for intent in self.intents for p in intent.phrasings
        ]
        self._vocabulary = Vocabulary(
            word for phrasing, _ in self._phrasings for word in phrasing.split()
        )
        self._known: dict[str, bool] = {}

    def match(self, utterance: str) -> tuple[Intent, float] | None:
        """The intent of a short utterance and how close it came, or None for no small talk.

        "Hi, hello" and "ok thank you" are two pieces of small talk: an utterance whose every
        clause (or both halves of a clause) is small talk takes the last one's intent.
        """
        words = _words(utterance)
        if len(words) > self.max_words:  # spelling only ever adds words
            return None
        said = _spelled(words)
        if (
            not said
            or len(said.split()) > self.max_words
            or not all(map(self._is_known, said.split()))
        ):
            return None
        whole = self._closest(said)
        if whole is not None:
            return whole
        found: list[tuple[Intent, float]] = []
        for clause in filter(None, map(normalise, _CLAUSE_END.split(utterance))):
            matched = self._closest(clause) or self._halves(clause)
            if matched is None:
                return None
            found.append(matched)
        return (found[-1][0], min(score for _, score in found)) if found else None

    def _halves(self, said: str) -> tuple[Intent, float] | None:
        words = said.split()
        for cut in range(1, len(words)):
            first = self._closest(" ".join(words[:cut]))
            second = first and self._closest(" ".join(words[cut:]))
            if first and second:
                return second[0], min(first[1], second[1])
        return None

    def _is_known(self, word: str) -> bool:
        """Whether a word is a filler or close to some word of the set: else no small talk."""
        if word not in self._known:  # a handful of words per utterance: remembered
            if len(self._known) >= _KNOWN_KEPT:  # a long-running server meets endless words
                self._known.clear()
            self._known[word] = word in _FILLERS or self._vocabulary.any_close(
                word, MIN_WORD_SIMILARITY
            )
        return self._known[word]

    def _closest(self, said: str) -> tuple[Intent, float] | None:
        best: tuple[Intent, float] | None = None
        for phrasing, intent in self._phrasings:
            score = similarity(said, phrasing)
            if score >= self.min_similarity and (best is None or score > best[1]):
                best = (intent, score)
                if score == 1.0:
                    break
        return best

    def reply(self, answer: Answer, coverage: Callable[[], Coverage]) -> Answer:
        """``answer`` itself when it is no small talk or the documents answer better; else the
        reply.

        The documents answer better when ``answer`` is found with a probability (``score``) at
        least the question's closeness to small talk. ``coverage`` is called only for a reply
        (it may read the index's passages). The reply's ``score`` is that closeness.
        """
        matched = self.match(answer.question)
        if matched is None or (answer.found and answer.score >= matched[1]):
            return answer
        intent, score = matched
        covered = coverage()
        return replace(
            answer,
            found=False,
            kind="smalltalk",
            answer=fill(intent.answer, covered),
            score=score,
            alternatives=(),
            suggestions=covered.questions[:DEFAULT_SUGGESTIONS] if intent.suggest else (),
            faq_question=None,
            source=None,
            highlight=None,
            verifier=None,
            span=None,
        )


def fill(template: str, coverage: Coverage) -> str:
    """A reply with ``{documents}`` and ``{questions}`` replaced by what the index covers."""
    plural = "document" if coverage.documents == 1 else "documents"
    titles = ", ".join(f"“{t}”" for t in coverage.titles)
    more = coverage.documents - len(coverage.titles)
    documents = f"{coverage.documents} {plural}" + (f": {titles}" if titles else "")
    documents += f" and {more} more" if more > 0 else ""
    questions = "\n".join(f"• {q}" for q in coverage.questions) or f"• {titles}"
    return template.replace("{documents}", documents).replace("{questions}", questions)


def coverage_of(passages: Iterable[Passage], documents: int, top_k: int = 5) -> Coverage:
    """Up to ``top_k`` document titles and FAQ questions, in index order."""
    titles: dict[str, None] = {}
    questions: dict[str, None] = {}
    for number, passage in enumerate(passages):
        if number >= _COVERAGE_SCAN or (len(titles) >= top_k and len(questions) >= top_k):
            break
        if len(titles) < top_k:
            titles.setdefault(passage.title)
        if passage.kind == "faq" and passage.question and len(questions) < top_k:
            questions.setdefault(passage.question)
    return Coverage(documents, tuple(titles), tuple(questions))


def default_smalltalk_path() -> Path:
    """The default English set, inside the installed package."""
    return Path(str(files("qabot") / "data" / SMALLTALK_FILE))


def load_smalltalk(corpus_path: str | Path | None = None) -> SmallTalk:
    """The default set, overridden by ``<corpus folder>/smalltalk.jsonl`` when there is one.

    Raises:
        CorpusError: a set has a bad row (its file and line are named).
    """
    intents = read_intents(default_smalltalk_path())
    own = Path(corpus_path) / SMALLTALK_FILE if corpus_path else None
    if own is not None and own.is_file():
        intents = merge_intents(intents, read_intents(own, defaults=intents))
    return SmallTalk(intents)


def merge_intents(base: Sequence[Intent], override: Sequence[Intent]) -> list[Intent]:
    """``base`` with each of ``override``'s intents replacing its reply and adding phrasings."""
    merged = {intent.name: intent for intent in base}
    for intent in override:
        old = merged.get(intent.name)
        phrasings = (old.phrasings if old else ()) + intent.phrasings
        merged[intent.name] = replace(intent, phrasings=tuple(dict.fromkeys(phrasings)))
    return list(merged.values())


def read_intents(path: Path, defaults: Sequence[Intent] = ()) -> list[Intent]:
    """The intents of one set file (see the module's docstring for its rows).

    An intent given phrasings but no reply keeps its reply in ``defaults``.

    Raises:
        CorpusError: the file cannot be read, a row is not a JSON object with text fields, or
            an intent has phrasings but no reply.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CorpusError(f"{path}: cannot be read as UTF-8 text ({exc}).") from exc
    phrasings: dict[str, list[str]] = {}
    answers: dict[str, tuple[str, bool]] = {i.name: (i.answer, i.suggest) for i in defaults}
    own_answers: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        name, question, answer, suggest = _row(line, f"{path}, line {number}")
        phrasings.setdefault(name, [])
        if question:
            phrasings[name].append(question)
        if answer:
            answers[name] = (answer, suggest)
            own_answers.add(name)
    missing = sorted(name for name in phrasings if name not in answers)
    if missing:
        raise CorpusError(f"{path}: no answer for the intent(s) {', '.join(missing)}.")
    return [
        Intent(name, tuple(phrasings[name]), *answers[name])
        for name in phrasings
        if phrasings[name] or name in own_answers
    ]


def _row(line: str, where: str) -> tuple[str, str, str, bool]:
    """One row's intent, question, answer and suggest flag."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise CorpusError(f"{where}: not valid JSON ({exc.msg}).") from exc
    if not isinstance(row, dict):
        raise CorpusError(f"{where}: a row is a JSON object, not {type(row).__name__}.")
    texts = {key: row.get(key, "") for key in ("intent", "question", "answer")}
    if not all(isinstance(value, str) for value in texts.values()):
        raise CorpusError(f"{where}: intent, question and answer must be text.")
    if not texts["question"].strip() and not texts["answer"].strip():
        raise CorpusError(f"{where}: a row needs a question, an answer or both.")
    if not texts["intent"].strip() and not texts["question"].strip():
        raise CorpusError(f"{where}: a row with only an answer needs an intent.")
    name = texts["intent"].strip() or normalise(texts["question"])
    return name, texts["question"].strip(), texts["answer"].strip(), row.get("suggest") is True
