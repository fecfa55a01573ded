"""Small talk on the shipped corpus: how much of the small-talk set it takes, and what it costs.

Answers every question twice through the product's path (`open_answerer`: the shipped
confidence, the verifier, the index of ``corpus/``), with and without small talk, and prints
a Markdown report:

- the small-talk set (``eval/smalltalk.jsonl``): the share that gets a small-talk reply, and of
  the intent its row names;
- the seed dev half (and the check half, for the record): questions answered without small talk
  that small talk now takes (the target is 0), and the decline rate of the near-domain and
  out-of-scope questions with and without it (small talk counts as no decline).

    .venv/bin/python -m bench.smalltalk --index-dir /tmp/qabot-smalltalk-index
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter

from bench.data import ROOT, SEED_CHECK, SEED_DEV, read_jsonl
from bench.provenance import produced_by
from qabot.answering.answerer import Answerer
from qabot.answering.smalltalk import load_smalltalk
from qabot.cli.wiring import open_answerer

SMALLTALK_SET = ROOT / "eval" / "smalltalk.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index-dir", default="index", help="index of corpus/ (built if needed)")
    args = parser.parse_args()
    talking = open_answerer(ROOT / "corpus", args.index_dir, progress=False)
    plain = Answerer(
        talking.retriever,
        confidence=talking.confidence,
        threshold=talking.threshold,
        verifier=talking.verifier,
    )
    print(f"# Small talk on the shipped corpus\n\n{produced_by('bench.smalltalk')}\n")
    smalltalk_set(talking)
    for name, path in (("seed dev", SEED_DEV), ("seed check (reported only)", SEED_CHECK)):
        seed_set(name, read_jsonl(path), plain, talking)
    matching_time(talking)


def smalltalk_set(talking: Answerer) -> None:
    rows = read_jsonl(SMALLTALK_SET)
    answers = talking.answer_batch([row["question"] for row in rows])
    taken = [a.kind == "smalltalk" for a in answers]
    intended = [
        a.kind == "smalltalk" and talking.smalltalk.match(a.question)[0].name == row["intent"]
        for row, a in zip(rows, answers, strict=True)
    ]
    print(f"## The small-talk set (`eval/smalltalk.jsonl`, {len(rows)} utterances)\n")
    print("| measure | count | share |\n|---|---:|---:|")
    print(f"| small-talk reply | {sum(taken)} | {sum(taken) / len(rows):.1%} |")
    print(f"| ... of the intended intent | {sum(intended)} | {sum(intended) / len(rows):.1%} |")
    missed = [row["question"] for row, t in zip(rows, taken, strict=True) if not t]
    print(f"\nNot taken: {', '.join(repr(q) for q in missed) or 'none'}.\n")


def seed_set(name: str, rows: list[dict], plain: Answerer, talking: Answerer) -> None:
    questions = [row["question"] for row in rows]
    before, after = plain.answer_batch(questions), talking.answer_batch(questions)
    lines = []
    for category in ("single-fact", "faq", "near-domain", "out-of-scope"):
        picked = [
            (b, a)
            for row, b, a in zip(rows, before, after, strict=True)
            if row["category"] == category
        ]
        answered = sum(b.found for b, _ in picked)
        lost = sum(b.found and a.kind == "smalltalk" for b, a in picked)
        declined_before = sum(not b.found for b, _ in picked)
        declined_after = sum(not a.found and a.kind != "smalltalk" for _, a in picked)
        chatter = sum(a.kind == "smalltalk" for _, a in picked)
        lines.append(
            f"| {category} | {len(picked)} | {answered} | {lost} | "
            f"{declined_before / len(picked):.1%} | {declined_after / len(picked):.1%} | {chatter} |"
        )
    found_same = [a.found for a in after] == [b.found for b in before]
    print(f"## {name} ({len(rows)} questions)\n")
    print(
        "| category | questions | answered without small talk | of those, now small talk | "
        "declined without | declined with | small-talk replies |\n|---|---:|---:|---:|---:|---:|---:|"
    )
    print("\n".join(lines))
    print(f"\nEvery question's `found` is the same with and without small talk: {found_same}.\n")


def matching_time(talking: Answerer) -> None:
    """Milliseconds to tell whether a question is small talk, on a set that has seen no word."""
    questions = [row["question"] for row in read_jsonl(SEED_DEV) + read_jsonl(SMALLTALK_SET)]
    fresh = load_smalltalk(ROOT / "corpus")
    times = []
    for question in questions:
        start = time.perf_counter()
        fresh.match(question)
        times.append((time.perf_counter() - start) * 1000)
    kinds = Counter(fresh.match(q) is not None for q in questions)
    print("## The cost\n")
    print(
        f"Telling whether one question is small talk ({len(fresh.intents)} intents), each word "
        f"met for the first time: median {statistics.median(times):.2f} ms, max "
        f"{max(times):.2f} ms over {len(questions)} questions ({kinds[True]} small talk), on "
        "this 2-core machine. Questions of more than 8 words are skipped at once."
    )


if __name__ == "__main__":
    main()
