"""Knowledge-base lint: every kind of finding, named by file and entry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.hostile_files import HOSTILE_FILES, good_corpus
from qabot.evaluation.lint import lint_corpus, similar_pairs

from conftest import SEED_CORPUS

FAQ_TEXT = """# Help centre

Our service lets you store files online.

FAQ

Q: How do I reset my password?
A: Click "Forgot password" on the sign-in page.

Q: How can I reset my password?
A: Write to support@example.com and we will reset it.

Q: What does it cost?
A:

Q: Is there a mobile app?
A: Yes, for Android and iOS.

Q: Do you have an app for phones?
A: Yes, for Android and iOS.
"""

ROWS = (
    '{"id": "r1", "question": "is there a MOBILE app", "answer": "No, only the website."}\n'
    '{"id": "r2", "question": "Can I pay by card?", "answer": ""}\n'
    '{"id": "r3", "question": "Where are you based?", "answer": "Berlin."}\n'
    "not json\n"
)

COPY = "Our service stores files online, safely and privately, on servers in Europe"


@pytest.fixture
def messy_corpus(tmp_path: Path) -> Path:
    (tmp_path / "faq.txt").write_text(FAQ_TEXT, encoding="utf-8")
    (tmp_path / "rows.jsonl").write_text(ROWS, encoding="utf-8")
    (tmp_path / "only-links.txt").write_text(
        "Date: 2023-01-01\n\nSources:\n- https://example.com/a\n", encoding="utf-8"
    )
    (tmp_path / "copy1.txt").write_text(COPY + ".\n", encoding="utf-8")
    (tmp_path / "copy2.txt").write_text(COPY.upper() + "!\n", encoding="utf-8")
    return tmp_path


def by_kind(findings) -> dict[str, list]:
    kinds: dict[str, list] = {}
    for finding in findings:
        kinds.setdefault(finding.kind, []).append(finding)
    return kinds


def test_every_kind_of_finding(messy_corpus, fake_embedder):
    kinds = by_kind(lint_corpus(messy_corpus, fake_embedder))
    assert set(kinds) == {
        "conflicting-questions",
        "empty-answer",
        "corpus-problem",
        "no-passages",
        "near-identical-passages",
    }
    conflicts = {
        frozenset(loc.split(":")[0] for loc in f.locations) for f in kinds["conflicting-questions"]
    }
    # The same question (case and punctuation aside) with another answer, in another file.
    assert conflicts == {frozenset({"faq.txt#faq-2", "r1#faq-0"})}
    empty = sorted(f.message for f in kinds["empty-answer"])
    assert empty == [
        "FAQ entry 'r2' has an empty answer",
        "FAQ question 'What does it cost?' has no answer",
    ]
    assert [f.locations for f in kinds["no-passages"]] == [("only-links.txt",)]
    assert kinds["corpus-problem"][0].locations == ("rows.jsonl:4",)
    (copies,) = kinds["near-identical-passages"]
    assert [loc.split(":")[0] for loc in copies.locations] == ["copy1.txt#0", "copy2.txt#0"]


def test_paraphrased_questions_with_different_answers(messy_corpus, embedder):
    findings = by_kind(lint_corpus(messy_corpus, embedder))["conflicting-questions"]
    groups = [{loc.split(":")[0] for loc in f.locations} for f in findings]
    assert {"faq.txt#faq-0", "faq.txt#faq-1"} in groups
    assert all("r3#faq-0" not in group for group in groups)
    assert str(findings[0]).startswith("conflicting-questions: ")


def test_same_answer_is_not_a_conflict(tmp_path, fake_embedder):
    rows = (
        '{"id": "a", "question": "What is NATO?", "answer": "An alliance."}\n'
        '{"id": "b", "question": "what is nato", "answer": "An   ALLIANCE."}\n'
    )
    (tmp_path / "faq.jsonl").write_text(rows, encoding="utf-8")
    assert lint_corpus(tmp_path, fake_embedder) == []


def test_seed_corpus_is_clean(embedder):
    assert lint_corpus(SEED_CORPUS, embedder) == []


def test_similar_pairs_hand_made():
    vectors = np.array([[1, 0], [1, 0], [0, 1], [0.6, 0.8]], dtype=np.float32)
    pairs = similar_pairs(vectors, 0.75)
    assert [(i, j) for i, j, _ in pairs] == [(0, 1), (2, 3)]
    assert pairs[1][2] == pytest.approx(0.8)


def test_findings_are_classified_by_code_not_by_message(tmp_path, fake_embedder):
    # A duplicate id that reads "empty answer" is still an unreadable row, not an empty answer.
    (tmp_path / "rows.jsonl").write_text(
        '{"id": "empty answer", "question": "Who?", "answer": "Us."}\n'
        '{"id": "empty answer", "question": "Where?", "answer": "Here."}\n'
        '{"id": "q3", "question": "When?", "answer": ""}\n',
        encoding="utf-8",
    )
    findings = lint_corpus(tmp_path, fake_embedder)
    assert [(f.kind, f.locations) for f in findings] == [
        ("empty-answer", ("rows.jsonl:3",)),
        ("corpus-problem", ("rows.jsonl",)),
    ]
    assert "duplicate id 'empty answer'" in findings[1].message


def test_hostile_files_are_findings_printed_on_one_line(tmp_path, fake_embedder):
    corpus = good_corpus(tmp_path / "corpus")
    names = [write(corpus) for write in HOSTILE_FILES.values()]
    (corpus / "bell\x07.txt").write_text("", encoding="utf-8")
    findings = lint_corpus(corpus, fake_embedder)
    located = {location.split(":")[0] for f in findings for location in f.locations}
    assert located == {*names, "bell\x07.txt"}
    shown = "\n".join(str(f) for f in findings)
    assert "\x07" not in shown and "bell\\x07.txt" in shown and "bad\\udcffname.txt" in shown
