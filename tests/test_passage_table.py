"""The passages of a loaded index, read from disk by number (`qabot.index.passage_table`)."""

from __future__ import annotations

import gc
import json
import os
from dataclasses import asdict
from pathlib import Path

import pytest

from qabot.documents.chunking import Passage
from qabot.documents.structure import Link
from qabot.errors import IndexCorruptError
from qabot.index.passage_table import PassageTable

PASSAGES = (
    Passage("a#0", "a", "passage", "First text. Ünïcode too.", "A", "a.md", section="Intro"),
    Passage(
        "a#faq-0",
        "a",
        "faq",
        "An answer.",
        "A",
        "a.md",
        date="2024-07-11",
        sources=(Link("Source", "https://example.org/x"),),
        question="A question?",
        alternates=("Another phrasing?",),
    ),
    Passage("b#0", "b", "passage", "Second document.", "B", "b.md"),
)
IDS = tuple(p.passage_id for p in PASSAGES)


def _write(path: Path, passages=PASSAGES, *, blank_lines: bool = False) -> Path:
    lines = [json.dumps(asdict(p), ensure_ascii=False) for p in passages]
    if blank_lines:
        lines = ["", lines[0], "   ", *lines[1:], ""]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_reads_each_passage_by_number_as_it_was_written(tmp_path: Path):
    table = PassageTable(_write(tmp_path / "p.jsonl", blank_lines=True), IDS)
    assert len(table) == 3
    assert table[1] == PASSAGES[1] and table[1].sources[0].url == "https://example.org/x"
    assert table[-1] == PASSAGES[2] and table[0].text == "First text. Ünïcode too."
    assert table[0:2] == list(PASSAGES[:2])
    assert tuple(table) == PASSAGES  # one pass over the file, in number order
    assert table[1] is table[1]  # parsed once, then kept
    with pytest.raises(IndexError):
        table[3]


def test_a_table_outlives_its_file_being_replaced(tmp_path: Path):
    path = _write(tmp_path / "p.jsonl")
    table = PassageTable(path, IDS)
    path.unlink()  # a newer build retired this data folder
    assert table[2] == PASSAGES[2]
    assert tuple(table) == PASSAGES  # iteration reads through the same open descriptor


def test_a_dropped_table_closes_its_file_at_once(tmp_path: Path):
    """No reference cycle: a replica that drops a retired index frees its file without waiting
    for the cycle collector."""
    gc.disable()
    try:
        table = PassageTable(_write(tmp_path / "passages.jsonl"), IDS)
        assert table[1].question == "A question?"
        fd = table._fd
        assert os.fstat(fd)
        del table
        with pytest.raises(OSError):
            os.fstat(fd)
    finally:
        gc.enable()


def test_files_that_disagree_with_the_ids_are_corrupt(tmp_path: Path):
    path = _write(tmp_path / "p.jsonl")
    with pytest.raises(IndexCorruptError, match="3 passages for 2 ids"):
        PassageTable(path, IDS[:2])
    swapped = PassageTable(path, (IDS[1], IDS[0], IDS[2]))
    with pytest.raises(
        IndexCorruptError, match=r"Passage 0 .* is 'a#0', the vectors say 'a#faq-0'"
    ):
        swapped[0]
    assert swapped[2] == PASSAGES[2]
    garbled = tmp_path / "garbled.jsonl"
    garbled.write_text(path.read_text(encoding="utf-8").replace('"b#0"', '"b#0'), encoding="utf-8")
    with pytest.raises(IndexCorruptError, match=r"Passage 2 .* is unreadable"):
        PassageTable(garbled, IDS)[2]


def test_a_loaded_index_keeps_its_passages_on_disk(tmp_path: Path, fake_embedder):
    from qabot.index.build import build_index, load_index

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("# Apples\n\nApples grow on trees.\n", encoding="utf-8")
    row = {"id": "f1", "question": "Are apples red?", "answer": "Often they are."}
    (corpus / "faq.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    built = build_index(corpus, tmp_path / "idx", fake_embedder, cache_dir=None)
    loaded = load_index(tmp_path / "idx")
    assert isinstance(loaded.passages, PassageTable)
    assert tuple(loaded.passages) == tuple(built.passages)
    faq = next(p for p in built.passages if p.kind == "faq")
    assert loaded.passage(faq.passage_id) == faq
    with pytest.raises(KeyError):
        loaded.passage("nowhere#0")
