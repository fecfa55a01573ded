"""The curated public API is pinned: changing it is a deliberate act."""

import json
import subprocess
import sys
import textwrap

import pytest

import qabot

from conftest import ROOT, SEED_CORPUS

# What only the optional extras install: `import qabot` and `qabot ask` must not need them.
EXTRAS = ("gradio", "fastapi", "uvicorn", "starlette", "matplotlib")


def test_all_is_pinned_and_importable():
    assert sorted(qabot.__all__) == sorted(
        [
            "DEFAULT_MODEL", "Alternative", "Answer", "Answerer", "Corpus", "CorpusError",
            "CorpusProblem", "Document", "Embedder", "EmptyCorpusError", "EvalCase",
            "EvalInputError", "EvalReport", "Hit", "Index", "IndexCorruptError", "IndexManifest",
            "IndexNotFoundError", "Link", "ModelError", "ModelMismatchError", "Passage",
            "QabotError", "QabotIndexError", "QuestionError", "Retriever",
            "SentenceTransformerEmbedder", "Source", "StaleIndexError", "Structure",
            "__version__", "build_index", "chunk_document", "chunk_documents", "ensure_index",
            "evaluate", "load_corpus", "load_index", "parse_structure",
        ]
    )  # fmt: skip
    assert all(hasattr(qabot, name) for name in qabot.__all__)


@pytest.mark.slow
def test_importing_qabot_loads_no_model_library():
    code = (
        "import sys, qabot, qabot.cli, qabot.web.server, qabot.evaluation.run; "
        "print(sorted(m for m in ('torch', 'faiss', 'sentence_transformers', 'gradio') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_import_build_and_ask_need_no_extra(tmp_path):
    """The core path, in a fresh interpreter: import, build, answer as `qabot ask` does."""
    script = textwrap.dedent(
        f"""
        import json, sys
        sys.path.insert(0, {str(ROOT / "tests")!r})

        def extras():
            return sorted(m for m in sys.modules if m.split(".")[0] in {EXTRAS!r})

        import qabot
        after_import = extras()
        from fakes import FakeEmbedder
        from qabot.cli import build_parser, format_answer, open_answerer

        build_parser()  # every command registered, as the console script does
        answerer = open_answerer(
            {str(SEED_CORPUS)!r}, {str(tmp_path / "idx")!r},
            make_embedder=lambda name: FakeEmbedder(), progress=False,
        )
        answer = answerer.answer("What is NATO?")
        print(json.dumps([after_import, extras(), answer.found, format_answer(answer)]))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300
    )
    after_import, after_ask, found, text = json.loads(out.stdout)
    assert after_import == [] and after_ask == []
    assert found and "North Atlantic Treaty Organization" in text


def test_version_is_the_package_version():
    import importlib.metadata
    import tomllib

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "qabot.version.__version__"
    }
    assert importlib.metadata.version("qabot") == qabot.__version__
    assert qabot.__version__.count(".") == 2
