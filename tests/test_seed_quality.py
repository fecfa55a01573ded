"""The seed dev question set stays answered, with the real model on the default backend and
default settings."""

import json
from dataclasses import dataclass

import pytest

from qabot.answering.answerer import Answerer
from qabot.answering.retrieval import Retriever

from conftest import SEED_CORPUS, SEED_QUESTIONS


@dataclass(frozen=True)
class PublishedFigures:
    """What the README publishes for a question set with the default settings."""

    questions: int
    answerable: int
    answered_right: int  # answerable questions answered (not declined) with the right passage
    declined: int  # unanswerable (near-domain and out-of-scope) questions declined
    slack: int  # answerable questions a model or library update may lose before a gate fails
    declined_slack: int  # unanswerable declines it may lose
    ece: float  # expected calibration error (`qabot.evaluation.run`: the metrics' "ece")
    ece_slack: float  # how far it may rise

    @property
    def out_of_scope(self) -> int:
        return self.questions - self.answerable


# The one place the gates read. Measured on eval/seed-dev.jsonl with the shipped defaults on
# the default backend (`qabot eval eval/seed-dev.jsonl`: the verifier on, so the verified
# confidence decides; bench/results/verifier-e2e.md): hit@1 0.900 = 54/60, 51 of them answered
# right (three declined), 22 of 37 unanswerable declined (near-domain 6/19, out-of-scope 16/18),
# ece 0.144 (with --no-verifier, the plain model: 52, 22, ece 0.103). Never set from
# eval/seed-check.jsonl. Update it with the README when the set or a model changes.
SEED_DEV = PublishedFigures(
    questions=97,
    answerable=60,
    answered_right=51,
    declined=22,
    slack=2,
    declined_slack=1,
    ece=0.144,
    ece_slack=0.03,  # about three questions changing bins
)


def _rows():
    return [json.loads(line) for line in SEED_QUESTIONS.read_text(encoding="utf-8").splitlines()]


def test_dev_set_has_the_published_shape():
    rows = _rows()
    answerable = [r for r in rows if r.get("answerable", True)]
    assert (len(rows), len(answerable)) == (SEED_DEV.questions, SEED_DEV.answerable)


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
    assert sum(right) >= SEED_DEV.answered_right - SEED_DEV.slack, wrong


def test_out_of_scope_questions_are_declined(seed_answerer):
    rows = [r for r in _rows() if not r.get("answerable", True)]
    answers = seed_answerer.answer_batch([r["question"] for r in rows])
    answered = [(a.question, round(a.score, 3)) for a in answers if a.found]
    assert len(rows) - len(answered) >= SEED_DEV.declined - SEED_DEV.declined_slack, answered


def test_verbatim_faq_questions_return_their_own_answers(seed_answerer):
    faq = [p for p in seed_answerer.passages if p.kind == "faq"]
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


def test_regression_what_did_nato_reaffirm(seed_answerer):
    """Issue 8: the first paragraph says what NATO reaffirmed; it must beat "What is NATO?"."""
    answer = seed_answerer.answer("What did NATO reaffirm?")
    assert answer.found and answer.passage_id == "nato-ukraine-2023-11-29.txt#0"
    assert "reaffirmed" in answer.highlight


@pytest.mark.xfail(
    strict=True,
    reason="a known regression of issue 19 (a seed-check question): an FAQ answer, which the "
    "verifier does not read; the verified confidence scores it 0.301 against the 0.2125 threshold "
    "(the plain model: 0.295 against 0.280); strict, so a fix shows as XPASS",
)
def test_regression_the_next_summit_is_declined(seed_answerer):
    """Issue 8: the document never says when the next summit is."""
    answer = seed_answerer.answer("When is the next NATO summit?")
    assert not answer.found, (answer.passage_id, answer.score)


def test_an_alternate_phrasing_asked_verbatim_finds_its_entry(tmp_path, embedder):
    import shutil

    from qabot.documents.corpus import alternates_path
    from qabot.index.build import build_index

    corpus = tmp_path / "corpus"
    shutil.copytree(SEED_CORPUS, corpus)
    entry = "nato-ukraine-2023-11-29.txt#faq-1"  # What is interoperability?
    phrasing = "Why do armies need systems that work together?"
    alternates_path(corpus).write_text(
        json.dumps({"passage_id": entry, "question": phrasing}) + "\n", encoding="utf-8"
    )
    index = build_index(corpus, tmp_path / "idx", embedder)
    answer = Answerer(Retriever(index, embedder)).answer(phrasing)
    assert answer.found and answer.passage_id == entry and answer.score == 1.0


def test_huge_and_noisy_questions_do_not_crash(seed_answerer):
    huge = seed_answerer.answer("What is NATO? " + "x" * 100_000)
    assert huge.truncated
    noisy = seed_answerer.answer("\x07What\x00 is   NATO?\n")
    assert noisy.question == "What is NATO?" and noisy.found
