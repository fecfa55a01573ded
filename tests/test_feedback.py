"""The feedback store: questions, votes, the summary and the CSV question set."""

import csv
import sqlite3
import threading
from types import SimpleNamespace

import pytest

from qabot.cli import main
from qabot.web.feedback import FeedbackStore


@pytest.fixture
def store(tmp_path):
    store = FeedbackStore(tmp_path / "sub" / "feedback.sqlite3")
    yield store
    store.close()


def test_record_and_vote_round_trip(store):
    row = store.record("What is NATO?", "doc#faq-0", 0.98, True)
    other = store.record("Who won the World Cup?", None, 0.12, False, channel="api")
    store.vote(row, 1)
    rows = store.rows()
    assert [r["id"] for r in rows] == [row, other]
    assert rows[0]["question"] == "What is NATO?" and rows[0]["answer_id"] == "doc#faq-0"
    assert rows[0]["vote"] == 1 and rows[0]["found"] == 1 and rows[0]["channel"] == "chat"
    assert rows[1]["vote"] is None and rows[1]["found"] == 0 and rows[1]["channel"] == "api"
    assert rows[1]["score"] == pytest.approx(0.12)
    assert rows[0]["time"][:2] == "20"
    store.vote(row, None)
    assert store.rows()[0]["vote"] is None


def test_rejects_a_bad_vote(store):
    row = store.record("q", None, 0.1, False)
    with pytest.raises(ValueError, match="1, -1 or None"):
        store.vote(row, 5)


def test_summary_ranks_disliked_answers_and_frequent_unanswered(store):
    for question in ("Who won the World Cup?", "who won the world cup?", "What is FIFA?"):
        store.record(question, None, 0.2, False)
    for question, vote in (("What is NATO?", -1), ("nato?", -1), ("What is NATO", 1)):
        store.vote(store.record(question, "doc#faq-0", 0.9, True), vote)
    store.vote(store.record("interop?", "doc#faq-1", 0.8, True), -1)

    summary = store.summary()
    assert (summary.asked, summary.answered, summary.likes, summary.dislikes) == (7, 4, 1, 3)
    assert [d.answer_id for d in summary.disliked] == ["doc#faq-0", "doc#faq-1"]
    assert summary.disliked[0].dislikes == 2 and summary.disliked[0].likes == 1
    assert summary.disliked[0].questions == ("What is NATO?", "nato?")
    assert [(u.question.lower(), u.count) for u in summary.unanswered] == [
        ("who won the world cup?", 2),
        ("what is fifa?", 1),
    ]


def test_export_is_a_question_set(store, tmp_path):
    store.record("Who won the World Cup?", None, 0.2, False)
    store.vote(store.record("What is NATO?", "doc#faq-0", 0.9, True), -1)
    path = tmp_path / "out" / "questions.csv"
    assert store.export_csv(path) == 2
    with open(path, encoding="utf-8", newline="") as rows:
        records = list(csv.DictReader(rows))
    assert [r["question"] for r in records] == ["Who won the World Cup?", "What is NATO?"]
    assert [r["id"] for r in records] == ["feedback-1", "feedback-2"]
    assert all(r["answerable"] == "" for r in records)
    assert [r["source"] for r in records] == ["unanswered", "disliked"]
    assert records[1]["answer_id"] == "doc#faq-0"


def test_concurrent_writes_from_threads(store):
    def ask(n: int) -> None:
        for i in range(50):
            store.vote(store.record(f"q{n}-{i}", None, 0.1, False), -1)

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store.rows()) == 400
    with sqlite3.connect(store.path) as db:  # a second reader sees the committed rows
        assert db.execute("SELECT COUNT(*) FROM asked WHERE vote = -1").fetchone()[0] == 400


def test_feedback_command_prints_summary_and_exports(tmp_path, capsys):
    path = tmp_path / "feedback.sqlite3"
    store = FeedbackStore(path)
    store.record("Who won the World Cup?", None, 0.2, False)
    store.vote(store.record("What is NATO?", "doc#faq-0", 0.9, True), -1)
    store.close()
    export = tmp_path / "q.csv"
    assert main(["feedback", "--feedback", str(path), "--export", str(export)]) == 0
    out = capsys.readouterr().out
    assert "2 questions asked, 1 answered; 0 likes, 1 dislikes" in out
    assert "doc#faq-0" in out and "Who won the World Cup?" in out
    assert "Wrote 2 questions" in out and export.is_file()


def test_feedback_command_without_a_database(tmp_path, capsys):
    assert main(["feedback", "--index-dir", str(tmp_path)]) == 2
    assert "No feedback yet" in capsys.readouterr().err


def test_record_answer_stores_what_the_answer_says(store):
    # The fields of an `Answer` that are stored; the served app stores real answers
    # (test_server.py, test_chat.py).
    answered = SimpleNamespace(
        question="What is NATO?", passage_id="doc#faq-0", score=0.93, found=True, kind="faq"
    )
    declined = SimpleNamespace(
        question="Who won?", passage_id=None, score=0.2, found=False, alternatives=(), kind=None
    )
    greeting = SimpleNamespace(
        question="hello", passage_id=None, score=1.0, found=False, alternatives=(), kind="smalltalk"
    )
    first = store.record_answer(answered, channel="chat")
    second = store.record_answer(declined, channel="api")
    # Small talk is our own words: not stored, so "hello" is never an unanswered question.
    assert store.record_answer(greeting, channel="chat") == 0
    store.vote(0, 1)  # a vote on it changes nothing
    rows = store.rows()
    assert [r["id"] for r in rows] == [first, second]
    assert {k: rows[0][k] for k in ("question", "answer_id", "found", "channel")} == {
        "question": "What is NATO?",
        "answer_id": "doc#faq-0",
        "found": 1,
        "channel": "chat",
    }
    assert rows[0]["score"] == pytest.approx(0.93)
    assert (rows[1]["answer_id"], rows[1]["found"], rows[1]["channel"]) == (None, 0, "api")


