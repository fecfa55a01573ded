"""``qabot serve`` and ``qabot feedback`` as commands: the optional web extra, help defaults.

Without the ``web`` extra, ``qabot serve`` says what to install, in one line.
"""

import argparse
import subprocess
import sys

import pytest

from qabot.cli import build_parser
from qabot.cli.chat import WEB_EXTRA_MODULES, require_extra
from qabot.errors import QabotError

# Runs the CLI with `import gradio` failing, as in an install without the web extra.
WITHOUT_GRADIO = (
    "import sys; sys.modules['gradio'] = None; "
    "from qabot.cli import main; sys.exit(main(sys.argv[1:]))"
)


def test_require_extra_names_the_missing_module_and_the_install_line():
    imported = []

    def importer(name: str) -> object:
        imported.append(name)
        if name == "fastapi":
            raise ModuleNotFoundError(f"No module named {name!r}")
        return object()

    with pytest.raises(QabotError) as caught:
        require_extra("web", WEB_EXTRA_MODULES, command="serve", importer=importer)
    assert str(caught.value) == (
        "qabot serve needs the web extra (fastapi is missing): pip install 'qabot[web]'"
    )
    assert imported == ["gradio", "fastapi"]


def test_require_extra_passes_when_everything_imports():
    imported = []
    require_extra("web", WEB_EXTRA_MODULES, command="serve", importer=imported.append)
    assert imported == ["gradio", "fastapi", "uvicorn"]


@pytest.mark.slow
def test_serve_without_the_web_extra_fails_in_one_line(tmp_path):
    index_dir = tmp_path / "index"
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_GRADIO, "serve", "--index-dir", str(index_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "qabot: error: qabot serve needs the web extra (gradio is missing): "
        "pip install 'qabot[web]'"
    ]
    assert result.stdout == ""
    assert not index_dir.exists()  # failed before building or loading anything


@pytest.mark.slow
def test_importing_the_web_package_loads_nothing_heavy():
    code = (
        "import sys, qabot.web, qabot.web.chat, qabot.web.feedback, qabot.web.batching; "
        "print(sorted(m for m in ('gradio', 'fastapi', 'uvicorn', 'starlette', 'torch') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _help(command: str) -> str:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    return " ".join(subparsers.choices[command].format_help().split())


def test_help_shows_the_defaults_in_use():
    serve = _help("serve")
    for text in (
        "address to bind (default 127.0.0.1)",
        "port (default 7860)",
        "(default: INDEX_DIR/feedback.sqlite3)",
        "the chat page's title (default qabot)",
        "next-best matches shown beside each answer (default 2)",
        "'debug' adds tracebacks to error lines (default warning)",
        "--chat-queue-size N chat questions waiting or answered at once, in all",
        "--chat-client-limit N chat questions waiting or answered at once for one client",
        "--body-timeout SECONDS time to send a request body (default 10)",
        "--header-timeout SECONDS time to send a request's headers (default 10)",
        "--keep-alive-timeout SECONDS how long an idle connection stays open (default 5)",
        "(repeatable; default: any site)",
        "or '*' for any (repeatable; default: none)",
        "--workers N worker processes on the port; above 1 they serve the API only (default 1)",
    ):
        assert text in serve
    feedback = _help("feedback")
    assert (
        "index folder holding feedback.sqlite3 (default: $QABOT_INDEX_DIR or ./index)" in feedback
    )
    assert "--top-k TOP_K how many of each to list and export (default 10)" in feedback


def test_timeouts_are_positive_numbers_of_seconds():
    from qabot.cli.chat import positive_float

    assert positive_float("2.5") == 2.5
    for bad in ("0", "-1", "soon", "inf", "nan"):
        with pytest.raises(argparse.ArgumentTypeError):
            positive_float(bad)


def test_workers_is_a_positive_whole_number():
    from qabot.cli.chat import positive_int

    parser = build_parser()
    assert parser.parse_args(["serve", "--workers", "2"]).workers == 2
    assert parser.parse_args(["serve"]).workers == 1
    for bad in ("0", "-2", "two", "1.5"):
        with pytest.raises(argparse.ArgumentTypeError):
            positive_int(bad)
