"""Active learning: phrasings suggested from the feedback store, accepted into alternates.jsonl."""

import json
import sqlite3
from types import SimpleNamespace

import pytest

from qabot.cli import main
from qabot.documents.alternates import (
    accept_alternates,
    is_faq_id,
    phrasing_key,
    read_alternates_file,
    suggest_alternates,
    suggestion_id,
)
from qabot.index.build import build_index
from qabot.web.feedback import FeedbackStore

NATO = "faq.jsonl#faq-0"
OTAN = "faq.jsonl#faq-1"


def _row(question, answer_id=None, *, score=0.9, found=True, vote=None, nearest_id=None):
    return {
        "question": question,
        "answer_id": answer_id,
        "score": score,
        "found": int(found),
        "vote": vote,
        "nearest_id": nearest_id,
    }


def _suggest(rows, known=()):
    return suggest_alternates(rows, min_declined_score=0.3, threshold=0.4, known=known)


def test_liked_faq_answers_are_grouped_and_counted():
    rows = [
        _row("What's NATO for?", NATO, vote=1),
        _row("what's  nato for", NATO, vote=1),
        _row("What's NATO for?", NATO, vote=1),
        _row("Is NATO a treaty?", NATO, vote=1),
        _row("What's NATO for?", NATO),  # no vote: no evidence either way
        _row("Where is HQ?", "doc.md#2", vote=1),  # a paragraph: it takes no phrasings
    ]
    suggestions = _suggest(rows)
    assert [(s.passage_id, s.question, s.liked, s.count) for s in suggestions] == [
        (NATO, "What's NATO for?", 3, 3),
        (NATO, "Is NATO a treaty?", 1, 1),
    ]
    assert suggestions[0].id == suggestion_id(NATO, "WHAT'S NATO FOR")
    assert suggestions[0].id != suggestion_id(OTAN, "What's NATO for?")
    assert len(suggestions[0].id) == 8


def test_declined_questions_count_only_close_below_the_threshold():
    rows = [
        _row("nato purpose", None, score=0.35, found=False, nearest_id=NATO),
        _row("nato purpose?", None, score=0.31, found=False, nearest_id=NATO),
        _row("weather today", None, score=0.12, found=False, nearest_id=NATO),  # far below
        _row("nato members", None, score=0.38, found=False, nearest_id="doc.md#0"),  # no FAQ
        _row("old row", None, score=0.38, found=False),  # stored before nearest_id existed
        _row("answered by another threshold", None, score=0.45, found=False, nearest_id=NATO),
    ]
    [suggestion] = _suggest(rows)
    assert (suggestion.passage_id, suggestion.question) == (NATO, "nato purpose")
    assert (suggestion.liked, suggestion.declined, suggestion.count) == (0, 2, 2)


def test_disliked_phrasings_and_known_ones_are_left_out():
    rows = [
        _row("what is otan", OTAN, vote=1),
        _row("what is otan", OTAN, vote=-1),
        _row("what is otan?", OTAN, vote=-1),
        _row("nato?", NATO, vote=1),
        _row("alliance?", NATO, vote=1),
    ]
    assert [s.question for s in _suggest(rows)] == ["alliance?", "nato?"]
    assert [s.question for s in _suggest(rows, known=[(NATO, "NATO")])] == ["alliance?"]


def test_helpers():
    assert is_faq_id("a/b.md#faq-12") and not is_faq_id("a.md#3") and not is_faq_id(None)
    assert not is_faq_id("x#faq-1#2")
    assert phrasing_key("  What IS\tNATO ?? ") == "what is nato"


def test_accept_appends_atomically_without_duplicates(tmp_path):
    path = tmp_path / "corpus.alternates.jsonl"
    path.write_text('{"passage_id": "x#faq-0", "question": "kept"}\nnot json', encoding="utf-8")
    first, second = _suggest([_row("Nato?", NATO, vote=1), _row("Otan?", OTAN, vote=1)])
    assert accept_alternates(path, [first, first]) == [first]
    assert accept_alternates(path, [first, second]) == [second]
    assert accept_alternates(path, [second]) == []
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[:2] == ['{"passage_id": "x#faq-0", "question": "kept"}', "not json"]
    assert [json.loads(line) for line in lines[2:]] == [
        {"passage_id": NATO, "question": "Nato?"},
        {"passage_id": OTAN, "question": "Otan?"},
    ]
    assert read_alternates_file(path) == [("x#faq-0", "kept"), (NATO, "Nato?"), (OTAN, "Otan?")]
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_an_old_database_is_migrated_and_still_readable(tmp_path):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:  # the schema before nearest_id existed
        db.execute(
            "CREATE TABLE asked (id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, "
            "question TEXT NOT NULL, answer_id TEXT, score REAL NOT NULL, found INTEGER NOT "
            "NULL, vote INTEGER, channel TEXT NOT NULL DEFAULT 'chat')"
        )
        db.execute(
            "INSERT INTO asked (time, question, answer_id, score, found, vote) "
            "VALUES ('2024', 'old question', ?, 0.9, 1, 1)",
            (NATO,),
        )
    store = FeedbackStore(path)
    store.record("new one", None, 0.35, False, nearest_id=OTAN)
    rows = store.rows()
    store.close()
    assert [(r["question"], r["nearest_id"]) for r in rows] == [
        ("old question", None),
        ("new one", OTAN),
    ]
    again = FeedbackStore(path)  # opening it again does not try to add the column twice
    assert again.summary().asked == 2
    again.close()


