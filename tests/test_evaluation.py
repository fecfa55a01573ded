"""Question sets, relevance files, gold resolution and scoring (fake embedder), then the seed
set through the real answerer."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from qabot.answering.answerer import Answerer
from qabot.answering.retrieval import Hit, Retriever
from qabot.documents.chunking import Passage
from qabot.errors import EvalInputError
from qabot.evaluation.questionsets import EvalCase, load_question_set, read_qrels, resolve_gold
from qabot.evaluation.run import METRIC_KEYS, evaluate, score_case, summarise
from qabot.index.build import build_index

from fakes import fused_only_confidence
from test_seed_quality import SEED_DEV


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def jsonl(path: Path, rows: list[dict]) -> Path:
    return write(path, "".join(json.dumps(row) + "\n" for row in rows))


# --- reading question sets ------------------------------------------------------------------


def test_jsonl_every_gold_form(tmp_path):
    path = jsonl(
        tmp_path / "set.jsonl",
        [
            {"id": "a", "question": "What is NATO?", "expected_ids": ["doc#faq-0", "doc"]},
            {"qid": "b", "text": "Where?", "expected_answer": "  In   Brussels "},
            {"_id": 7, "question": "Bananas?", "answerable": False},
            {"question": "One id as text", "expected_ids": "x|y"},
        ],
    )
    cases, warnings = load_question_set(path)
    assert warnings == []
    assert [c.case_id for c in cases] == ["a", "b", "7", "line-4"]
    assert cases[0].gold == {"doc#faq-0": 1.0, "doc": 1.0}
    assert cases[1].expected_answer == "In   Brussels" and cases[1].gold == {}
    assert cases[2].answerable is False and cases[2].gold == {}
    assert cases[3].gold == {"x": 1.0, "y": 1.0}
    assert cases[0].source == f"{path}:1"


def test_csv_and_tsv(tmp_path):
    csv_path = write(
        tmp_path / "set.csv",
        "ID,Question,expected_ids,answerable\n"
        'a,"What is NATO, really?",doc#faq-0|doc#1,\n'
        "b,Bananas?,,false\n",
    )
    cases, _ = load_question_set(csv_path)
    assert [(c.case_id, c.question, c.answerable) for c in cases] == [
        ("a", "What is NATO, really?", True),
        ("b", "Bananas?", False),
    ]
    assert cases[0].gold == {"doc#faq-0": 1.0, "doc#1": 1.0}
    tsv_path = write(tmp_path / "set.tsv", "text\texpected_answer\nWhere is it?\tBrussels\n")
    (case,), _ = load_question_set(tsv_path)
    assert case.expected_answer == "Brussels" and case.case_id == "line-2"


def test_gzipped_jsonl(tmp_path):
    path = tmp_path / "set.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"question": "Q?", "answerable": false}\n'))
    (case,), _ = load_question_set(path)
    assert case.question == "Q?" and not case.answerable


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "bad.jsonl",
            '{"question": "ok", "answerable": false}\n{"question": \n',
            r"bad.jsonl:2: malformed JSON",
        ),
        ("list.jsonl", '["not", "an", "object"]\n', r"list.jsonl:1: a row must be a JSON object"),
        (
            "noq.jsonl",
            '{"query": "What?", "answerable": false}\n',
            r"noq.jsonl:1: no question .*query",
        ),
        ("noq.csv", "id,query\n1,What?\n", r"noq.csv:1: no question column"),
        ("empty.jsonl", "", r"empty.jsonl: empty file"),
        ("blank.csv", "\n\n", r"blank.csv: empty file"),
        ("header.csv", "id,question\n", r"header.csv: empty file"),
        ("blank.jsonl", "\n  \n", r"blank.jsonl: empty file"),
        (
            "emptyq.jsonl",
            '{"question": "  ", "answerable": false}\n',
            r"emptyq.jsonl:1: the question is empty",
        ),
        ("nogold.jsonl", '{"question": "Q?", "answerable": true}\n', r"nogold.jsonl:1: no gold"),
        (
            "deep.jsonl",
            '{"question": "Q?", "x": ' + "[" * 100_000 + "]" * 100_000 + "}\n",
            r"deep.jsonl:1: JSON nested more than 100 levels deep",
        ),
        (
            "deep.csv",
            'question,expected_ids\nQ?,"' + "[" * 30_000 + "]" * 30_000 + '"\n',
            r"deep.csv:2: expected_ids is not a JSON list \(JSON nested more than 100",
        ),
        (
            "lone.jsonl",
            '{"question": "Q \\ud800?", "answerable": false}\n',
            r"lone.jsonl:1: JSON string holds an unpaired surrogate \(\\ud800\)",
        ),
        (
            "both.jsonl",
            '{"question": "Q?", "answerable": false, "expected_ids": ["a"]}\n',
            r"both.jsonl:1: answerable is false",
        ),
        (
            "ans.jsonl",
            '{"question": "Q?", "answerable": "maybe"}\n',
            r"ans.jsonl:1: answerable must be",
        ),
        (
            "ids.jsonl",
            '{"question": "Q?", "expected_ids": {"a": 1}}\n',
            r"ids.jsonl:1: expected_ids must be",
        ),
        (
            "dup.jsonl",
            '{"id": 1, "question": "A?", "answerable": false}\n{"id": 1, "question": "B?", "answerable": false}\n',
            r"dup.jsonl:2: duplicate id '1' \(first on line 1\)",
        ),
        ("wide.csv", "question,answerable\nQ?,false,extra\n", r"wide.csv:2: malformed row"),
        ("short.csv", "id,question,answerable\nq1\n", r"short.csv:2: malformed row"),
    ],
)
def test_bad_question_sets_name_file_and_line(tmp_path, name, text, message):
    path = write(tmp_path / name, text)
    with pytest.raises(EvalInputError, match=message):
        load_question_set(path)


def test_missing_file(tmp_path):
    with pytest.raises(EvalInputError, match="no such file"):
        load_question_set(tmp_path / "nope.jsonl")


def test_where_filters_rows(tmp_path):
    path = jsonl(
        tmp_path / "q.jsonl",
        [
            {"qid": "q0", "text": "dev question", "block": 0, "answerable": False},
            {"qid": "q1", "text": "test question", "block": 1, "answerable": False},
        ],
    )
    cases, _ = load_question_set(path, where={"block": "1"})
    assert [c.case_id for c in cases] == ["q1"]
    with pytest.raises(EvalInputError, match="no row has the field 'split'"):
        load_question_set(path, where={"split": "test"})
    with pytest.raises(EvalInputError, match="no question left"):
        load_question_set(path, where={"block": "9"})


# --- relevance files ------------------------------------------------------------------------


def test_qrels_with_header_supply_the_gold(tmp_path):
    qrels_path = write(
        tmp_path / "test.tsv",
        "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t2\nq1\td3\t0\nqX\td9\t1\n",
    )
    qrels = read_qrels(qrels_path)
    assert qrels == {"q1": {"d1": 1.0, "d2": 2.0}, "qX": {"d9": 1.0}}
    questions = jsonl(
        tmp_path / "q.jsonl",
        [{"_id": "q0", "text": "not judged"}, {"_id": "q1", "text": "judged"}],
    )
    cases, warnings = load_question_set(questions, qrels=qrels)
    assert [(c.case_id, c.gold) for c in cases] == [("q1", {"d1": 1.0, "d2": 2.0})]
    assert len(warnings) == 1 and "qX" in warnings[0]


def test_qrels_without_header_and_trec_form(tmp_path):
    assert read_qrels(write(tmp_path / "a.tsv", "q1\td1\t1\n")) == {"q1": {"d1": 1.0}}
    assert read_qrels(write(tmp_path / "b.txt", "q1 0 d1 1\nq1 0 d2 1\n")) == {
        "q1": {"d1": 1.0, "d2": 1.0}
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"empty relevance file"),
        ("query-id\tcorpus-id\tscore\n", r"no relevance judgements"),
        ("query-id\tcorpus-id\tscore\nq1\td1\n", r"q.tsv:2: expected 'query-id"),
        ("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\thigh\n", r"q.tsv:3: score 'high'"),
    ],
)
def test_bad_qrels_name_file_and_line(tmp_path, text, message):
    with pytest.raises(EvalInputError, match=message):
        read_qrels(write(tmp_path / "q.tsv", text))


# --- gold against the index, and scoring ----------------------------------------------------


def passage(pid: str, text: str = "text", kind: str = "passage") -> Passage:
    doc_id = pid.split("#")[0]
    return Passage(pid, doc_id, kind, text, title=doc_id, path=doc_id)


PASSAGES = [
    passage("d1#0", "NATO was founded in 1949."),
    passage("d1#1", "Its headquarters are in Brussels."),
    passage("d2#0", "Bananas are yellow."),
]


def test_resolve_gold_warns_about_unknown_ids():
    cases = [
        EvalCase("a", "q", {"d1#1": 1.0, "ghost#0": 1.0}),
        EvalCase("b", "q", {"nowhere": 1.0}, source="set.jsonl:2"),
        EvalCase("c", "q", {"d2": 1.0}),
        EvalCase("d", "q", expected_answer="HEADQUARTERS are  in brussels"),
        EvalCase("e", "q", expected_answer="not in any passage"),
        EvalCase("f", "q", answerable=False),
    ]
    resolved, warnings = resolve_gold(cases, PASSAGES)
    by_id = {c.case_id: c for c in resolved}
    assert set(by_id) == {"a", "c", "d", "e", "f"}
    assert by_id["a"].gold == {"d1#1": 1.0} and not by_id["a"].by_document
    assert by_id["c"].by_document
    assert by_id["d"].gold == {"d1#1": 1.0}
    text = "\n".join(warnings)
    assert "2 gold ids are not in the index: ghost#0, nowhere" in text
    assert "b (set.jsonl:2)" in text
    assert "1 expected answers appear in no passage: e" in text


def hits(*scored: tuple[str, float]) -> list[Hit]:
    by_id = {p.passage_id: p for p in PASSAGES}
    return [Hit(by_id[pid], score, score, 0.0) for pid, score in scored]


class HitScoreAnswerer(Answerer):
    """Reads the top hit's score as the confidence: these tests judge outcomes, not a model."""

    def score(self, question: str, hits, position: int = 0, verifier=None) -> float:
        return hits[position].fused_score if position < len(hits) else 0.0


