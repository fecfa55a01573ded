"""The README and docs/ stay true: their links resolve, their commands parse, their snippets run.

- Every relative link in README.md and docs/*.md names a file that exists, and every #anchor a heading.
- Every repository path (``bench/…``, ``src/…``, ``tests/…``) and ``qabot.…`` name they mention exists.
- Every ``qabot …`` line in their ```sh/```bash blocks parses with the real `build_parser`, every
  ``make …`` names a Makefile target, and bench scripts are run as modules (``python -m bench.x``).
- The README stays a front page (at most 12 KB) that links every docs/ page.
- The README's answer example has exactly the keys of `Answer.to_dict`, and is what qabot answers.
- The first python block under ``## As a library`` runs, as does the package docstring's example.

Each checker is a plain function returning what is wrong, and is itself shown a broken input.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import re
import shlex
import shutil
import textwrap
from pathlib import Path

import pytest

import qabot
from qabot.cli import build_parser

from conftest import ANSWER_KEYS, ROOT, SEED_CORPUS

README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]
README_HEADING = "## As a library"
README_MAX_BYTES = 12 * 1024  # a front page; the rest belongs in docs/

_FENCE = re.compile(r"^\s*```")
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_CODE_SPAN = re.compile(r"`[^`\n]+`")
_REPO_PATH = re.compile(r"(?<![\w/.$~-])(?:src|bench|eval|tests|examples|notebooks)/[\w./-]*[\w/]")
_SCRIPT_MODULE = re.compile(r"-m\s+((?:bench|eval)(?:\.\w+)+)")
_QABOT_NAME = re.compile(r"(?<![\w/.-])qabot(?:\.[A-Za-z_]\w*)+")


def _python_block(markdown: str, heading: str) -> str:
    """The first ```python block after ``heading``."""
    section = markdown.split(f"\n{heading}\n", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, f"no python block under {heading!r}"
    return match.group(1)


def split_fences(markdown: str) -> tuple[str, list[tuple[str, str]]]:
    """(the prose with fenced blocks blanked out, [(language, body) of each fenced block])."""
    prose: list[str] = []
    blocks: list[tuple[str, str]] = []
    language, body = None, []
    for line in markdown.splitlines():
        if _FENCE.match(line):
            if language is None:
                language, body = line.strip().strip("`").strip(), []
            else:
                blocks.append((language, textwrap.dedent("\n".join(body))))
                language = None
            prose.append("")
        elif language is None:
            prose.append(line)
        else:
            body.append(line)
            prose.append("")
    return "\n".join(prose), blocks


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """Every heading's anchor (repeats numbered as GitHub numbers them)."""
    prose, _ = split_fences(markdown)
    found: set[str] = set()
    for match in re.finditer(r"^#{1,6}\s+(.+?)\s*#*$", prose, re.MULTILINE):
        name, n = slug(match.group(1)), 0
        while (candidate := name if n == 0 else f"{name}-{n}") in found:
            n += 1
        found.add(candidate)
    return found


def broken_links(markdown: str, page: Path) -> list[str]:
    """The relative links of ``markdown`` (read from ``page``) whose file or heading is missing."""
    prose, _ = split_fences(markdown)
    broken = []
    for target in _LINK.findall(_CODE_SPAN.sub("", prose)):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto: — not ours to check
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve()
        if path and not file.exists():
            broken.append(f"{page.name}: {target} (no such file)")
        elif anchor and (not path or file.suffix == ".md"):
            headings = anchors(file.read_text(encoding="utf-8") if path else markdown)
            if anchor not in headings:
                broken.append(f"{page.name}: {target} (no such heading)")
    return broken


def missing_paths(markdown: str) -> list[str]:
    """Repository paths (``bench/x.py``), ``-m bench.x`` modules and ``qabot.x.y`` names that do not exist."""
    missing = [p for p in _REPO_PATH.findall(markdown) if not (ROOT / p.rstrip(".")).exists()]
    for module in _SCRIPT_MODULE.findall(markdown):
        if not (ROOT / module.replace(".", "/")).with_suffix(".py").is_file():
            missing.append(module)
    for name in sorted(set(_QABOT_NAME.findall(markdown))):
        if not _resolves(name):
            missing.append(name)
    return missing


