"""Errors raised by qabot.

The library raises; the edges (CLI, API, UI) translate these into messages for people.
"No good answer" is not an error: it is ``Answer.found is False``.

Hierarchy::

    QabotError
    ├── CorpusError              the corpus cannot be read at all
    │   └── EmptyCorpusError     nothing indexable was found
    ├── ModelError               the embedding (or reranking) model cannot be loaded or is wrong
    ├── EngineError              the distributed embedding engine (Ray) is missing or unreachable
    ├── QabotIndexError          base for problems with an index folder
    │   ├── IndexNotFoundError   no index in the folder
    │   ├── IndexCorruptError    files missing, unreadable or inconsistent
    │   ├── StaleIndexError      the corpus changed since the index was built
    │   └── ModelMismatchError   the index was built with another model
    ├── IndexWriteError          a new index could not be written (the previous one stays)
    ├── QuestionError            empty or unusable question
    └── EvalInputError           a question set or relevance file is malformed
"""

from __future__ import annotations

from pathlib import Path


class QabotError(Exception):
    """Base class of every error qabot raises on purpose."""


class CorpusError(QabotError):
    """The corpus path is missing or unreadable."""


class EmptyCorpusError(CorpusError):
    """The corpus holds nothing that can be indexed."""


class ModelError(QabotError):
    """The embedding model, or the reranker, cannot be loaded."""


class EngineError(QabotError):
    """The distributed embedding engine (Ray) is not installed or cannot be reached."""


class QabotIndexError(QabotError):
    """Base class for problems with an index folder."""

    def __init__(self, message: str, index_dir: Path | None = None) -> None:
        super().__init__(message)
        self.index_dir = index_dir


class IndexNotFoundError(QabotIndexError):
    """There is no index in the folder."""


class IndexCorruptError(QabotIndexError):
    """The index files are missing, unreadable or inconsistent."""


class StaleIndexError(QabotIndexError):
    """The corpus changed since the index was built."""


class ModelMismatchError(QabotIndexError):
    """The index was built with a different embedding model."""


class IndexWriteError(QabotError):
    """A new index could not be written (disk full, no permission); the previous one stays."""


class QuestionError(QabotError, ValueError):
    """The question is empty or unusable."""


class EvalInputError(QabotError):
    """A question set or relevance file is malformed; the message names file and line."""