ANSWERER = HitScoreAnswerer(retriever=None, threshold=0.5)  # compose needs no retriever


def judge(case: EvalCase, scored):
    case_hits = hits(*scored)
    return score_case(case, case_hits, ANSWERER.compose(case.question, case_hits), 1.0)


def test_document_gold_ranks_each_document_once():
    case = EvalCase("c", "yellow fruit?", {"d2": 1.0}, by_document=True)
    result = judge(case, [("d1#0", 0.9), ("d1#1", 0.8), ("d2#0", 0.7)])
    assert result.ranked_ids == ("d1", "d2")
    assert result.metrics["mrr@10"] == 0.5
    assert result.outcome == "answered-wrong" and not result.correct


def test_entry_gold_ranks_passages():
    case = EvalCase("a", "where is it?", {"d1#1": 1.0})
    result = judge(case, [("d1#0", 0.9), ("d1#1", 0.8), ("d2#0", 0.7)])
    assert result.ranked_ids == ("d1#0", "d1#1", "d2#0")
    assert result.metrics["mrr@10"] == 0.5 and result.metrics["hit@1"] == 0.0


def test_outcomes():
    right = EvalCase("a", "where?", {"d1#1": 1.0})
    assert judge(right, [("d1#1", 0.9)]).outcome == "answered-correct"
    assert judge(right, [("d1#1", 0.3)]).outcome == "declined-answerable"
    by_text = EvalCase("b", "where?", expected_answer="in  BRUSSELS")
    assert judge(by_text, [("d1#1", 0.9)]).correct
    unanswerable = EvalCase("c", "bananas?", answerable=False)
    answered = judge(unanswerable, [("d2#0", 0.9)])
    assert answered.outcome == "answered-wrong" and answered.metrics == {}
    declined = judge(unanswerable, [("d2#0", 0.2)])
    assert declined.outcome == "declined-unanswerable" and declined.correct