def _resolves(dotted: str) -> bool:
    """``qabot.a.b`` is a module, or an attribute of the longest module prefix."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(target, attribute):
                return False
            target = getattr(target, attribute)
        return True
    return False


def shell_lines(markdown: str) -> list[str]:
    """Each command line of the ```sh/```bash blocks, continuation lines joined."""
    _, blocks = split_fences(markdown)
    lines = []
    for language, body in blocks:
        if language in ("sh", "bash", "shell", "console"):
            lines += [
                line.strip() for line in body.replace("\\\n", " ").splitlines() if line.strip()
            ]
    return lines


def make_targets(makefile: Path = ROOT / "Makefile") -> set[str]:
    text = makefile.read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, re.MULTILINE))


def bad_commands(lines: list[str], targets: set[str]) -> list[str]:
    """``qabot …`` lines argparse refuses, ``make …`` targets the Makefile lacks, package scripts run by path."""
    bad = []
    for line in lines:
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split, lexer.commenters = True, "#"
        for words in _commands(list(lexer)):
            program, args = Path(words[0]).name, words[1:]
            if program == "make":
                bad += [f"{line}: no make target {t!r}" for t in args if t not in targets]
            elif program == "qabot":
                error = _argparse_error(args)
                if error:
                    bad.append(f"{line}: {error}")
            elif program.startswith("python") and _in_a_package(args):
                bad.append(f"{line}: run {args[0]} as a module (python -m)")
    return bad


def _in_a_package(args: list[str]) -> bool:
    """``python path/x.py`` where x is a module of a package (bench/ is one): it needs ``-m``."""
    return (
        bool(args)
        and args[0].endswith(".py")
        and (ROOT / args[0]).parent.joinpath("__init__.py").is_file()
    )


def _commands(tokens: list[str]) -> list[list[str]]:
    """The simple commands of a tokenised line (split at | ; && > …), env assignments dropped."""
    commands, current = [], []
    for token in [*tokens, ";"]:
        if token and set(token) <= set("|&;<>()"):
            while current and re.match(r"^[A-Za-z_]\w*=", current[0]):
                current.pop(0)
            if current:
                commands.append(current)
            current = []
        else:
            current.append(token)
    return commands


def _argparse_error(args: list[str]) -> str | None:
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            build_parser().parse_args(args)
    except SystemExit as exit_:
        if exit_.code:
            return stderr.getvalue().strip().splitlines()[-1]
    return None


# The pages


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(page: Path):
    assert broken_links(page.read_text(encoding="utf-8"), page) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_path_and_module_mentioned_exists(page: Path):
    assert missing_paths(page.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_qabot_and_make_command_is_real(page: Path):
    lines = shell_lines(page.read_text(encoding="utf-8"))
    assert bad_commands(lines, make_targets()) == []


def test_the_readme_runs_the_two_commands_and_asks():
    lines = shell_lines(README.read_text(encoding="utf-8"))
    assert [line.split()[:2] for line in lines[:2]] == [["make", "serve"], ["make", "test"]]
    assert sum(" ask " in f" {line} " for line in lines) >= 3


def test_the_readme_is_a_front_page_that_links_every_docs_page():
    text = README.read_text(encoding="utf-8")
    assert len(text.encode("utf-8")) <= README_MAX_BYTES
    assert DOCS, "docs/ has no pages"
    assert [p.name for p in DOCS if f"(docs/{p.name}" not in text] == []


def test_the_readme_answer_example_has_the_records_keys():
    _, blocks = split_fences(README.read_text(encoding="utf-8"))
    example = json.loads(next(body for language, body in blocks if language == "json"))
    assert set(example) == ANSWER_KEYS
    assert example["found"] and example["source"]["passage_id"].startswith(
        example["source"]["doc_id"]
    )


def test_the_metrics_table_names_every_metric():
    from qabot.evaluation.run import METRIC_KEYS

    text = (ROOT / "docs" / "evaluation.md").read_text(encoding="utf-8")
    assert [key for key in METRIC_KEYS if f"`{key}`" not in text] == []


# The checkers can fail


def test_a_broken_link_or_anchor_is_reported():
    page = ROOT / "docs" / "x.md"
    text = "[a](nope.md) [b](../README.md#no-such-heading) [c](#here) [d](https://example.org)\n# Here\n"
    assert broken_links(text, page) == [
        "x.md: nope.md (no such file)",
        "x.md: ../README.md#no-such-heading (no such heading)",
    ]
    assert broken_links("```\n[a](nope.md)\n```\n`[b](nope.md)`", page) == []
    assert (
        slug("Models and backends: torch, `onnx`, onnx-int8")
        == "models-and-backends-torch-onnx-onnx-int8"
    )
    assert anchors("# A\n## A\n```\n# not a heading\n```\n") == {"a", "a-1"}


def test_a_missing_path_or_module_is_reported():
    text = (
        "`bench/no_such.py`, src/qabot/lexical.py, `python -m bench.no_such`,"
        " `qabot.index.lexical`, `qabot.index.keyword.Nope`"
    )
    assert missing_paths(text) == [
        "bench/no_such.py",
        "src/qabot/lexical.py",
        "bench.no_such",
        "qabot.index.keyword.Nope",
        "qabot.index.lexical",
    ]
    assert (
        missing_paths("`qabot.index.keyword.KeywordIndex`, tests/test_layers.py, /x/bench/y") == []
    )


def test_a_bad_command_is_reported():
    lines = shell_lines(
        "```sh\n"
        "make serve   # fine\n"
        "make deploy\n"
        ".venv/bin/qabot ask 'What?' --json\n"
        "printf 'x\\n' | .venv/bin/qabot ask - --no-such-flag\n"
        "QABOT_MODEL=m qabot serve --port 80 \\\n    --host 0.0.0.0\n"
        "qabot nosuch\n"
        ".venv/bin/python src/qabot/cli/core.py\n"
        ".venv/bin/python -m qabot.cli ask x\n"
        "```\n"
    )
    bad = bad_commands(lines, make_targets())
    assert [line.split(":")[0] for line in bad] == [
        "make deploy",
        "printf 'x\\n' | .venv/bin/qabot ask - --no-such-flag",
        "qabot nosuch",
        ".venv/bin/python src/qabot/cli/core.py",
    ]


# The snippets run


@pytest.fixture
def in_a_project(tmp_path, monkeypatch, embedder):
    """A folder holding ``corpus/`` as the snippets expect, with the session's model."""
    shutil.copytree(SEED_CORPUS, tmp_path / "corpus")
    monkeypatch.chdir(tmp_path)
    # The snippets make the bundled model themselves; the session's copy saves a reload.
    monkeypatch.setattr(qabot, "SentenceTransformerEmbedder", lambda *args, **kwargs: embedder)
    return tmp_path


