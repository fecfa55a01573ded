"""The verifier's training plumbing end to end on a tiny random BERT: train, resume, export, ship.

Run: .venv/bin/pytest training/test_train_verifier.py   (about 20 s on 2 CPU cores; no network)
"""

from __future__ import annotations

import gzip
import json
import logging
import random
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

# training/ holds scripts, not a package: its modules import each other by name.
HERE = Path(__file__).resolve().parent.parent / "training"
sys.path.insert(0, str(HERE))

import train_verifier  # noqa: E402
from metrics import auroc, exact_match, f1  # noqa: E402
from squad_data import (  # noqa: E402
    build_pairs,
    load_squad,
    read_heldout,
    read_pairs,
    sentence_spans,
    split_articles,
)

from qabot.models.verifier import OnnxVerifier as Verifier  # noqa: E402

# torch.onnx's tracer and the quantiser warn about things that are fine for this graph.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]


@pytest.fixture(scope="module")
def squad():
    return load_squad()


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> Path:
    """A 2-layer, 32-wide random BERT folder with the bundled model's tokenizer."""
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-bert")
    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
    )
    BertModel(config, add_pooling_layer=False).save_pretrained(folder)
    shutil.copy(train_verifier.bundled_model_dir() / "tokenizer.json", folder / "tokenizer.json")
    return folder


def test_heldout_articles_never_reach_training(squad):
    heldout = read_heldout()
    assert len(heldout) == 5
    train, held = split_articles(squad, heldout)
    assert set(held.paragraphs) == set(heldout)
    assert not set(train.paragraphs) & set(heldout)
    assert {q.article for q in train.questions}.isdisjoint(heldout)
    held_questions = {q.text for q in held.questions}
    pairs = build_pairs(train, random.Random(0))
    texts = {t for paras in held.paragraphs.values() for t in paras}
    assert not any(p.text in texts for p in pairs)
    assert len(held_questions) > 2000


def test_training_pairs_carry_exact_spans(squad):
    train, _ = split_articles(squad, read_heldout())
    pairs = build_pairs(train, random.Random(1))
    kinds = {p.kind for p in pairs}
    assert kinds == {"pos", "unans", "hard", "easy", "win_pos", "win_neg"}
    for p in pairs:
        if p.label == 1:
            assert 0 <= p.span_start < p.span_end <= len(p.text)
        else:
            assert p.span_start == -1
    window = next(p for p in pairs if p.kind == "win_pos")
    answer = window.text[window.span_start : window.span_end]
    tok = train_verifier.load_tokenizer(train_verifier.bundled_model_dir(), 256)
    enc = tok.encode(window.question, window.text)
    start, end = train_verifier._token_span(enc, window.span_start, window.span_end)
    assert start > 0
    decoded = window.text[enc.offsets[start][0] : enc.offsets[end][1]]
    assert decoded == answer


def test_sentence_spans_cover_the_text():
    text = 'It rained. "Then," she said, "it stopped!" Dr. Who? No. 3 cats.'
    spans = sentence_spans(text)
    assert [text[s:e] for s, e in spans][:2] == ["It rained.", '"Then," she said, "it stopped!"']
    assert spans[-1][1] == len(text)


def test_metrics_known_values():
    assert auroc([3, 4], [1, 2]) == 1.0
    assert auroc([1], [1]) == 0.5
    assert auroc([2, 0], [1]) == 0.5
    assert exact_match("The Broncos!", ["Denver Broncos", "broncos"]) == 1.0
    assert f1("Denver Broncos won", ["Denver Broncos"]) == pytest.approx(0.8)


def test_train_resume_export_and_ship_end_to_end(tiny_bert, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    caplog.set_level(logging.INFO, logger="train_verifier")
    out = tmp_path / "run"
    extra = tmp_path / "pairs.jsonl.gz"
    rows = [
        {"question": "Can I return shoes?", "text": "Yes, within thirty days.", "label": 1,
         "kind": "dev-x"},
        {"question": "Can I return shoes?", "text": "Shops open at nine.", "label": 0,
         "kind": "dev-x"},
    ]  # fmt: skip
    with gzip.open(extra, "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(row) + "\n\n" for row in rows)
    assert [(p.label, p.kind, p.span_start) for p in read_pairs(extra)] == [
        (1, "dev-x", -1),
        (0, "dev-x", -1),
    ]
    args = [
        "--model", str(tiny_bert), "--out", str(out), "--max-steps", "4",
        "--checkpoint-every", "2", "--batch-size", "4", "--train-questions", "40",
        "--eval-questions", "10", "--no-baseline", "--max-length", "128", "--seed", "3",
        "--extra-pairs", str(extra), "--extra-weight", "0.5",
    ]  # fmt: skip
    assert train_verifier.main(args) == 0
    assert "extra pairs: 2 from" in caplog.text  # read, and added to every epoch

    state = json.loads((out / "final" / "train_state.json").read_text())
    assert state["step"] == 4
    shipped = out / "verifier"
    names = {p.name for p in shipped.iterdir()}
    assert names == {
        "model.onnx",
        "tokenizer.json",
        "verifier_config.json",
        "LICENSE",
        "MODEL_CARD.md",
    }
    assert not (shipped / "verifier-fp32.onnx").exists()
    assert "CC BY-SA 4.0" in (shipped / "MODEL_CARD.md").read_text()
    assert "Attribution-ShareAlike 4.0" in (shipped / "LICENSE").read_text()

    import onnx

    model = onnx.load(str(out / "onnx" / "verifier-fp32.onnx"))
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 14
    assert [i.name for i in model.graph.input] == ["input_ids", "attention_mask", "token_type_ids"]
    assert [o.name for o in model.graph.output] == [
        "start_logits",
        "end_logits",
        "answerable_logit",
    ]

    report = json.loads((out / "metrics.json").read_text())
    assert report["shipped"] in {"int8", "int8-per-tensor", "int8-fp32-heads", "fp16"}
    fp32 = report["models"]["fp32"]
    assert 0.0 <= fp32["auroc_near_domain"] <= 1.0
    assert 0.0 <= fp32["span_f1"] <= 1.0
    assert fp32["pairs"] == sum(report["pairs"].values())

    # The runtime reads the shipped folder; a long text is read in windows, spans index the text.
    verifier = Verifier(shipped)
    text = "The bridge was built in 1901 by Smith. " * 40 + "It was painted red."
    verdicts = verifier.verify_batch([("Who built the bridge?", text), ("What colour?", "Red.")])
    assert len(verdicts) == 2
    for (_, t), v in zip([("", text), ("", "Red.")], verdicts, strict=True):
        assert 0.0 < v.probability < 1.0
        assert v.span is not None and t[v.span.start : v.span.end] == v.span.text

    # Re-running resumes at the last checkpoint: no further steps, the same weights.
    before = (out / "final" / "verifier.pt").read_bytes()
    assert train_verifier.main([*args, "--no-eval"]) == 0
    assert json.loads((out / "final" / "train_state.json").read_text())["step"] == 4
    import torch

    a = torch.load(out / "final" / "verifier.pt", weights_only=True)
    import io

    b = torch.load(io.BytesIO(before), weights_only=True)
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)
