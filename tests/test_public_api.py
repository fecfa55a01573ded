"""The curated public API is pinned: changing it is a deliberate act."""

import subprocess
import sys

import qabot


def test_all_is_pinned_and_importable():
    assert sorted(qabot.__all__) == sorted(
        [
            "DEFAULT_MODEL", "Alternative", "Answer", "Answerer", "Corpus", "CorpusError",
            "CorpusProblem", "Document", "Embedder", "EmptyCorpusError", "EvalInputError", "Hit",
            "Index", "IndexCorruptError", "IndexManifest", "IndexNotFoundError", "Link",
            "ModelError", "ModelMismatchError", "Passage", "QabotError", "QabotIndexError",
            "QuestionError", "Retriever", "SentenceTransformerEmbedder", "Source",
            "StaleIndexError", "Structure", "__version__", "build_index", "chunk_document",
            "chunk_documents", "ensure_index", "load_corpus", "load_index", "parse_structure",
        ]
    )  # fmt: skip
    assert all(hasattr(qabot, name) for name in qabot.__all__)


def test_importing_qabot_loads_no_model_library():
    code = (
        "import sys, qabot, qabot.cli, qabot.web.server, qabot.evaluation.run; "
        "print(sorted(m for m in ('torch', 'faiss', 'sentence_transformers', 'gradio') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_version_matches_the_package_metadata():
    import tomllib

    from conftest import ROOT

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert qabot.__version__ == pyproject["project"]["version"]
