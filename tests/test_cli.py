"""The CLI end to end, as a user runs it: real processes, the real model, the seed corpus."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qabot.models.verifier import bundled_verifier_path

from conftest import ANSWER_KEYS, SEED_CORPUS


def qabot(*args: str, stdin: str | None = None, env: dict | None = None, cwd: Path | None = None):
    return subprocess.run(
        [sys.executable, "-m", "qabot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=300,
    )


@pytest.fixture(scope="module")
def cli_index(tmp_path_factory, seed_index_dir) -> Path:
    """A copy of the session's seed index, so CLI runs need not rebuild it."""
    target = tmp_path_factory.mktemp("cli") / "index"
    shutil.copytree(seed_index_dir, target)
    return target


@pytest.mark.slow
def test_help_has_examples():
    for command in ("index", "ask", "serve", "feedback", "eval", "lint"):
        result = qabot(command, "--help")
        assert result.returncode == 0
        assert "Examples:" in result.stdout and f"qabot {command}" in result.stdout


def test_ask_prints_answer_with_source(cli_index):
    result = qabot(
        "ask", "What is NATO?", "--index-dir", str(cli_index), "--corpus", str(SEED_CORPUS)
    )
    assert result.returncode == 0, result.stderr
    assert "North Atlantic Treaty Organization" in result.stdout
    assert "2023-11-29" in result.stdout and "https://www.nato.int/" in result.stdout
    assert "Building" not in result.stderr  # the fresh index was loaded, not rebuilt


def test_ask_json_and_stdin_batch(cli_index):
    env = {"QABOT_INDEX_DIR": str(cli_index), "QABOT_CORPUS": str(SEED_CORPUS)}
    single = qabot("ask", "what is interoperability", "--json", env=env)
    record = json.loads(single.stdout)
    assert set(record) == ANSWER_KEYS
    assert record["kind"] == "faq" and record["faq_question"] == "What is interoperability?"
    lines = "What is NATO?\n\nWho won the 1998 FIFA World Cup?\nHow does NATO support Ukraine?\n"
    batch = qabot("ask", "-", env=env, stdin=lines)
    assert batch.returncode == 0, batch.stderr
    records = [json.loads(line) for line in batch.stdout.splitlines()]
    assert [r["found"] for r in records] == [True, False, False, True]
    assert "error" not in records[0] and "empty" in records[1]["error"]
    assert set(records[1]) == ANSWER_KEYS | {"error"}  # the same shape, and why
    assert (records[1]["question"], records[1]["answer"], records[1]["alternatives"]) == (
        "",
        None,
        [],
    )
    assert records[2]["suggestions"]


@pytest.mark.slow
def test_index_command_and_auto_rebuild_when_stale(tmp_path: Path):
    corpus = tmp_path / "corpus"
    shutil.copytree(SEED_CORPUS, corpus)
    (corpus / "bad.txt").write_bytes(b"\xff\xfe latin")
    built = qabot("index", str(corpus), "--index-dir", str(tmp_path / "idx"))
    assert built.returncode == 0, built.stderr
    assert "1 documents: 4 passages and 3 FAQ entries" in built.stdout
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text(encoding="utf-8"))
    shipped = json.loads((bundled_verifier_path() / "verifier_config.json").read_text("utf-8"))
    assert manifest["verifier"]["sha256"] == shipped["sha256"]  # what will read the answers
    assert "bad.txt" in built.stderr and "not UTF-8" in built.stderr
    (corpus / "extra.md").write_text(
        "# Extra\n\nThe Eiffel Tower is in Paris, France.", encoding="utf-8"
    )
    asked = qabot(
        "ask",
        "Where is the Eiffel Tower?",
        "--index-dir",
        str(tmp_path / "idx"),
        "--corpus",
        str(corpus),
    )
    assert asked.returncode == 0, asked.stderr
    assert "changed" in asked.stderr and "Paris" in asked.stdout


