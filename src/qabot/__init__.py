"""qabot: exact, sourced answers from your own documents, offline.

The four verbs::

    corpus = load_corpus("corpus/")                       # read documents
    index = build_index("corpus/", "index/", embedder)    # chunk, embed, save
    answerer = Answerer(Retriever(load_index("index/"), embedder))
    answer = answerer.answer("What is NATO?")             # the documents' own words
"""

from qabot.answering.answer import Alternative, Answer, Source
from qabot.answering.answerer import Answerer
from qabot.answering.retrieval import Hit, Retriever
from qabot.documents.chunking import Passage, chunk_document, chunk_documents
from qabot.documents.corpus import Corpus, CorpusProblem, Document, load_corpus
from qabot.documents.structure import Link, Structure, parse_structure
from qabot.errors import (
    CorpusError,
    EmptyCorpusError,
    EvalInputError,
    IndexCorruptError,
    IndexNotFoundError,
    ModelError,
    ModelMismatchError,
    QabotError,
    QabotIndexError,
    QuestionError,
    StaleIndexError,
)
from qabot.evaluation import EvalCase, EvalReport, evaluate
from qabot.index.build import Index, build_index, load_index
from qabot.index.manifest import IndexManifest
from qabot.index.startup import ensure_index
from qabot.models.embedding import DEFAULT_MODEL, Embedder, SentenceTransformerEmbedder
from qabot.version import __version__

__all__ = [
    "DEFAULT_MODEL",
    "Alternative",
    "Answer",
    "Answerer",
    "Corpus",
    "CorpusError",
    "CorpusProblem",
    "Document",
    "Embedder",
    "EmptyCorpusError",
    "EvalCase",
    "EvalInputError",
    "EvalReport",
    "Hit",
    "Index",
    "IndexCorruptError",
    "IndexManifest",
    "IndexNotFoundError",
    "Link",
    "ModelError",
    "ModelMismatchError",
    "Passage",
    "QabotError",
    "QabotIndexError",
    "QuestionError",
    "Retriever",
    "SentenceTransformerEmbedder",
    "Source",
    "StaleIndexError",
    "Structure",
    "__version__",
    "build_index",
    "chunk_document",
    "chunk_documents",
    "ensure_index",
    "evaluate",
    "load_corpus",
    "load_index",
    "parse_structure",
]