def test_summarise_counts_a_set_with_known_outcomes():
    # threshold 0.5; one question of each outcome, two answered right, one unlabelled
    right = EvalCase("r1", "where?", {"d1#1": 1.0})
    unanswerable = EvalCase("u", "bananas?", answerable=False)
    results = [
        judge(right, [("d1#1", 0.9), ("d1#0", 0.4)]),  # answered-correct
        judge(EvalCase("r2", "founded?", {"d1#0": 1.0}), [("d1#0", 0.8)]),  # answered-correct
        judge(right, [("d2#0", 0.7), ("d1#1", 0.6)]),  # answered-wrong, gold second
        judge(right, [("d1#1", 0.3)]),  # declined-answerable, though ranked first
        judge(unanswerable, [("d2#0", 0.2)]),  # declined-unanswerable
        judge(unanswerable, [("d2#0", 0.9)]),  # answered-wrong
        judge(EvalCase("x", "anything", labelled=False), [("d2#0", 0.9)]),  # unlabelled, answered
    ]
    m = summarise(results, elapsed=2.0, latencies=[10.0, 20.0, 30.0, 40.0])
    counts = {k: m[k] for k in ("answered-correct", "answered-wrong", "declined-answerable")}
    assert counts == {"answered-correct": 2, "answered-wrong": 2, "declined-answerable": 1}
    assert m["declined-unanswerable"] == 1
    assert (m["questions"], m["answerable"], m["unanswerable"]) == (7, 4, 2)
    assert (m["unlabelled"], m["unlabelled-answered"]) == (1, 1)
    assert m["accuracy"] == pytest.approx(3 / 6)  # two right answers and one right decline
    # ECE over the labelled scores, by bin: 0.9 (right), 0.9 (unanswerable) -> |0.5 - 0.9| x 2;
    # 0.8 right -> 0.2; 0.7 wrong -> 0.7; 0.3 right first -> 0.7; 0.2 unanswerable -> 0.2.
    assert m["ece"] == pytest.approx((0.8 + 0.2 + 0.7 + 0.7 + 0.2) / 6)
    assert m["hit@1"] == pytest.approx(3 / 4)  # ranking ignores the threshold
    assert m["mrr@10"] == pytest.approx((1 + 1 + 1 / 2 + 1) / 4)
    assert m["questions-per-second"] == pytest.approx(3.5)
    assert (m["latency-p50-ms"], m["latency-p95-ms"]) == pytest.approx((25.0, 38.5))