def test_the_verifier_reads_answers_unless_told_not_to(cli_index):
    where = ["--index-dir", str(cli_index), "--corpus", str(SEED_CORPUS), "--json"]
    question = "Where did the allies meet Ukraine's foreign minister Dmytro Kuleba?"
    verified = json.loads(qabot("ask", question, *where).stdout)
    plain = json.loads(qabot("ask", question, *where, "--no-verifier").stdout)
    assert verified["verifier"] is not None and 0.0 <= verified["verifier"] <= 1.0
    assert plain["verifier"] is None and plain["span"] is None
    assert verified["found"] and plain["found"]
    assert plain["answer"] == verified["answer"]  # the verifier never reorders
    if verified["span"]:  # the exact words: a piece of the quoted passage, at its offsets
        span = verified["span"]
        assert verified["answer"][span["start"] : span["end"]] == span["text"]
    # The environment turns it off too (a replica's settings, say).
    off = qabot("ask", question, *where, env={"QABOT_NO_VERIFIER": "1"})
    assert json.loads(off.stdout) == plain


def test_errors_are_clear_and_exit_2(tmp_path: Path, cli_index):
    empty = qabot("ask", "   ", "--index-dir", str(cli_index), "--corpus", str(SEED_CORPUS))
    assert empty.returncode == 2 and "qabot: error: The question is empty" in empty.stderr
    model = qabot(
        "index",
        str(SEED_CORPUS),
        "--index-dir",
        str(tmp_path / "x"),
        "--model",
        str(tmp_path / "no-model"),
    )
    assert model.returncode == 2 and "Could not load embedding model" in model.stderr
    assert "Traceback" not in model.stderr
    nothing = qabot("index", str(tmp_path / "missing"), "--index-dir", str(tmp_path / "y"))
    assert nothing.returncode == 2 and "does not exist" in nothing.stderr
    # The probe's `ask --index-dir /etc/passwd`: a file where the index folder should be.
    not_a_folder = tmp_path / "passwd"
    not_a_folder.write_text("root:x:0:0::/root:/bin/sh\n", encoding="utf-8")
    asked = qabot("ask", "What is NATO?", "--index-dir", str(not_a_folder), "--no-verifier")
    assert asked.returncode == 2 and asked.stderr.count("\n") == 1
    assert asked.stderr.startswith("qabot: error: Index folder") and "is a file" in asked.stderr


@pytest.mark.slow
def test_another_model_by_path_is_used_and_recorded(tmp_path: Path):
    from qabot.models.embedding import bundled_model_path

    model = tmp_path / "my-model"
    shutil.copytree(bundled_model_path(), model)  # any sentence-transformers folder will do
    index_dir = tmp_path / "idx"
    built = qabot("index", str(SEED_CORPUS), "--index-dir", str(index_dir), "--model", str(model))
    assert built.returncode == 0, built.stderr
    manifest = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["model"] == str(model) and manifest["dimension"] == 384
    asked = qabot("ask", "What is NATO?", "--index-dir", str(index_dir), "--json")
    assert asked.returncode == 0, asked.stderr
    assert "Building" not in asked.stderr  # the index's own model was used, no rebuild
    assert json.loads(asked.stdout)["source"]["passage_id"].endswith("#faq-0")


