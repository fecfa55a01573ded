"""Evidence at several grains: gathers, per-grain maxima, fusion and confidence features."""

import numpy as np
import pytest

from qabot.answering.evidence import Fusion, best_sentence_rows, normalise_keyword
from qabot.answering.features import (
    FEATURES,
    absent_share,
    confidence_features,
    margin,
    matched_share,
)
from qabot.documents.grains import GRAIN_QUESTION, GRAIN_SENTENCE, GRAIN_WHOLE
from qabot.index.grains import gather_rows, grain_maxima, passage_offsets

# Passage 0: an FAQ entry (whole = Q+A, question, two answer sentences);
# passage 1: a body passage of one sentence (whole only); passage 2: whole + two sentences.
ROW_PASSAGE = np.array([0, 0, 0, 0, 1, 2, 2, 2])
ROW_GRAIN = np.array([0, 1, 2, 2, 0, 0, 2, 2])
ROW_SCORES = np.array([0.5, 0.8, 0.3, 0.6, 0.4, 0.2, 0.9, 0.1])


def test_offsets_and_gather_pick_each_candidates_rows():
    offsets = passage_offsets(ROW_PASSAGE, 3)
    assert offsets.tolist() == [0, 4, 5, 8]
    rows, owner = gather_rows(offsets, np.array([2, 0]))
    assert rows.tolist() == [5, 6, 7, 0, 1, 2, 3]
    assert owner.tolist() == [0, 0, 0, 1, 1, 1, 1]


def test_rows_out_of_passage_order_are_refused():
    with pytest.raises(ValueError, match="passage by passage"):
        passage_offsets(np.array([0, 1, 0]), 2)


def test_grain_maxima_take_the_best_row_per_grain_with_fallbacks():
    grains = grain_maxima(ROW_SCORES, ROW_PASSAGE, ROW_GRAIN, 3)
    assert grains.shape == (3, 3)
    assert grains[0].tolist() == pytest.approx([0.5, 0.8, 0.6])
    # a one-sentence passage: no question grain, its sentence is its whole
    assert grains[1, GRAIN_WHOLE] == pytest.approx(0.4)
    assert grains[1, GRAIN_QUESTION] == -np.inf
    assert grains[1, GRAIN_SENTENCE] == pytest.approx(0.4)
    assert grains[2, GRAIN_SENTENCE] == pytest.approx(0.9)


def test_grain_maxima_work_on_a_batch_of_questions():
    batch = np.stack([ROW_SCORES, 1 - ROW_SCORES])
    grains = grain_maxima(batch, ROW_PASSAGE, ROW_GRAIN, 3)
    assert grains.shape == (2, 3, 3)
    assert grains[1, 2, GRAIN_SENTENCE] == pytest.approx(0.9)  # 1 - 0.1


def test_best_sentence_rows_are_the_highlights():
    rows, owner = gather_rows(passage_offsets(ROW_PASSAGE, 3), np.array([0, 1, 2]))
    grain = ROW_GRAIN[rows]
    best = best_sentence_rows(ROW_SCORES[rows], rows, owner, grain, 3)
    assert best.tolist() == [3, -1, 6]  # candidate 1 has no sentence rows
    # Candidates in another order; of equal scores the first row wins, as argmax would.
    rows, owner = gather_rows(passage_offsets(ROW_PASSAGE, 3), np.array([2, 0]))
    tied = np.where(ROW_GRAIN[rows] == GRAIN_SENTENCE, 0.5, 0.9)
    assert best_sentence_rows(tied, rows, owner, ROW_GRAIN[rows], 2).tolist() == [6, 2]


def test_fusion_formula_by_kind():
    fusion = Fusion(0.5, 0.5, 0.0, 0.0, 0.5, 0.0, faq_keyword=0.0, passage_keyword=0.5)
    grains = grain_maxima(ROW_SCORES, ROW_PASSAGE, ROW_GRAIN, 3)
    is_faq = np.array([True, False, False])
    dense = fusion.dense(grains, is_faq)
    assert dense.tolist() == pytest.approx([0.65, 0.4, 0.55])
    fused = fusion.fuse(grains, is_faq, np.array([3.0, 0.0, 6.0]))
    assert fused.tolist() == pytest.approx([0.65, 0.2, 0.5 * 0.55 + 0.5])


def test_fusion_max_terms():
    fusion = Fusion(0, 0, 0, 1, 0, 1, 0, 0)
    grains = grain_maxima(ROW_SCORES, ROW_PASSAGE, ROW_GRAIN, 3)
    dense = fusion.dense(grains, np.array([True, False, False]))
    assert dense.tolist() == pytest.approx([0.8, 0.4, 0.9])


def test_keyword_normalised_by_the_best_candidate_and_zero_when_none():
    assert normalise_keyword(np.array([2.0, 4.0, 0.0])).tolist() == [0.5, 1.0, 0.0]
    assert normalise_keyword(np.zeros(3)).tolist() == [0.0, 0.0, 0.0]


def test_absent_and_matched_shares():
    assert absent_share(["nato", "summit", "zzz"], {"nato", "summit"}) == pytest.approx(1 / 3)
    assert absent_share([], {"nato"}) == 1.0
    assert matched_share(["nato", "summit"], {"nato"}) == 0.5
    assert matched_share([], {"nato"}) == 0.0


def test_margin_ignores_entries_with_the_same_key():
    fused = np.array([0.9, 0.85, 0.6])
    assert margin(fused, ["q1", "q1", "p2"], 0) == pytest.approx(0.3)
    assert margin(fused, ["q1", "q2", "p2"], 0) == pytest.approx(0.05)
    assert margin(fused[:1], ["q1"], 0) == 1.0


def test_confidence_features_in_declared_order():
    grains = np.array([0.7, 0.8, 0.9])
    row = confidence_features(0.75, 0.1, grains, 0.5, 5.0, 0.25, 1.0, 0.0)
    assert len(row) == len(FEATURES)
    named = dict(zip(FEATURES, row, strict=True))
    assert named["whole"] == pytest.approx(0.7)
    assert named["sentence"] == pytest.approx(0.9)
    assert named["question_bm25"] == pytest.approx(0.5)
    assert named["absent_share"] == pytest.approx(0.25)
    assert named["type_missing"] == 1.0
    assert named["absent_name"] == 0.0