def test_record_answer_keeps_the_nearest_faq_entry_of_a_declined_question(tmp_path):
    store = FeedbackStore(tmp_path / "f.sqlite3")
    alternatives = (SimpleNamespace(passage_id="doc.md#0"), SimpleNamespace(passage_id=OTAN))
    declined = SimpleNamespace(
        question="otan?",
        passage_id=None,
        score=0.3,
        found=False,
        alternatives=alternatives,
        kind=None,
    )
    answered = SimpleNamespace(
        question="nato?",
        passage_id=NATO,
        score=0.9,
        found=True,
        alternatives=alternatives,
        kind="faq",
    )
    store.record_answer(declined, channel="chat")
    store.record_answer(answered, channel="api")
    assert [r["nearest_id"] for r in store.rows()] == [OTAN, None]
    store.close()


@pytest.fixture
def chat_history(tmp_path, fake_embedder):
    """A corpus with two FAQ entries, its index (fake embedder) and a feedback database."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    entries = [("What is NATO?", "An alliance."), ("What is OTAN?", "NATO in French.")]
    (corpus / "faq.jsonl").write_text(
        "".join(json.dumps({"question": q, "answer": a}) + "\n" for q, a in entries),
        encoding="utf-8",
    )
    index_dir = tmp_path / "index"
    build_index(corpus, index_dir, fake_embedder)
    store = FeedbackStore(index_dir / "feedback.sqlite3")
    for question in ("what's nato", "What's NATO?", "nato alliance"):
        store.vote(store.record(question, NATO, 0.9, True), 1)
    store.record("otan meaning", None, 0.35, False, nearest_id=OTAN)
    store.record("the weather", None, 0.05, False, nearest_id=OTAN)
    store.close()
    return SimpleNamespace(corpus=corpus, index_dir=index_dir)


def _ids(out: str) -> dict[str, str]:
    """Question -> ID, from the lines `qabot feedback suggest` prints."""
    found = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) > 2 and len(parts[0]) == 8 and parts[1].endswith("×"):
            found[line.split("×", 1)[1].split("  (")[0].strip()] = parts[0]
    return found


def test_suggest_then_accept_on_the_command_line(chat_history, capsys):
    index = ["--index-dir", str(chat_history.index_dir)]
    assert main(["feedback", "suggest", *index, "--threshold", "0.4"]) == 0
    out = capsys.readouterr().out
    ids = _ids(out)
    assert set(ids) == {"what's nato", "nato alliance", "otan meaning"}
    assert NATO in out and OTAN in out and "the weather" not in out

    picked = [ids["what's nato"], ids["otan meaning"]]
    assert main(["feedback", *index, "accept", *picked, "--threshold", "0.4"]) == 0
    assert "Wrote 2 phrasings" in capsys.readouterr().out
    target = chat_history.corpus.parent / "corpus.alternates.jsonl"
    assert read_alternates_file(target) == [(NATO, "what's nato"), (OTAN, "otan meaning")]

    # Accepted phrasings are no longer suggested; accepting one again writes nothing.
    assert main(["feedback", "suggest", *index, "--threshold", "0.4"]) == 0
    assert set(_ids(capsys.readouterr().out)) == {"nato alliance"}
    assert main(["feedback", "accept", picked[0], *index, "--threshold", "0.4"]) == 0
    assert "Wrote 0 phrasings" in capsys.readouterr().out
    assert len(read_alternates_file(target)) == 2


def test_accept_refuses_unknown_ids_and_writes_nothing(chat_history, capsys):
    index = ["--index-dir", str(chat_history.index_dir)]
    assert main(["feedback", "suggest", *index, "--threshold", "0.4"]) == 0
    good = _ids(capsys.readouterr().out)["nato alliance"]
    assert main(["feedback", "accept", good, "deadbeef", *index]) == 2
    err = capsys.readouterr().err
    assert "Unknown suggestion ID(s): deadbeef" in err and good not in err
    assert not (chat_history.corpus.parent / "corpus.alternates.jsonl").exists()


def test_accept_with_another_corpus_and_without_an_index(chat_history, tmp_path, capsys):
    db = ["--feedback", str(chat_history.index_dir / "feedback.sqlite3")]
    missing_index = ["--index-dir", str(tmp_path / "none")]
    assert main(["feedback", "suggest", *db, *missing_index]) == 0  # no index: still suggests
    ids = _ids(capsys.readouterr().out)
    assert "nato alliance" in ids
    other = tmp_path / "elsewhere" / "docs"
    assert main(["feedback", "accept", ids["nato alliance"], *db, *missing_index]) == 2
    assert "pass --corpus" in capsys.readouterr().err
    args = ["feedback", "accept", ids["nato alliance"], *db, *missing_index, "--corpus", str(other)]
    assert main(args) == 0
    assert read_alternates_file(other.parent / "docs.alternates.jsonl") == [(NATO, "nato alliance")]


def test_summary_stays_the_default_and_a_subcommand(chat_history, capsys):
    db = ["--feedback", str(chat_history.index_dir / "feedback.sqlite3")]
    assert main(["feedback", *db]) == 0
    default = capsys.readouterr().out
    assert main(["feedback", "summary", *db]) == 0
    assert capsys.readouterr().out == default
    assert "5 questions asked, 3 answered; 3 likes, 0 dislikes" in default