def test_ask_runs_on_the_core_dependencies_alone(cli_index):
    # -X importtime lists every module the process imports, on stderr.
    where = ["--index-dir", str(cli_index), "--corpus", str(SEED_CORPUS)]
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "qabot", "ask", "What is NATO?", *where],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0 and "North Atlantic Treaty Organization" in result.stdout
    imported = {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    # The index carries its ONNX model (the default backend): no torch either.
    assert {"qabot", "faiss", "onnxruntime"} <= imported
    extras = {"gradio", "fastapi", "uvicorn", "starlette", "matplotlib"}
    assert imported.isdisjoint(extras | {"torch", "sentence_transformers", "transformers"})


def test_help_shows_the_defaults_of_the_code(capsys):
    from qabot.answering.answerer import DEFAULT_ALTERNATIVES
    from qabot.answering.confidence import default_model
    from qabot.cli import main
    from qabot.documents.chunking import DEFAULT_MAX_CHARS
    from qabot.models.embedding import DEFAULT_MODEL

    helps = {}
    for command in ("ask", "index"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        helps[command] = " ".join(capsys.readouterr().out.split())
    verified, plain = default_model(verified=True), default_model()
    shown = f"threshold, {verified.threshold:.4g}; {plain.threshold:.4g} with --no-verifier,"
    assert shown in helps["ask"]
    assert f"(default {DEFAULT_ALTERNATIVES})" in helps["ask"]
    assert f"(default {DEFAULT_MAX_CHARS})" in helps["index"]
    assert f"the bundled {DEFAULT_MODEL})" in helps["index"]


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["serve", "--port", "99999"], "argument --port: '99999' must be at most 65535"),
        (["ask", "q", "--alternatives", "1000000000"], "must be at most 20"),
        (["serve", "--alternatives", "21"], "'21' must be at most 20"),
        (["index", "--max-chars", "0"], "'0' must be at least 1"),
    ],
)
def test_option_errors_are_one_line_with_status_2(argv, complaint, capsys):
    from qabot.answering.answerer import MAX_ALTERNATIVES
    from qabot.cli import main

    assert MAX_ALTERNATIVES == 20  # the API's cap, shared
    with pytest.raises(SystemExit) as exited:
        main(argv)
    err = capsys.readouterr().err
    assert exited.value.code == 2 and err.count("\n") == 1
    assert err.startswith(f"qabot: error: qabot {argv[0]}: ") and complaint in err


def test_ask_prints_names_from_the_corpus_escaped(tmp_path):
    from qabot.answering.answerer import Answerer
    from qabot.answering.retrieval import Retriever
    from qabot.cli import format_answer
    from qabot.index.build import build_index

    from fakes import FakeEmbedder, fused_only_confidence

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    name = "evil\x1b]0;pwned\x07\x1b[2J\nSource: forged.txt"
    (corpus / name).write_text(
        "Plums ripen in September.\x1b[31m Pick them when soft.", encoding="utf-8"
    )
    index = build_index(corpus, tmp_path / "index", FakeEmbedder(), cache_dir=None)
    answerer = Answerer(Retriever(index, FakeEmbedder()), confidence=fused_only_confidence())
    answer = answerer.answer("When do plums ripen in September?")
    assert answer.found and answer.source.title.startswith("evil\x1b")
    shown = format_answer(answer)
    assert "\x1b" not in shown and "\x07" not in shown
    assert [line for line in shown.splitlines() if line.startswith("Source:")] == [
        "Source: evil\\x1b]0;pwned\\x07\\x1b[2J\\nSource: forged (evil\\x1b]0;pwned\\x07"
        "\\x1b[2J\\nSource: forged.txt#0) — passage, score "
        f"{answer.score:.2f}"
    ]


@pytest.mark.slow
def test_index_redirected_to_a_file_writes_summary_lines_not_progress_frames(tmp_path: Path):
    many = tmp_path / "many"
    many.mkdir()
    for n in range(80):  # more texts than one embedding batch: a terminal would get a bar
        (many / f"note-{n:02d}.txt").write_text(f"Note {n} is about topic {n}.", encoding="utf-8")
    logs = {}
    for name, corpus in (("shipped", SEED_CORPUS), ("many", many)):
        log_file = tmp_path / f"{name}.log"
        with log_file.open("w", encoding="utf-8") as out:
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "qabot",
                    "index",
                    str(corpus),
                    "--index-dir",
                    str(tmp_path / name),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=300,
            )
        logs[name] = log_file.read_text(encoding="utf-8")
        assert done.returncode == 0, logs[name]
        assert "\r" not in logs[name] and "DEBUG" not in logs[name], logs[name]
    assert len(logs["shipped"].splitlines()) <= 20
    assert "Indexed 80 documents" in logs["many"]
