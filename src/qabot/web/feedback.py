"""Feedback: every question the chat or the API answered, and the votes on the answers, in SQLite.

One table, one row per answered question::

    asked(id, time, question, answer_id, score, found, vote, channel, nearest_id)

``vote`` is NULL until someone likes (+1) or dislikes (-1) the answer; ``answer_id`` is the
answering passage id (NULL when the bot declined); ``nearest_id`` is, for a declined question,
the nearest FAQ entry among the matches shown (NULL otherwise, and in databases made before
the column existed: opening one adds it). From these rows `FeedbackStore.summary`
finds the most disliked answers and the most frequent unanswered questions, and
`FeedbackStore.export_csv` writes them as a question set that ``qabot eval`` can read.
Rows are kept until `FeedbackStore.prune` deletes the old ones (``qabot feedback
--prune-older-than DAYS``, `DEFAULT_RETENTION_DAYS` when no number is given).
"""

from __future__ import annotations

import csv
import io
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from qabot.atomic import write_text_atomic
from qabot.documents.alternates import is_faq_id
from qabot.evaluation.spreadsheet import spreadsheet_safe

if TYPE_CHECKING:
    from qabot.answering.answer import Answer

logger = logging.getLogger(__name__)

DEFAULT_FEEDBACK_FILE = "feedback.sqlite3"
DEFAULT_SUMMARY_TOP_K = 10
DEFAULT_EXPORT_TOP_K = 100
# How long `qabot feedback --prune-older-than` keeps questions when given no number of days.
DEFAULT_RETENTION_DAYS = 90
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%z"

Channel = Literal["chat", "api"]
"""Where a question was asked: the chat page (and the widget) or ``POST /api/ask``."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS asked (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    question TEXT NOT NULL,
    answer_id TEXT,
    score REAL NOT NULL,
    found INTEGER NOT NULL,
    vote INTEGER,
    channel TEXT NOT NULL DEFAULT 'chat',
    nearest_id TEXT
);
CREATE INDEX IF NOT EXISTS asked_found ON asked (found);
CREATE INDEX IF NOT EXISTS asked_answer ON asked (answer_id);
"""


@dataclass(frozen=True)
class DislikedAnswer:
    """An answer people disliked: its passage id, votes and the questions that led to it."""

    answer_id: str
    dislikes: int
    likes: int
    questions: tuple[str, ...]


@dataclass(frozen=True)
class UnansweredQuestion:
    """A question the bot declined, and how often it was asked (case-insensitive)."""

    question: str
    count: int
    best_score: float


@dataclass(frozen=True)
class FeedbackSummary:
    """Totals plus the most disliked answers and the most frequent unanswered questions."""

    asked: int
    answered: int
    likes: int
    dislikes: int
    disliked: tuple[DislikedAnswer, ...] = field(default_factory=tuple)
    unanswered: tuple[UnansweredQuestion, ...] = field(default_factory=tuple)


