"""Expected answer types and names absent from the corpus: the near-domain signals."""

import pytest

from qabot.answering.answer_types import (
    absent_name,
    capitalised_names,
    expected_type,
    holds_type,
    is_dated,
    type_missing,
)
from qabot.documents.chunking import Passage
from qabot.index.keyword import tokenize


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("When was NATO founded?", "time"),
        ("in what year did the war start", "time"),
        ("Which date is the summit on?", "time"),
        ("How many troops does NATO have?", "quantity"),
        ("how much money did nato give", "quantity"),
        ("How long will NATO support Ukraine?", None),  # "as long as necessary" is no number
        ("What is NATO?", None),
        ("Who is Dmytro Kuleba?", None),
    ],
)
def test_expected_type(question, kind):
    assert expected_type(question) == kind


@pytest.mark.parametrize(
    ("text", "kind", "dated", "holds"),
    [
        ("The treaty was signed in 1949.", "time", False, True),
        ("They met on Tuesday.", "time", False, True),
        ("Talks resume on 12/03.", "time", False, True),
        ("NATO is an alliance of 30 countries.", "time", False, False),
        ("NATO is an alliance of 30 countries.", "time", True, True),
        ("NATO is an alliance of 30 countries.", "quantity", False, True),
        ("It has thirty members.", "quantity", False, True),
        ("NATO is a military alliance.", "quantity", False, False),
    ],
)
def test_holds_type(text, kind, dated, holds):
    assert holds_type(text, kind, dated=dated) is holds


def test_type_missing_needs_a_typed_question_and_an_answer_without_that_type():
    answer = "NATO is an intergovernmental military alliance of 30 member countries."
    assert type_missing("When was NATO founded?", answer) == 1.0
    assert type_missing("How many members does NATO have?", answer) == 0.0
    assert type_missing("What is NATO?", answer) == 0.0


def _passage(kind, date):
    return Passage(
        passage_id="d#0", doc_id="d", path="d.txt", title="t", text="x", kind=kind, date=date
    )


def test_only_dated_body_passages_answer_when_with_their_date():
    assert is_dated(_passage("passage", "2023-11-29"))
    assert not is_dated(_passage("passage", None))
    assert not is_dated(_passage("faq", "2023-11-29"))


def test_capitalised_names_skip_the_first_word():
    assert capitalised_names("What did the Vilnius summit decide?") == ["Vilnius"]
    assert capitalised_names("Vilnius") == []
    assert capitalised_names("what did i say") == []


def test_absent_name_looks_names_up_in_the_corpus_vocabulary():
    vocabulary = set(tokenize(["NATO met Ukraine's foreign minister in Brussels"])[0])
    assert absent_name("What did the Vilnius summit decide?", vocabulary, tokenize) == 1.0
    assert absent_name("Where did NATO meet Ukraine?", vocabulary, tokenize) == 0.0
    assert absent_name("where did nato meet vilnius", vocabulary, tokenize) == 0.0  # no capital
