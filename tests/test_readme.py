"""The library snippets a reader copies first actually run: the README's and the package's."""

import contextlib
import io
import re
import shutil
import textwrap

import pytest

import qabot

from conftest import ROOT, SEED_CORPUS

README_HEADING = "### As a library"


def _python_block(markdown: str, heading: str) -> str:
    """The first ```python block after ``heading``."""
    section = markdown.split(f"\n{heading}\n", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, f"no python block under {heading!r}"
    return match.group(1)


@pytest.fixture
def in_a_project(tmp_path, monkeypatch, embedder):
    """A folder holding ``corpus/`` as the snippets expect, with the session's model."""
    shutil.copytree(SEED_CORPUS, tmp_path / "corpus")
    monkeypatch.chdir(tmp_path)
    # The snippets make the bundled model themselves; the session's copy saves a reload.
    monkeypatch.setattr(qabot, "SentenceTransformerEmbedder", lambda *args, **kwargs: embedder)
    return tmp_path


def test_readme_library_snippet_runs(in_a_project):
    code = _python_block((ROOT / "README.md").read_text(encoding="utf-8"), README_HEADING)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md", "exec"), {})
    assert "North Atlantic Treaty Organization" in printed.getvalue()
    assert "2023-11-29" in printed.getvalue()
    assert (in_a_project / "index" / "manifest.json").is_file()


def test_package_docstring_four_verbs_run(in_a_project, embedder):
    example = qabot.__doc__.split("::", 1)[1]
    namespace = {name: getattr(qabot, name) for name in qabot.__all__}
    scope = {**namespace, "embedder": embedder}
    exec(compile(textwrap.dedent(example), "qabot/__init__.py", "exec"), scope)
    assert len(scope["corpus"].documents) == 1
    assert scope["index"].manifest.faq_entries == 3
    answer = scope["answer"]
    assert answer.found and answer.kind == "faq" and answer.faq_question == "What is NATO?"