def test_top_k_limits_each_list(store, tmp_path):
    for n in range(3):
        store.record(f"unanswered {n}", None, 0.1, False)
        store.vote(store.record(f"disliked {n}", f"doc#{n}", 0.9, True), -1)
    summary = store.summary(top_k=2)
    assert len(summary.unanswered) == 2 and len(summary.disliked) == 2
    assert store.export_csv(tmp_path / "q.csv", top_k=1) == 2
    assert store.export_csv(tmp_path / "q.csv") == 6


def test_feedback_command_top_k(tmp_path, capsys):
    path = tmp_path / "feedback.sqlite3"
    store = FeedbackStore(path)
    for question in ("first?", "first?", "second?"):
        store.record(question, None, 0.2, False)
    store.close()
    assert main(["feedback", "--feedback", str(path), "--top-k", "1"]) == 0
    out = capsys.readouterr().out
    assert "first?" in out and "second?" not in out


FORMULAS = [
    '=HYPERLINK("http://evil.example","x")',
    "+1+1",
    "-2+3",
    "@SUM(A1:A2)",
    "\tx=1",
    "\r=1",
]


def test_export_neutralises_cells_a_spreadsheet_would_run(store, tmp_path):
    for question in FORMULAS:
        store.record(question, None, 0.1, False)
    store.vote(store.record("=1+1 disliked", "doc#faq-0", 0.9, True), -1)
    store.record("What is NATO? = the alliance", None, 0.1, False)  # '=' inside: left alone
    path = tmp_path / "questions.csv"
    assert store.export_csv(path) == len(FORMULAS) + 2
    with open(path, encoding="utf-8", newline="") as rows:
        questions = [r["question"] for r in csv.DictReader(rows)]
    assert sorted(questions) == sorted(
        ["'" + q for q in FORMULAS] + ["What is NATO? = the alliance", "'=1+1 disliked"]
    )


@pytest.mark.parametrize("vote", [5, 0, 2, True, False, 1.0, "1", {}, [], "like"])
def test_only_like_dislike_and_clear_are_votes(store, vote):
    row = store.record("What is NATO?", "doc#faq-0", 0.9, True)
    store.vote(row, -1)
    with pytest.raises(ValueError, match="A vote is 1, -1 or None"):
        store.vote(row, vote)
    assert store.rows()[0]["vote"] == -1  # unchanged


def test_the_export_reads_back_as_the_questions_asked(store, tmp_path):
    from qabot.evaluation.questionsets import load_question_set

    asked = ["-2+3", '=HYPERLINK("http://x")', "'=already quoted", "@q3", "plain?"]
    for question in asked:
        store.record(question, None, 0.1, False)
    store.export_csv(tmp_path / "q.csv")
    cases, _ = load_question_set(tmp_path / "q.csv")
    assert sorted(case.question for case in cases) == sorted(asked)


def test_prune_deletes_only_what_is_older_than_the_days(store):
    from datetime import datetime, timedelta

    for question in ("old", "new"):
        store.record(question, None, 0.1, False)
    now = datetime.now().astimezone()
    store._db.execute(
        "UPDATE asked SET time = ? WHERE question = 'old'",
        ((now - timedelta(days=91)).strftime("%Y-%m-%dT%H:%M:%S%z"),),
    )
    assert store.prune(90) == 1
    assert [row["question"] for row in store.rows()] == ["new"]
    assert store.prune(90, now=now + timedelta(days=91)) == 1 and store.rows() == []


def test_feedback_command_prunes_with_the_default_retention(tmp_path, capsys):
    from qabot.web.feedback import DEFAULT_RETENTION_DAYS

    path = tmp_path / "feedback.sqlite3"
    store = FeedbackStore(path)
    store.record("ancient", None, 0.1, False)
    store.record("recent", None, 0.1, False)
    store._db.execute("UPDATE asked SET time = '2000-01-01T00:00:00+0000' WHERE id = 1")
    store.close()
    assert main(["feedback", "--feedback", str(path), "--prune-older-than"]) == 0
    out = capsys.readouterr().out
    assert out == f"Deleted 1 questions older than {DEFAULT_RETENTION_DAYS} days.\n"
    assert [row["question"] for row in FeedbackStore(path).rows()] == ["recent"]


def test_feedback_command_input_errors_are_one_line(tmp_path, capsys):
    not_a_database = tmp_path / "passwd"
    not_a_database.write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    assert main(["feedback", "--feedback", str(not_a_database)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qabot: error: ") and err.count("\n") == 1
    assert "no readable feedback database" in err
    path = tmp_path / "feedback.sqlite3"
    FeedbackStore(path).close()
    unwritable = tmp_path / "file" / "x.csv"  # under a file: no folder can be made
    (tmp_path / "file").write_text("", encoding="utf-8")
    assert main(["feedback", "--feedback", str(path), "--export", str(unwritable)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qabot: error: Cannot write") and err.count("\n") == 1


def test_feedback_command_prints_stored_names_escaped(tmp_path, capsys):
    path = tmp_path / "feedback.sqlite3"
    store = FeedbackStore(path)
    store.vote(store.record("Why\x1b[2J?", "evil\x1b]0;x\x07.txt#faq-0", 0.9, True), -1)
    store.record("gone\rwrong", None, 0.1, False)
    store.close()
    assert main(["feedback", "--feedback", str(path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\r" not in out
    assert "evil\\x1b]0;x\\x07.txt#faq-0" in out and "gone\\rwrong" in out
