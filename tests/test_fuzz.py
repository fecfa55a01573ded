"""Property tests with hypothesis: the text parsers and the question cleaner on random input.

Bounded example counts keep the whole module to a few seconds. Whatever the input, each
function either returns its plain record or raises its own documented `QabotError`.
"""

import gzip
import json
import tempfile
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from strategies import any_text

from bench.hostile_files import HOSTILE_FILES
from qabot.answering.questions import MAX_QUESTION_CHARS, clean_question
from qabot.documents.chunking import split_paragraph
from qabot.documents.corpus import SUPPORTED_SUFFIXES, load_corpus
from qabot.documents.files import printable
from qabot.documents.row_formats import MAX_NESTING, JsonValueError, parse_json
from qabot.documents.structure import parse_structure
from qabot.errors import EmptyCorpusError, QuestionError

# database=None: no .hypothesis folder left in the working tree.
BOUNDED = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
ANY_TEXT = any_text()
_REMOVED = ("Cc", "Cf", "Cs", "Zl", "Zp")


@BOUNDED
@given(ANY_TEXT)
def test_clean_question_returns_clean_text_or_a_question_error(question):
    try:
        cleaned, truncated = clean_question(question, max_chars=120)
    except QuestionError as exc:
        assert str(exc)  # a message for people
        return
    assert cleaned == cleaned.strip() and cleaned
    assert len(cleaned) <= 120
    assert not any(unicodedata.category(c) in _REMOVED for c in cleaned)
    cleaned.encode("utf-8")  # a lone surrogate would raise here
    spaced = "".join(" " if unicodedata.category(c) in _REMOVED else c for c in question)
    expected = " ".join(spaced.split())
    assert truncated == (len(expected) > 120)
    assert cleaned == expected if not truncated else expected.startswith(cleaned)
    assert clean_question(cleaned, max_chars=120) == (cleaned, False)  # idempotent


@BOUNDED
@given(st.text(min_size=1, max_size=50).filter(lambda t: "\ud800" not in t))
def test_clean_question_keeps_a_plain_question(words):
    question = " ".join(words.split())
    if question and question.isprintable():
        assert clean_question(question, MAX_QUESTION_CHARS) == (question, False)


def test_clean_question_refuses_each_lone_surrogate():
    for code in (0xD800, 0xDBFF, 0xDC00, 0xDFFF):
        with pytest.raises(QuestionError, match="invalid characters"):
            clean_question(f"What is {chr(code)}?")


# Text that looks like the documents the parser expects, mixed with anything at all.
DOCUMENT_LINES = st.lists(
    st.one_of(
        ANY_TEXT,
        st.sampled_from(
            [
                "date 2024-01-02",
                "date 2024-13-45",
                "Frequently Asked Questions",
                "FAQ",
                "Q: Why?",
                "A: Because.",
                "1. What is it?",
                "Sources:",
                "- Name: https://example.org/",
                "https://",
                "# Title",
                "",
                "\r\n",
            ]
        ),
    ),
    max_size=30,
)


@BOUNDED
@given(DOCUMENT_LINES)
def test_parse_structure_never_raises_and_invents_no_text(lines):
    text = "\n".join(lines)
    structure = parse_structure(text)
    # Every word of every paragraph, question and answer is in the input.
    pieces = [p for section in structure.sections for p in section.paragraphs]
    pieces += [pair.question for pair in structure.faq]
    pieces += [pair.answer for pair in structure.faq]
    words = [word for piece in pieces for word in piece.split()]
    assert [word for word in words if word not in text] == []


def _contents(suffix: str) -> st.SearchStrategy[bytes]:
    """Random bytes, and random text in the shape the reader of ``suffix`` expects."""
    text = DOCUMENT_LINES.map(lambda lines: "\n".join(lines))
    rows = st.lists(
        st.dictionaries(
            st.sampled_from(["id", "title", "text", "question", "answer", "x"]),
            st.one_of(st.text(max_size=40), st.integers(), st.none(), st.lists(st.integers())),
        ),
        max_size=5,
    )
    shaped = {
        ".jsonl": rows.map(lambda rs: "\n".join(json.dumps(r) for r in rs)),
        ".jsonl.gz": rows.map(lambda rs: "\n".join(json.dumps(r) for r in rs)),
        ".csv": st.lists(st.lists(st.text(max_size=20), max_size=4), max_size=5).map(
            lambda rs: "\n".join(",".join(r) for r in rs)
        ),
        ".html": text.map(lambda t: f"<html><title>{t[:20]}</title><body><p>{t}</p>"),
    }.get(suffix, text)
    encoded = shaped.map(lambda t: t.encode("utf-8", "surrogatepass"))
    if suffix == ".jsonl.gz":
        encoded = encoded.map(gzip.compress)
    if suffix == ".pdf":
        encoded = st.binary(max_size=400).map(lambda b: b"%PDF-1.4\n" + b)
    return st.one_of(st.binary(max_size=400), encoded)


@pytest.mark.parametrize("suffix", SUPPORTED_SUFFIXES)
def test_each_corpus_reader_returns_documents_or_problems(suffix):
    @settings(BOUNDED, max_examples=60)
    @given(_contents(suffix))
    def read(raw):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"random{suffix}"
            path.write_bytes(raw)
            try:
                corpus = load_corpus(path)
            except EmptyCorpusError as exc:
                assert "random" in str(exc)  # names the file and says why
                return
        assert corpus.documents  # none at all is the EmptyCorpusError above
        assert all(d.path == path.name and d.text.strip() for d in corpus.documents)
        assert all(p.path.startswith(path.name) and p.message for p in corpus.problems)

    read()


@BOUNDED
@given(
    st.lists(st.one_of(st.text(min_size=1, max_size=60), st.sampled_from([" ", ". ", "\n"]))),
    st.integers(min_value=1, max_value=40),
)
def test_split_paragraph_never_exceeds_the_budget_and_loses_nothing(parts, max_chars):
    paragraph = " ".join("".join(parts).split())  # as the chunker gives it: whitespace-normalised
    pieces = split_paragraph(paragraph, max_chars)
    assert all(len(piece) <= max_chars for piece in pieces)
    assert "".join("".join(pieces).split()) == "".join(paragraph.split())


@BOUNDED
@given(st.integers(min_value=0, max_value=5000), st.sampled_from("[{"), st.text(max_size=8))
@example(MAX_NESTING, "[", "")
@example(MAX_NESTING + 1, "{", "")
def test_parse_json_gives_a_value_or_its_own_error(depth, bracket, inner):
    closing = {"[": "]", "{": "}"}[bracket]
    opened = bracket if bracket == "[" else '{"k": '
    text = opened * depth + json.dumps(inner) + closing * depth
    try:
        value = parse_json(text)
    except JsonValueError as exc:
        assert "nested more than" in str(exc) and depth > MAX_NESTING
        return
    assert depth <= MAX_NESTING
    for _ in range(depth):
        value = value[0] if bracket == "[" else value["k"]
    assert value == inner


@pytest.mark.parametrize("kind", sorted(HOSTILE_FILES))
def test_each_reader_survives_the_probe_files(tmp_path, kind):
    name = HOSTILE_FILES[kind](tmp_path)
    with pytest.raises(EmptyCorpusError) as raised:
        load_corpus(tmp_path)  # nothing else in the folder: an empty corpus, said in one line
    assert printable(name) in str(raised.value) and "\n" not in str(raised.value)
