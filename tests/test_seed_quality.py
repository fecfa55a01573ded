"""The seed dev question set stays answered, with the real model and default settings."""

import json

from conftest import SEED_QUESTIONS


def _rows():
    return [json.loads(line) for line in SEED_QUESTIONS.read_text(encoding="utf-8").splitlines()]


def test_dev_set_has_the_promised_shape():
    rows = _rows()
    answerable = [r for r in rows if r.get("answerable", True)]
    assert len(answerable) >= 30 and len(rows) - len(answerable) >= 10


def test_answerable_questions_get_the_right_answer_first(seed_answerer):
    rows = [r for r in _rows() if r.get("answerable", True)]
    answers = seed_answerer.answer_batch([r["question"] for r in rows])
    right = [
        a.found and a.passage_id in r["expected_ids"] for r, a in zip(rows, answers, strict=True)
    ]
    wrong = [
        (r["question"], a.passage_id)
        for r, a, ok in zip(rows, answers, right, strict=True)
        if not ok
    ]
    assert sum(right) / len(rows) >= 0.9, wrong


def test_out_of_scope_questions_are_declined(seed_answerer):
    rows = [r for r in _rows() if not r.get("answerable", True)]
    answers = seed_answerer.answer_batch([r["question"] for r in rows])
    answered = [(a.question, round(a.score, 3)) for a in answers if a.found]
    assert 1 - len(answered) / len(rows) >= 0.9, answered


def test_verbatim_faq_questions_return_their_own_answers(seed_answerer):
    faq = [p for p in seed_answerer.retriever.index.passages if p.kind == "faq"]
    answers = seed_answerer.answer_batch([p.question for p in faq])
    assert [a.passage_id for a in answers] == [p.passage_id for p in faq]
    assert all(a.found and a.answer == p.text for a, p in zip(answers, faq, strict=True))


def test_answers_carry_date_and_sources(seed_answerer):
    answer = seed_answerer.answer("Where did NATO allies meet Dmytro Kuleba?")
    assert answer.found and answer.kind == "passage"
    assert "Brussels" in answer.highlight
    assert answer.source.date == "2023-11-29"
    assert [link.url for link in answer.source.links] == [
        "https://www.nato.int/",
        "https://www.nato.int/cps/uk/natohq/176328.htm",
    ]


def test_huge_and_noisy_questions_do_not_crash(seed_answerer):
    huge = seed_answerer.answer("What is NATO? " + "x" * 100_000)
    assert huge.truncated
    noisy = seed_answerer.answer("\x07What\x00 is   NATO?\n")
    assert noisy.question == "What is NATO?" and noisy.found
