"""Ranking that adapts to the collection: the profile a build measures, the weights it asks for."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from qabot.answering import adaptive
from qabot.answering.adaptive import (
    ANSWER_LED,
    QUESTION_LED,
    fusion_for,
    fusion_record,
    question_led_share,
    recorded_fusion,
)
from qabot.answering.retrieval import Retriever
from qabot.documents.grains import GRAIN_QUESTION, GRAIN_SENTENCE, GRAIN_WHOLE
from qabot.index.build import build_index, load_index
from qabot.index.profile import collection_profile

# A help desk's FAQ: every question says what its answer is about.
QUESTION_LED_FAQ = [
    ("How do I reset my password?", "To reset your password, open Settings, choose Security "
     "and press Reset password; a reset link is emailed to you."),
    ("How can I change my email address?", "Your email address is changed under Settings, "
     "Account: type the new address and confirm it from the message we send."),
    ("Can I export my invoices as PDF?", "Yes. Every invoice can be exported as a PDF from the "
     "Billing page with the Download button."),
    ("How do I delete my account?", "To delete your account, go to Settings, Account, Delete "
     "account; your data is erased after 30 days."),
    ("Which browsers are supported?", "The app supports the current versions of Firefox, "
     "Chrome, Safari and Edge."),
    ("How do I invite a colleague to my team?", "Invite a colleague from the Team page: enter "
     "their email address and choose their role."),
]  # fmt: skip
# Rule snippets under bare headings: users ask about what the answers say.
ANSWER_LED_FAQ = [
    ("1. Overview", "You can get Carer's Allowance if you care for someone at least 35 hours a "
     "week and they get certain benefits."),
    ("2. Eligibility", "To get the full basic State Pension you need 30 qualifying years of "
     "National Insurance contributions or credits."),
    ("Overview", "Children in foster care and homeless children are eligible for Head Start "
     "services regardless of family income."),
    ("Eligibility", "You can claim a tax refund on work uniforms if you wash, repair or replace "
     "them yourself."),
    ("What you'll get", "The Winter Fuel Payment is between 250 and 600 pounds, paid "
     "automatically in November or December."),
    ("How to claim", "Apply for a blue parking badge online through your local council; it "
     "costs up to 10 pounds."),
]  # fmt: skip


def write_faq(folder: Path, entries: list[tuple[str, str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = [json.dumps({"question": q, "answer": a}) for q, a in entries]
    (folder / "faq.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder


def unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_the_profile_is_the_mean_cosine_of_each_faq_question_with_its_entry():
    # Passage 0: an FAQ entry (whole, question, sentence rows); passage 1: a body passage.
    vectors = np.stack(
        [unit(1, 0), unit(0.6, 0.8), unit(0, 1), unit(1, 1), unit(0, 1), unit(1, 0), unit(1, 0)]
    )
    row_passage = np.array([0, 0, 0, 1, 1, 2, 2])
    whole, question, sentence = GRAIN_WHOLE, GRAIN_QUESTION, GRAIN_SENTENCE
    row_grain = np.array([whole, question, sentence, whole, sentence, whole, question])
    profile = collection_profile(vectors, row_passage, row_grain)
    assert profile == {"faq_entries": 2, "question_answer_cosine": pytest.approx(0.8, abs=1e-4)}


def test_a_collection_without_faq_entries_keeps_the_question_led_weights():
    vectors = np.stack([unit(1, 0), unit(0, 1)])
    profile = collection_profile(vectors, np.array([0, 1]), np.array([GRAIN_WHOLE] * 2))
    assert profile == {"faq_entries": 0, "question_answer_cosine": None}
    assert question_led_share(profile) == 1.0 and fusion_for(profile) == QUESTION_LED
    assert question_led_share({}) == 1.0  # an index built before profiles


def test_the_share_slides_from_answer_led_to_question_led_with_the_cosine():
    many = 10_000
    assert question_led_share({"faq_entries": many, "question_answer_cosine": 0.9}) == 1.0
    assert question_led_share({"faq_entries": many, "question_answer_cosine": 0.5}) == 0.0
    middle = (adaptive.LOW + adaptive.HIGH) / 2
    share = question_led_share({"faq_entries": many, "question_answer_cosine": middle})
    assert share == pytest.approx(0.5, abs=0.01)
    assert fusion_for({"faq_entries": many, "question_answer_cosine": 0.5}) == ANSWER_LED
    # Three entries are weak evidence: the share is pulled towards question-led.
    few = question_led_share({"faq_entries": 3, "question_answer_cosine": 0.5})
    assert 0.5 < few < 1.0
    # Passage weights never move; FAQ weights do.
    mixed = adaptive.blend(0.5)
    assert mixed.passage_keyword == QUESTION_LED.passage_keyword
    expected = (QUESTION_LED.faq_sentence + ANSWER_LED.faq_sentence) / 2
    assert mixed.faq_sentence == pytest.approx(expected, abs=1e-4)


def test_the_recorded_weights_win_and_a_damaged_record_falls_back_to_the_profile():
    profile = {"faq_entries": 500, "question_answer_cosine": 0.5}
    record = fusion_record(profile)
    assert record["question_led_share"] == 0.0
    assert recorded_fusion(record, {}) == ANSWER_LED  # the record, not the (empty) profile
    damaged = {"weights": {**record["weights"], "faq_keyword": "lots"}}
    assert recorded_fusion(damaged, profile) == ANSWER_LED  # from the profile
    assert recorded_fusion({"weights": {"faq_keyword": 1}}, {}) == QUESTION_LED


def test_an_index_records_its_profile_and_the_retriever_uses_the_recorded_weights(
    tmp_path, fake_embedder
):
    corpus = write_faq(tmp_path / "corpus", ANSWER_LED_FAQ)
    index = build_index(corpus, tmp_path / "index", fake_embedder, choose_fusion=fusion_record)
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["profile"]["faq_entries"] == len(ANSWER_LED_FAQ)
    assert manifest["fusion"] == json.loads(json.dumps(fusion_record(index.manifest.profile)))
    # What answering uses is what the manifest says, even if the rule changes later.
    manifest["fusion"]["weights"] = asdict(ANSWER_LED)
    (tmp_path / "index" / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert Retriever(load_index(tmp_path / "index"), fake_embedder).fusion == ANSWER_LED


def test_two_collections_built_to_need_them_get_different_weights(tmp_path, embedder):
    built = {}
    for name, entries in (("help-desk", QUESTION_LED_FAQ), ("rules", ANSWER_LED_FAQ)):
        corpus = write_faq(tmp_path / name, entries)
        built[name] = build_index(
            corpus, tmp_path / f"{name}-index", embedder, choose_fusion=fusion_record
        )
    help_desk, rules = built["help-desk"].manifest, built["rules"].manifest
    assert help_desk.profile["question_answer_cosine"] > rules.profile["question_answer_cosine"]
    assert help_desk.fusion["question_led_share"] > rules.fusion["question_led_share"]
    assert help_desk.fusion["weights"] != rules.fusion["weights"]
    # On the rules, the answer's words carry the signal: the adapted weights lean on them.
    assert rules.fusion["weights"]["faq_sentence"] > help_desk.fusion["weights"]["faq_sentence"]
    retriever = Retriever(built["rules"], embedder)
    assert retriever.fusion == recorded_fusion(rules.fusion, rules.profile)
    hit = retriever.search("Is a homeless child eligible for Head Start?", top_k=1)[0]
    assert "Head Start" in hit.passage.text