def test_evaluate_with_a_fake_embedder(tmp_path, fake_embedder):
    corpus = jsonl(
        tmp_path / "docs.jsonl",
        [
            {"id": "nato", "title": "NATO", "text": "NATO is a military alliance founded in 1949."},
            {"id": "fruit", "title": "Fruit", "text": "Bananas are yellow and sweet."},
        ],
    )
    index = build_index(corpus, tmp_path / "index", fake_embedder)
    answerer = Answerer(Retriever(index, fake_embedder), confidence=fused_only_confidence(0.3))
    cases = [
        EvalCase("a", "military alliance founded in 1949", {"nato": 1.0}, by_document=True),
        EvalCase("b", "are bananas yellow", {"fruit": 1.0}, by_document=True),
        EvalCase("c", "quantum entanglement explained", answerable=False),
    ]
    done: list[int] = []
    report = evaluate(answerer, cases, batch_size=2, progress=done.append, settings={"x": 1})
    assert done == [2, 1]
    assert set(METRIC_KEYS) <= set(report.metrics)
    assert report.metrics["hit@1"] == 1.0 and report.metrics["accuracy"] == 1.0
    assert report.metrics["answered-correct"] == 2
    assert report.metrics["declined-unanswerable"] == 1
    assert report.settings["x"] == 1 and report.settings["threshold"] == 0.5
    assert report.calibration.accuracy == 1.0
    assert report.manifest["model"] == "fake-embedder"


def test_unlabelled_questions_are_answered_not_scored(tmp_path, fake_embedder):
    corpus = jsonl(
        tmp_path / "docs.jsonl",
        [{"id": "nato", "title": "NATO", "text": "NATO is a military alliance founded in 1949."}],
    )
    questions = tmp_path / "feedback.csv"
    questions.write_text(
        "id,question,answerable,expected_ids\n"
        "f1,military alliance founded in 1949,,\n"
        "f2,quantum entanglement explained,,\n"
        "a1,when was the military alliance founded,,nato\n",
        encoding="utf-8",
    )
    cases, warnings = load_question_set(questions)
    assert [c.labelled for c in cases] == [False, False, True]
    assert any("2 questions have no gold" in w and "f1" in w for w in warnings)
    index = build_index(corpus, tmp_path / "index", fake_embedder)
    cases, _ = resolve_gold(cases, index.passages)
    assert len(cases) == 3
    answerer = Answerer(Retriever(index, fake_embedder), confidence=fused_only_confidence(0.3))
    report = evaluate(answerer, cases)
    m = report.metrics
    assert (m["questions"], m["answerable"], m["unanswerable"], m["unlabelled"]) == (3, 1, 0, 2)
    assert m["unlabelled-answered"] == 1 and m["accuracy"] == 1.0 and m["hit@1"] == 1.0
    by_id = {r.case.case_id: r for r in report.results}
    assert by_id["f1"].correct is None and by_id["f1"].outcome == "unlabelled"
    assert by_id["f1"].found and not by_id["f2"].found
    assert report.to_dict()["questions"][0]["gold"]["answerable"] is None