class FeedbackStore:
    """Records questions, answers and votes in an SQLite file; safe to share between threads.

    Args:
        path: the database file (created, with its folder, when missing); ":memory:" for tests.
        strict: raise `sqlite3.Error` when the file is no usable database, instead of logging
            it and answering on (the server's choice); ``qabot feedback`` reads it strictly.
    """

    def __init__(self, path: Path | str, *, strict: bool = False) -> None:
        self.path = Path(path) if str(path) != ":memory:" else path
        if isinstance(self.path, Path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # One connection behind a lock: writes are tiny, and SQLite serialises writers anyway.
        self._lock = threading.Lock()
        self._warned = False
        # A short wait for a lock: WAL writers hold it for microseconds, and a question must
        # not wait long on its record.
        self._db = sqlite3.connect(
            str(path), check_same_thread=False, isolation_level=None, timeout=1.0
        )
        try:
            with self._lock:
                if isinstance(self.path, Path):
                    self._db.execute("PRAGMA journal_mode=WAL")
                    self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.executescript(_SCHEMA)
                _migrate(self._db)
        except sqlite3.Error as exc:
            if strict:
                self._db.close()
                raise
            self._failed(exc)

    def record(
        self,
        question: str,
        answer_id: str | None,
        score: float,
        found: bool,
        *,
        channel: Channel = "chat",
        nearest_id: str | None = None,
    ) -> int:
        """Store one answered question; returns its row id (pass it to `vote`), 0 if not stored.

        ``nearest_id`` is the nearest FAQ entry of a declined question (`record_answer` finds it).
        """
        return self._write(
            "INSERT INTO asked (time, question, answer_id, score, found, channel, nearest_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (_now(), question, answer_id, float(score), int(found), channel, nearest_id),
        )

    def record_answer(self, answer: Answer, *, channel: Channel) -> int:
        """Store an answered question as the chat and the API see it; returns its row id.

        Small talk ("hello", "thanks") is not stored (0): the reply is our own words, and it is
        neither a document's answer to judge nor a question the documents left unanswered.
        """
        if answer.kind == "smalltalk":
            return 0
        nearest = None
        if not answer.found:
            # What `qabot feedback suggest` proposes a declined question as a phrasing of.
            faq = (a.passage_id for a in answer.alternatives if is_faq_id(a.passage_id))
            nearest = next(faq, None)
        return self.record(
            answer.question,
            answer.passage_id,
            answer.score,
            answer.found,
            channel=channel,
            nearest_id=nearest,
        )

    def vote(self, row_id: int, vote: int | None) -> None:
        """Set the vote on a stored answer: +1 like, -1 dislike, None to withdraw it."""
        # By type too: True == 1 and 1.0 == 1, but only the ints 1 and -1 are votes.
        if vote is not None and (type(vote) is not int or vote not in (1, -1)):
            raise ValueError(f"A vote is 1, -1 or None, not {vote!r}.")
        self._write("UPDATE asked SET vote = ? WHERE id = ?", (vote, row_id))

    def _write(self, sql: str, parameters: tuple) -> int:
        """Run one write; returns the row id. A database that cannot be written (locked,
        read-only, full) is logged once, not raised: the answer matters more than its record."""
        try:
            with self._lock:
                return int(self._db.execute(sql, parameters).lastrowid or 0)
        except sqlite3.Error as exc:
            self._failed(exc)
            return 0

    def _failed(self, exc: sqlite3.Error) -> None:
        if not self._warned:
            self._warned = True
            logger.warning(
                "Feedback is not stored in %s (%s); questions are still answered.", self.path, exc
            )

    def rows(self) -> list[dict]:
        """Every stored row, oldest first, as plain dicts."""
        with self._lock:
            cursor = self._db.execute("SELECT * FROM asked ORDER BY id")
            names = [c[0] for c in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def summary(self, top_k: int = DEFAULT_SUMMARY_TOP_K) -> FeedbackSummary:
        """Totals, the ``top_k`` most disliked answers and most frequent unanswered questions."""
        with self._lock:
            asked, answered, likes, dislikes = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(found), 0), "
                "COALESCE(SUM(vote = 1), 0), COALESCE(SUM(vote = -1), 0) FROM asked"
            ).fetchone()
            disliked_rows = self._db.execute(
                "SELECT answer_id, SUM(vote = -1) AS d, SUM(vote = 1) AS l, "
                "GROUP_CONCAT(CASE WHEN vote = -1 THEN question END, char(31)) "
                "FROM asked WHERE answer_id IS NOT NULL GROUP BY answer_id "
                "HAVING d > 0 ORDER BY d DESC, l ASC, answer_id LIMIT ?",
                (top_k,),
            ).fetchall()
            unanswered_rows = self._db.execute(
                "SELECT MIN(question), COUNT(*) AS n, MAX(score) FROM asked WHERE found = 0 "
                "GROUP BY LOWER(TRIM(question)) ORDER BY n DESC, MIN(id) LIMIT ?",
                (top_k,),
            ).fetchall()
        return FeedbackSummary(
            asked=asked,
            answered=answered,
            likes=likes,
            dislikes=dislikes,
            disliked=tuple(
                DislikedAnswer(answer_id, down, up, tuple(dict.fromkeys((qs or "").split("\x1f"))))
                for answer_id, down, up, qs in disliked_rows
            ),
            unanswered=tuple(UnansweredQuestion(q, n, float(s)) for q, n, s in unanswered_rows),
        )

    def export_csv(self, path: Path | str, top_k: int = DEFAULT_EXPORT_TOP_K) -> int:
        """Write the unanswered and disliked questions as a question set ``qabot eval`` reads.

        Columns: ``id, question, answerable, source, times, answer_id``. ``answerable`` is left
        empty (unknown): a person decides, and fills ``expected_answer`` or ``answerable``.
        ``top_k`` applies to each list, as in `summary`. Returns the number of questions written.
        """
        summary = self.summary(top_k)
        rows = [
            {"source": "unanswered", "question": u.question, "times": u.count, "answer_id": ""}
            for u in summary.unanswered
        ]
        rows += [
            {"source": "disliked", "question": q, "times": d.dislikes, "answer_id": d.answer_id}
            for d in summary.disliked
            for q in d.questions
        ]
        return _write_csv(path, rows)

    def prune(self, older_than_days: float, *, now: datetime | None = None) -> int:
        """Delete the questions recorded more than ``older_than_days`` ago; returns how many.

        A row whose time cannot be read is kept. ``now`` is for tests (default: the clock).
        """
        cutoff = (now or datetime.now(UTC)) - timedelta(days=older_than_days)
        with self._lock:
            old = [
                (row_id,)
                for row_id, recorded in self._db.execute("SELECT id, time FROM asked")
                if _recorded_before(recorded, cutoff)
            ]
            self._db.executemany("DELETE FROM asked WHERE id = ?", old)
        return len(old)

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()


def _migrate(db: sqlite3.Connection) -> None:
    """Bring a database made by an older qabot up to `_SCHEMA` (only columns are ever added)."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(asked)")}
    if "nearest_id" not in columns:
        db.execute("ALTER TABLE asked ADD COLUMN nearest_id TEXT")


def _write_csv(path: Path | str, rows: Iterable[dict]) -> int:
    """Write the rows, neutralised for spreadsheets, atomically; returns how many."""
    out = io.StringIO(newline="")
    writer = csv.DictWriter(
        out, fieldnames=["id", "question", "answerable", "source", "times", "answer_id"]
    )
    writer.writeheader()
    count = 0
    for count, row in enumerate(rows, start=1):
        cells = {"id": f"feedback-{count}", "answerable": "", **row}
        writer.writerow({name: spreadsheet_safe(value) for name, value in cells.items()})
    write_text_atomic(Path(path), out.getvalue())
    return count


def _recorded_before(recorded: str, cutoff: datetime) -> bool:
    try:
        return datetime.strptime(recorded, _TIME_FORMAT) < cutoff
    except (TypeError, ValueError):
        return False


def _now() -> str:
    return time.strftime(_TIME_FORMAT)
