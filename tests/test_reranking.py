"""The optional reranker: the pure reordering step, a cross-encoder made here from the bundled
weights (nothing downloaded), the refusals, and the --reranker flag."""

from pathlib import Path

import numpy as np
import pytest

from qabot.cli import build_parser, main
from qabot.errors import ModelError
from qabot.models.embedding import bundled_model_path
from qabot.models.reranking import CrossEncoderReranker, Reranker, rerank

PAIRS_TEXTS = ["NATO is a military alliance of 32 countries.", "Knead the dough.", "Paris."]


@pytest.fixture(scope="module")
def cross_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled MiniLM with a fresh one-output head, saved as a CrossEncoder folder."""
    import torch
    from sentence_transformers import CrossEncoder

    torch.manual_seed(0)  # the new head's weights: the same folder on every run
    model = CrossEncoder(
        str(bundled_model_path()), num_labels=1, local_files_only=True, device="cpu"
    )
    folder = tmp_path_factory.mktemp("reranker") / "cross-encoder"
    model.save(str(folder))
    return folder


def test_rerank_orders_the_top_hits_by_score_and_keeps_the_rest():
    hits = ["a", "b", "c", "d", "e"]
    reordered, scores = rerank(hits, np.array([0.1, 0.9, 0.5]), top_k=3)
    assert reordered == ["b", "c", "a", "d", "e"]
    assert scores.tolist() == pytest.approx([0.9, 0.5, 0.1])
    # Ties keep the retrieval order; top_k beyond the hits takes them all.
    assert rerank(["x", "y", "z"], np.array([1.0, 2.0, 1.0]), top_k=9)[0] == ["y", "x", "z"]
    assert rerank([], np.zeros(0), top_k=5) == ([], pytest.approx(np.zeros(0)))
    with pytest.raises(ValueError, match="2 reranker scores for 3 hits"):
        rerank(hits, np.array([0.1, 0.2]), top_k=3)


@pytest.mark.slow
def test_a_local_cross_encoder_scores_pairs(cross_encoder_dir):
    import torch
    from sentence_transformers import CrossEncoder

    reranker = CrossEncoderReranker(cross_encoder_dir)
    assert isinstance(reranker, Reranker) and reranker.name == str(cross_encoder_dir)
    scores = reranker.score_pairs("What is NATO?", PAIRS_TEXTS)
    assert scores.dtype == np.float32 and scores.shape == (3,)
    assert len(set(scores.tolist())) == 3  # each pair is read: different texts, different scores
    direct = CrossEncoder(str(cross_encoder_dir), local_files_only=True, device="cpu")
    pairs = [("What is NATO?", t) for t in PAIRS_TEXTS]
    logits = direct.predict(pairs, activation_fn=torch.nn.Identity())
    # A one-output head ends in a sigmoid: each score is that of the head's own logit.
    assert scores == pytest.approx(1 / (1 + np.exp(-logits)), abs=1e-6)
    assert reranker.score_pairs("What is NATO?", []).shape == (0,)
    # The pure step and the model together: the reranked order follows the scores.
    reordered, ordered = rerank(PAIRS_TEXTS, scores, top_k=3)
    assert ordered.tolist() == sorted(scores.tolist(), reverse=True)
    assert reordered == [PAIRS_TEXTS[i] for i in np.argsort(-scores)]


def test_bad_reranker_paths_are_clear_errors(tmp_path):
    with pytest.raises(ModelError, match=r"is not a folder.*never downloaded"):
        CrossEncoderReranker("cross-encoder/ms-marco-MiniLM-L6-v2")
    with pytest.raises(ModelError, match=r"no readable config\.json"):
        CrossEncoderReranker(tmp_path)
    # An embedding model would load with an untrained head: refused by name.
    with pytest.raises(ModelError, match=r"not a cross-encoder.*BertModel"):
        CrossEncoderReranker(bundled_model_path())


def test_the_answering_commands_take_reranker(monkeypatch):
    parser = build_parser()
    for command in (["ask", "q"], ["serve"], ["eval", "questions.csv"]):
        assert parser.parse_args([*command, "--reranker", "/models/ce"]).reranker == "/models/ce"
        assert parser.parse_args(command).reranker is None
    monkeypatch.setenv("QABOT_RERANKER", "/models/env-ce")
    assert build_parser().parse_args(["ask", "q"]).reranker == "/models/env-ce"


def test_a_bad_reranker_fails_before_the_index_is_built(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("NATO is an alliance.\n", encoding="utf-8")
    index_dir = tmp_path / "index"
    args = ["ask", "What is NATO?", "--corpus", str(corpus), "--index-dir", str(index_dir)]
    assert main([*args, "--reranker", str(tmp_path / "missing")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert not index_dir.exists()