@pytest.mark.slow
def test_readme_library_snippet_runs(in_a_project):
    code = _python_block(README.read_text(encoding="utf-8"), README_HEADING)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md", "exec"), {})
    assert "North Atlantic Treaty Organization" in printed.getvalue()
    assert "2023-11-29" in printed.getvalue()
    assert (in_a_project / "index" / "manifest.json").is_file()


@pytest.mark.slow
def test_the_readme_answer_example_is_what_qabot_answers(seed_answerer):
    _, blocks = split_fences(README.read_text(encoding="utf-8"))
    example = json.loads(next(body for language, body in blocks if language == "json"))
    real = seed_answerer.answer(example["question"], len(example["alternatives"])).to_dict()
    # Scores may differ in the last digits between backends (the session's model runs on torch).
    assert real["score"] == pytest.approx(example.pop("score"), abs=0.005)
    assert real.pop("verifier") == pytest.approx(example.pop("verifier"), abs=0.005)
    if example["span"] is not None:  # the words and offsets exactly; the logits nearly
        assert real["span"].pop("score") == pytest.approx(example["span"].pop("score"), abs=0.05)
    for alternative, shown in zip(
        real.pop("alternatives"), example.pop("alternatives"), strict=True
    ):
        assert alternative.pop("score") == pytest.approx(shown.pop("score"), abs=0.005)
        assert alternative == shown
    del real["score"]
    assert real == example


@pytest.mark.slow
def test_package_docstring_four_verbs_run(in_a_project, embedder):
    example = qabot.__doc__.split("::", 1)[1]
    namespace = {name: getattr(qabot, name) for name in qabot.__all__}
    scope = {**namespace, "embedder": embedder}
    exec(compile(textwrap.dedent(example), "qabot/__init__.py", "exec"), scope)
    assert len(scope["corpus"].documents) == 1
    assert scope["index"].manifest.faq_entries == 3
    answer = scope["answer"]
    assert answer.found and answer.kind == "faq" and answer.faq_question == "What is NATO?"