# --- the seed set through the real answerer (conftest's seed_report) ------------------------


def test_seed_set_scores_as_published(seed_report):
    metrics = seed_report.metrics
    assert (metrics["questions"], metrics["answerable"], metrics["unanswerable"]) == (
        SEED_DEV.questions,
        SEED_DEV.answerable,
        SEED_DEV.out_of_scope,
    )
    least_right = SEED_DEV.answered_right - SEED_DEV.slack
    assert metrics["answered-correct"] >= least_right
    least_declined = SEED_DEV.declined - SEED_DEV.declined_slack
    assert metrics["declined-unanswerable"] >= least_declined
    assert metrics["hit@1"] >= least_right / SEED_DEV.answerable
    assert metrics["accuracy"] >= (least_right + least_declined) / SEED_DEV.questions
    assert metrics["ece"] <= SEED_DEV.ece + SEED_DEV.ece_slack
    assert metrics["recall@100"] == 1.0


def test_evaluation_answers_as_ask_does(seed_report, seed_answerer):
    results = seed_report.results[:12]
    answers = seed_answerer.answer_batch([r.case.question for r in results])
    for result, answer in zip(results, answers, strict=True):
        assert (result.answer_id, result.found, result.answer) == (
            answer.passage_id,
            answer.found,
            answer.answer,
        )
        assert result.score == pytest.approx(answer.score, abs=1e-5)


def test_calibrated_threshold_gives_the_promised_accuracy(seed_report, seed_answerer):
    calibration = seed_report.calibration
    assert calibration.accuracy >= seed_report.metrics["accuracy"]
    recalibrated = Answerer(
        seed_answerer.retriever,
        threshold=calibration.threshold,
        verifier=seed_answerer.verifier,
    )
    again = evaluate(recalibrated, [r.case for r in seed_report.results])
    assert again.metrics["accuracy"] == pytest.approx(calibration.accuracy)


def test_nothing_left_to_score_is_an_error():
    passages = [Passage("d#0", "d", "passage", "text", "D", "d.txt")]
    with pytest.raises(EvalInputError, match=r"No question left to evaluate: .*not in the index"):
        resolve_gold([EvalCase("q1", "Q?", {"other-scheme-id": 1.0})], passages)


class SteppingClock:
    """A fake clock whose readings are 0, 1, 3, 6, 10, …: each step one second longer."""

    def __init__(self) -> None:
        self.now, self.step = 0.0, 0.0

    def __call__(self) -> float:
        reading = self.now
        self.step += 1.0
        self.now += self.step
        return reading


def test_latency_is_measured_one_question_at_a_time(tmp_path, fake_embedder):
    corpus = jsonl(tmp_path / "docs.jsonl", [{"id": "a", "text": "Apples are red."}])
    index = build_index(corpus, tmp_path / "index", fake_embedder)
    answerer = Answerer(Retriever(index, fake_embedder))
    cases = [EvalCase(f"q{i}", f"apples {i}", {"a": 1.0}) for i in range(10)]
    fake_embedder.calls.clear()
    report = evaluate(answerer, cases, batch_size=10, latency_sample=4, clock=SteppingClock())
    # one batched call for the set, then four single questions for the latency sample
    assert fake_embedder.calls == [10, 1, 1, 1, 1]
    assert report.settings["latency_sample"] == 4
    # Readings: set starts at 0, the batch runs 1 -> 3 (2 s for 10 questions), the set ends at
    # 6; then the single questions take 15-10, 28-21, 45-36 and 66-55 seconds.
    assert [r.latency_ms for r in report.results] == [200.0] * 10
    m = report.metrics
    assert m["questions-per-second"] == pytest.approx(10 / 6)
    assert m["latency-p50-ms"] == pytest.approx(8000.0)  # between 7000 and 9000
    assert m["latency-p95-ms"] == pytest.approx(9000.0 + 0.85 * 2000.0)
