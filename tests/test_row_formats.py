import gzip
from pathlib import Path

import pytest

from qabot.documents.row_formats import (
    Row,
    RowError,
    RowFileError,
    csv_header,
    decode,
    parse_rows,
    read_text,
    row_format,
)


def test_jsonl_rows_keep_value_types_and_report_bad_lines():
    text = '{"id": 1, "questions": ["a?", "b?"]}\n\n{not json\n[1, 2]\n{"q": "x"}\n'
    assert list(parse_rows(text, "jsonl")) == [
        Row(1, {"id": 1, "questions": ["a?", "b?"]}),
        RowError(3, "malformed JSON (Expecting property name enclosed in double quotes)"),
        RowError(4, "a row must be a JSON object, not [1, 2]"),
        Row(5, {"q": "x"}),
    ]


def test_csv_names_are_normalised_and_quoted_newlines_counted():
    text = ' ID ,Question\nr1,"two\nlines"\nr2,"a|b"\n'
    assert list(parse_rows(text, "csv")) == [
        Row(3, {"id": "r1", "question": "two\nlines"}),  # the line where the row ends
        Row(4, {"id": "r2", "question": "a|b"}),  # a list cell stays text for its reader
    ]
    assert csv_header(text) == ["id", "question"]
    assert list(parse_rows("a\tb\n1\t2\n", "tsv")) == [Row(2, {"a": "1", "b": "2"})]


def test_ragged_csv_rows_are_errors_unless_accepted():
    text = "a,b\n1\n1,2,3\n"
    assert list(parse_rows(text, "csv")) == [
        RowError(2, "malformed row: expected 2 fields"),
        RowError(3, "malformed row: expected 2 fields"),
    ]
    assert list(parse_rows(text, "csv", ragged_ok=True)) == [
        Row(2, {"a": "1"}),
        Row(3, {"a": "1", "b": "2"}),
    ]


def test_an_unreadable_csv_row_ends_the_rows():
    # An unclosed quote swallows the rest of the file into one field, over csv's size limit.
    text = 'a,b\n1,2\n"' + "x" * 200_000 + "\n4,5\n"
    rows = list(parse_rows(text, "csv"))
    assert rows[0] == Row(2, {"a": "1", "b": "2"})
    assert len(rows) == 2 and isinstance(rows[1], RowError)
    assert rows[1].message.startswith("malformed CSV (field larger than field limit")


def test_row_format_from_the_name():
    assert [row_format(n) for n in ("q.CSV", "q.tsv", "q.jsonl", "q.jsonl.gz", "q.txt")] == [
        "csv",
        "tsv",
        "jsonl",
        "jsonl",
        "jsonl",
    ]


def test_decode_and_read_text(tmp_path: Path):
    assert decode("\ufeffcafé".encode()) == "café"
    assert decode(gzip.compress(b"zipped"), gzipped=True) == "zipped"
    for raw, gzipped, message in [
        (b"plain", True, "not a readable gzip file"),
        (b"\x00\x01", False, "binary file"),
        ("caf\xe9".encode("latin-1"), False, r"not UTF-8 \(invalid byte 0xe9 at offset 3\)"),
    ]:
        with pytest.raises(RowFileError, match=message):
            decode(raw, gzipped=gzipped)
    (tmp_path / "q.jsonl.gz").write_bytes(gzip.compress(b'{"a": 1}\n'))
    assert read_text(tmp_path / "q.jsonl.gz") == '{"a": 1}\n'
    with pytest.raises(RowFileError, match="no such file"):
        read_text(tmp_path / "missing.jsonl")
    with pytest.raises(RowFileError, match="cannot be read"):
        read_text(tmp_path)  # a folder
