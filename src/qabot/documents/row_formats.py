"""Structured rows: JSONL (optionally gzip-compressed), CSV and TSV files in, plain dicts out.

The one reader behind the corpus's structured documents and the evaluation's question sets.
It decides only what a row *is*; what its fields mean is the caller's business. Values keep
their type: a JSONL field holding a list stays a list, a CSV cell stays text. So a list-valued
field (say, alternate phrasings of an FAQ question) can be a JSON list in JSONL and a
``|``-separated cell in CSV, and the caller that wants it splits the cell.

Problems with a single row come back as `RowError` items among the rows, so that each caller
chooses to skip the row (a corpus) or to stop (a question set). A file that cannot be read at
all raises `RowFileError`. Neither message names the file: the caller prefixes its path.

Every file is read as hostile: a gzip file may expand to at most `MAX_EXPANSION` times its size
(and always to `EXPANSION_FLOOR` bytes), a JSONL line may hold `MAX_LINE_CHARS` characters and
nest `MAX_NESTING` levels deep, and a JSON string may not hold an unpaired surrogate (``"\\ud800"``
is valid JSON but no text: it cannot be written as UTF-8).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

RowFormat = Literal["jsonl", "csv", "tsv"]
_DELIMITERS = {"csv": ",", "tsv": "\t"}

# Text compresses 3-10 times; a file expanding 100 times more is a zip bomb, not a corpus.
MAX_EXPANSION = 100
EXPANSION_FLOOR = 16 * 1024 * 1024  # bytes a gzip file may always expand to, whatever its ratio
MAX_LINE_CHARS = 4 * 1024 * 1024
MAX_NESTING = 100  # JSON arrays and objects inside each other; rows use two or three
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


@dataclass(frozen=True)
class Row:
    """One row: its line number (1-based, as an editor shows it) and its fields.

    CSV/TSV field names are stripped and lower-cased; JSONL names are kept as written.
    """

    line: int
    fields: dict[str, object]


@dataclass(frozen=True)
class RowError:
    """A line that is not a usable row, and why (e.g. ``malformed JSON (Expecting value)``)."""

    line: int
    message: str


class RowFileError(Exception):
    """The file cannot be read as text at all; the message says why."""


class JsonValueError(ValueError):
    """A JSON text that is no usable value (malformed, too deep, or holding a lone surrogate)."""


def parse_json(text: str) -> object:
    """A JSON value, checked to nest at most `MAX_NESTING` deep and to hold only true text.

    Raises:
        JsonValueError: the message says what is wrong (without the text).
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JsonValueError(f"malformed JSON ({exc.msg})") from None
    except RecursionError:
        raise JsonValueError(f"JSON nested more than {MAX_NESTING} levels deep") from None
    # Both walks are needed only when the text could hold what they look for.
    if text.count("[") + text.count("{") > MAX_NESTING or _SURROGATE_ESCAPE.search(text):
        _check_value(value)
    return value


def _check_value(value: object) -> None:
    """Walk a parsed value without recursion: too deep, or a string that is not text, raises."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                bad = item[exc.start]
                raise JsonValueError(
                    f"JSON string holds an unpaired surrogate (\\u{ord(bad):04x}), not text"
                ) from None
        elif isinstance(item, dict | list):
            if depth > MAX_NESTING:
                raise JsonValueError(f"JSON nested more than {MAX_NESTING} levels deep")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)


def row_format(path: Path | str) -> RowFormat:
    """The row format a file name announces: ``.csv``, ``.tsv``, else JSONL (``.jsonl``, ``.gz``)."""
    name = Path(path).name.lower()
    if name.endswith(".csv"):
        return "csv"
    return "tsv" if name.endswith(".tsv") else "jsonl"


def decode(raw: bytes, *, gzipped: bool = False) -> str:
    """The UTF-8 text of a file's bytes (a BOM is dropped), gunzipped first when ``gzipped``.

    Raises:
        RowFileError: not gzip data, expanding more than `MAX_EXPANSION` times, binary (NUL
            bytes), or not UTF-8; the message says which.
    """
    if gzipped:
        raw = _gunzip(raw)
    if b"\x00" in raw[:8192]:
        raise RowFileError("binary file (contains NUL bytes), not text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RowFileError(
            f"not UTF-8 (invalid byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "save it as UTF-8"
        ) from exc


def _gunzip(raw: bytes) -> bytes:
    """The expanded bytes, read no further than the bound: a zip bomb costs only the bound."""
    limit = max(EXPANSION_FLOOR, MAX_EXPANSION * len(raw))
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as stream:
            expanded = stream.read(limit + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise RowFileError(f"not a readable gzip file ({exc})") from exc
    if len(expanded) > limit:
        raise RowFileError(
            f"expands to over {limit:,} bytes (the bound: {MAX_EXPANSION} times its "
            f"{len(raw):,} bytes, at least {EXPANSION_FLOOR:,}): refused as a likely zip bomb"
        )
    return expanded


def read_text(path: Path | str) -> str:
    """The text of a UTF-8 file, gunzipped when its name ends in ``.gz``.

    Raises:
        RowFileError: the file is missing or cannot be read or decoded.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise RowFileError("no such file") from None
    except OSError as exc:
        raise RowFileError(f"cannot be read ({exc.strerror or exc})") from exc
    return decode(raw, gzipped=path.name.lower().endswith(".gz"))


def csv_header(text: str, fmt: RowFormat = "csv") -> list[str]:
    """The field names of a CSV/TSV text, stripped and lower-cased (empty when there is none)."""
    reader = csv.reader(io.StringIO(text), delimiter=_DELIMITERS[fmt])
    try:
        return [name.strip().lower() for name in next(reader, [])]
    except csv.Error:
        return []


def parse_rows(text: str, fmt: RowFormat, *, ragged_ok: bool = False) -> Iterator[Row | RowError]:
    """Every row of ``text``, in order; blank JSONL lines are skipped.

    Args:
        text: the file's text (see `read_text`).
        fmt: ``"jsonl"``, ``"csv"`` or ``"tsv"`` (see `row_format`).
        ragged_ok: accept CSV rows with too few cells (the missing fields are absent) or too
            many (the extra cells are dropped) instead of reporting them.
    """
    if fmt == "jsonl":
        return _jsonl_rows(text)
    return _delimited_rows(text, _DELIMITERS[fmt], ragged_ok)


def _jsonl_rows(text: str) -> Iterator[Row | RowError]:
    for number, line in enumerate(text.splitlines(), start=1):
        if len(line) > MAX_LINE_CHARS:
            yield RowError(number, f"line longer than {MAX_LINE_CHARS:,} characters")
            continue
        if not line.strip():
            continue
        try:
            value = parse_json(line)
        except JsonValueError as exc:
            yield RowError(number, str(exc))
            continue
        if isinstance(value, dict):
            yield Row(number, value)
        else:
            yield RowError(number, f"a row must be a JSON object, not {value!r:.40}")


def _delimited_rows(text: str, delimiter: str, ragged_ok: bool) -> Iterator[Row | RowError]:
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    try:
        for row in reader:
            # DictReader files extra cells under None and fills missing ones with None.
            if not ragged_ok and (None in row or None in row.values()):
                width = len(reader.fieldnames or ())
                yield RowError(reader.line_num, f"malformed row: expected {width} fields")
                continue
            fields = {k.strip().lower(): v for k, v in row.items() if k and v is not None}
            yield Row(reader.line_num, fields)
    except csv.Error as exc:
        # The csv module cannot resynchronise after a broken quote: the rest is not read.
        yield RowError(reader.line_num, f"malformed CSV ({exc})")
