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


def test_a_zip_bomb_is_refused_after_reading_only_the_bound():
    from qabot.documents.row_formats import EXPANSION_FLOOR

    bomb = gzip.compress(b'{"text": "a"}\n' * (2 * EXPANSION_FLOOR // 14), compresslevel=9)
    with pytest.raises(RowFileError, match="likely zip bomb"):
        decode(bomb, gzipped=True)
    # An ordinary file under the floor expands whatever its ratio.
    assert decode(gzip.compress(b'{"text": "a"}\n' * 1000), gzipped=True).count("\n") == 1000


def test_rows_nested_too_deep_are_reported_not_raised():
    from qabot.documents.row_formats import MAX_NESTING

    deep = '{"text": ' + "[" * 100_000 + "]" * 100_000 + "}"
    just = '{"text": "t", "x": ' + "[" * (MAX_NESTING - 1) + "]" * (MAX_NESTING - 1) + "}"
    over = '{"text": "t", "x": ' + "[" * MAX_NESTING + "]" * MAX_NESTING + "}"
    rows = list(parse_rows("\n".join([deep, just, over]), "jsonl"))
    too_deep = f"JSON nested more than {MAX_NESTING} levels deep"
    assert rows[0] == RowError(1, too_deep) and rows[2] == RowError(3, too_deep)
    assert isinstance(rows[1], Row)


def test_a_lone_surrogate_is_no_text_but_a_pair_is():
    text = '{"text": "lone \\ud800 here"}\n{"text": "\\ud83d\\ude00"}\n{"\\udfff": "key"}\n'
    rows = list(parse_rows(text, "jsonl"))
    assert rows[0] == RowError(1, "JSON string holds an unpaired surrogate (\\ud800), not text")
    assert rows[1] == Row(2, {"text": "😀"})
    assert isinstance(rows[2], RowError) and "\\udfff" in rows[2].message


def test_a_line_over_the_bound_is_reported_and_the_next_read():
    from qabot.documents.row_formats import MAX_LINE_CHARS

    text = '{"text": "' + "a" * MAX_LINE_CHARS + '"}\n{"text": "b"}\n'
    rows = list(parse_rows(text, "jsonl"))
    assert rows == [
        RowError(1, f"line longer than {MAX_LINE_CHARS:,} characters"),
        Row(2, {"text": "b"}),
    ]
