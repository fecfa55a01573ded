"""Fit the confidence model on dev data, validate it with grouped folds, write the JSON.

Label: 1 when the question is answerable and the top hit (under the chosen fusion) is right;
0 otherwise (every near-domain and out-of-scope question is 0). Data: dev blocks only —
by default those of the shipped model, StackFAQ block 0, SciFact train and seed dev (with its
near-domain and out-of-scope questions); ``--corpora`` adds DoQA and OR-ShARC block 0.

Folds are grouped: all questions about one thread (StackFAQ), one group of claims sharing a
cited abstract (SciFact), one gold entry (DoQA, OR-ShARC) or one fact (seed) stay in one fold. Each corpus weighs the same in
the fit. The default threshold is the highest that declines at most 2 % of all answerable dev
questions (pooled, out-of-fold probabilities). The features read the dense part of the top
answer's score, not the fused one (see `qabot.answering.features.confidence_features`).

    .venv/bin/python -m bench.train_confidence > bench/results/confidence.md
    .venv/bin/python -m bench.train_confidence --write   # also ship the JSON

With ``--verifier``, the shipped verifier reads each row's top hit as the product does (a passage
answer's highlighted sentence; `bench.verifier_scores`) and its clipped logit joins as the last
feature of the verified model (``qabot/data/confidence-verified.json``), fitted on the rows it
reads only, by default on the five dev blocks and the verifier's calibration SQuAD articles
(``squad-cal``, never trained on): answerable, near-domain and adversarial questions.

    .venv/bin/python -m bench.train_confidence --verifier --write > bench/results/confidence-verified.md
    .venv/bin/python -m bench.train_confidence --verifier --read-flag-only   # what its probability adds
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace

import numpy as np

from bench.confidence_figures import DECLINE_BUDGET, budget_threshold, report
from bench.data import DEV_NAMES, ROOT, SQUAD_CAL, Question
from bench.dev_corpora import Bench, load_bench
from bench.fusion_search import Arrays, evidence_arrays, right_first
from bench.provenance import produced_by
from bench.verifier_scores import READS, with_verifier
from qabot.answering.adaptive import question_led_share
from qabot.answering.confidence import (
    expected_calibration_error,
    fit,
)
from qabot.answering.features import (
    FEATURES,
    RIVALS,
    SIGNS,
    VERIFIED_FEATURES,
    VERIFIER,
    answer_key,
    hit_features,
    margin,
    question_evidence,
)
from qabot.documents.chunking import Passage
from qabot.index.keyword import tokenize
from qabot.models.verifier import verifier_identity

FOLDS = 5
SHIPPED = ROOT / "src" / "qabot" / "data" / "confidence.json"
VERIFIED = ROOT / "src" / "qabot" / "data" / "confidence-verified.json"
SHIPPED_CORPORA = DEV_NAMES  # all five dev blocks (issue 19)
DEV_TITLES = {
    "stackfaq": "StackFAQ dev block",
    "scifact": "SciFact train",
    "seed": "seed dev",
    "doqa": "DoQA dev block",
    "orsharc": "OR-ShARC dev block",
    SQUAD_CAL: "SQuAD calibration articles (quarter removed)",
}


@dataclass(frozen=True)
class CorpusFacts:
    """What the features read of a corpus besides a question's scores, worked out once (the
    product keeps the same facts per index: `qabot.answering.facts.IndexFacts`)."""

    passages: list[Passage]
    keys: list[str]  # `answer_key`: passages with one key are one answer, never rivals
    tokens: list[set[str]]  # each passage's keyword tokens
    frequency: Counter[str]  # in how many passages each token is

    @classmethod
    def of(cls, bench: Bench) -> CorpusFacts:
        tokens = [set(t) for t in tokenize([p.keyword_text() for p in bench.passages])]
        frequency = Counter(t for mine in tokens for t in mine)
        return cls(bench.passages, [answer_key(p) for p in bench.passages], tokens, frequency)


def faq_bm25(bench: Bench) -> np.ndarray:
    """Raw BM25 of each question on each FAQ entry's phrasings (the best), ``(questions,
    passages)``; 0 for a body passage."""
    scores = np.zeros((len(bench.questions), len(bench.passages)))
    if bench.faq_keyword_index is None:
        return scores
    number = {p.passage_id: n for n, p in enumerate(bench.passages)}
    phrasings = bench.faq_keyword_index.scores_batch([q.text for q in bench.questions])
    for row, passage_id in enumerate(bench.faq_keyword_index.ids):
        column = number[passage_id]
        scores[:, column] = np.maximum(scores[:, column], phrasings[:, row])
    return scores


def top_hit(
    question: str,
    fused: np.ndarray,
    dense: np.ndarray,
    grains: np.ndarray,
    faq: np.ndarray,
    facts: CorpusFacts,
    vocabulary: Collection[str],
) -> tuple[int, np.ndarray]:
    """One question's top passage by ``fused`` and its features, as `Answerer.features` reads
    them. Each array is the question's own over every passage (``grains``: ``(passages, 3)``)."""
    order = np.argsort(-fused, kind="stable")[:RIVALS]
    top = int(order[0])
    features = hit_features(
        question,
        question_evidence(question, vocabulary),
        facts.passages[top],
        facts.tokens[top],
        dense=float(dense[top]),
        margin=margin(dense[order], [facts.keys[i] for i in order], 0),
        grains=grains[top],
        faq_bm25=float(faq[top]),
    )
    return top, features


def feature_rows(
    arrays: Arrays, *, ablate: bool = False
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, bool, int]]]:
    """Features of each question's top hit, its label, and (question number, ablated, top hit).

    With ``ablate``, each answerable question is asked of the corpus with its right answers
    taken out: its gold passages are masked, and their words that no other passage has leave
    the vocabulary. The top hit is then wrong by construction (label 0): a near-domain
    question whose topic is in the corpus and whose fact is not.
    """
    bench = arrays.bench
    fusion = bench.fusion()  # the weights the product's index of this corpus would use
    fused = fusion.fuse(arrays.grains, arrays.is_faq, arrays.keyword)
    right = right_first(arrays, fused) & arrays.answerable
    # Features read the dense part: the keyword part is normalised per question (see evidence).
    dense = fusion.dense(arrays.grains, arrays.is_faq)
    facts = CorpusFacts.of(bench)
    faq = faq_bm25(bench)
    rows, labels, owners = [], [], []
    for q, question in enumerate(bench.questions):
        cases = [(fused[q], bench.vocabulary, float(right[q]), False)]
        if ablate and question.relevant:
            cases.append((*_without_answers(bench, facts, question, fused[q]), 0.0, True))
        for scores, vocabulary, label, ablated in cases:
            top, features = top_hit(
                question.text, scores, dense[q], arrays.grains[q], faq[q], facts, vocabulary
            )
            rows.append(features)
            labels.append(label)
            owners.append((q, ablated, top))
    return np.array(rows), np.array(labels), owners


def _without_answers(
    bench: Bench, facts: CorpusFacts, question: Question, fused: np.ndarray
) -> tuple[np.ndarray, frozenset[str]]:
    """``fused`` with the question's gold passages masked, and the vocabulary without the words
    only they have."""
    gold = np.array([k in question.relevant for k in bench.gold_key])
    only_gold = Counter(t for n in np.flatnonzero(gold) for t in facts.tokens[n])
    gone = {t for t, c in only_gold.items() if facts.frequency[t] == c}
    return np.where(gold, -np.inf, fused), bench.vocabulary - gone


def fold_of(group: str) -> int:
    return int(hashlib.sha256(group.encode()).hexdigest(), 16) % FOLDS


@dataclass
class DevRows:
    """Feature rows of the dev questions of several corpora, with what each row is."""

    x: np.ndarray
    y: np.ndarray
    corpus: np.ndarray  # the corpus's name
    fold: np.ndarray  # its grouped fold
    category: np.ndarray  # answerable | ablated | near-domain | out-of-scope
    question: np.ndarray  # the question's number in its corpus
    top: np.ndarray  # the passage number of its top hit

    def where(self, mask: np.ndarray) -> DevRows:
        """The rows where ``mask`` holds."""
        return DevRows(*(getattr(self, f)[mask] for f in self.__dataclass_fields__))

    def corpus_weights(self) -> np.ndarray:
        """Each corpus weighs the same in the fit."""
        return np.array([1.0 / np.sum(self.corpus == c) for c in self.corpus])


def dev_rows(
    names: Sequence[str], *, ablate: bool = False, arrays: dict[str, Arrays] | None = None
) -> DevRows:
    """`feature_rows` of each named dev corpus, stacked (``arrays``: corpora already loaded)."""
    x, y, corpus, fold, category, question, top = [], [], [], [], [], [], []
    for name in names:
        arrays_ = arrays[name] if arrays else evidence_arrays(load_bench(name))
        features, labels, owners = feature_rows(arrays_, ablate=ablate)
        questions = arrays_.bench.questions
        x.append(features)
        y.append(labels)
        corpus += [name] * len(labels)
        fold += [fold_of(questions[q].group) for q, _, _ in owners]
        category += ["ablated" if a else questions[q].category for q, a, _ in owners]
        question += [q for q, _, _ in owners]
        top += [t for _, _, t in owners]
    return DevRows(
        np.concatenate(x),
        np.concatenate(y),
        np.array(corpus),
        np.array(fold),
        np.array(category),
        np.array(question),
        np.array(top),
    )


def out_of_fold(
    x: np.ndarray, rows: DevRows, names: Sequence[str], weights: np.ndarray
) -> np.ndarray:
    """Each row's probability from the model fitted on the other folds (columns ``names``)."""
    signs = [SIGNS.get(f, 1) for f in names]
    oof = np.zeros(len(rows.y))
    for k in range(FOLDS):
        held = rows.fold == k
        model = fit(x[~held], rows.y[~held], names, signs, weights=weights[~held])
        oof[held] = model.predict(x[held])
    return oof


def leave_one_corpus_out(rows: DevRows, features: Sequence[str], weights: np.ndarray) -> None:
    """Print each corpus's ECE from a model fitted on the other corpora only: how the score
    travels to a collection the fit never saw."""
    signs = [SIGNS.get(f, 1) for f in features]
    print("\nLeave one corpus out (fitted on the other corpora, scored on this one):\n")
    print("| corpus | mean score | right first | ECE |")
    print("|---|---|---|---|")
    for name in dict.fromkeys(rows.corpus):
        held = rows.corpus == name
        model = fit(rows.x[~held], rows.y[~held], features, signs, weights=weights[~held])
        p = model.predict(rows.x[held])
        ece = expected_calibration_error(p, rows.y[held])
        print(f"| {name} | {p.mean():.3f} | {rows.y[held].mean():.3f} | {ece:.3f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="write the shipped JSON")
    parser.add_argument(
        "--verifier",
        action="store_true",
        help="fit the verified model: the rows the verifier reads (passage answers), its score "
        f"as the last feature; corpora default to the five and {SQUAD_CAL}",
    )
    trial = "with --verifier, a dev trial (never written): "
    parser.add_argument(
        "--read", choices=READS, default="sentence", help=trial + "what it reads of a passage"
    )
    parser.add_argument(
        "--read-flag-only", action="store_true", help=trial + "its probability column zeroed"
    )
    parser.add_argument(
        "--corpora",
        nargs="+",
        choices=(*DEV_NAMES, SQUAD_CAL),
        default=None,
        help=f"dev corpora to fit on (default: the shipped model's, {' '.join(SHIPPED_CORPORA)})",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=DECLINE_BUDGET,
        help=f"share of answerable dev questions the threshold may decline (default {DECLINE_BUDGET})",
    )
    parser.add_argument(
        "--ablate",
        action="store_true",
        help="also fit on each answerable question asked with its answers taken out",
    )
    parser.add_argument(
        "--ablated-weight",
        type=float,
        default=1.0,
        help="weight of an ablated row against a question as asked (default 1)",
    )
    args = parser.parse_args(argv)
    default = (*SHIPPED_CORPORA, SQUAD_CAL) if args.verifier else SHIPPED_CORPORA
    names = tuple(args.corpora or default)
    arrays = {name: evidence_arrays(load_bench(name)) for name in names}
    rows = dev_rows(names, ablate=args.ablate, arrays=arrays)
    features = FEATURES
    if args.verifier:
        rows, read = with_verifier(rows, arrays, args.read)
        features = VERIFIED_FEATURES
        if args.read_flag_only:
            rows.x[:, features.index(VERIFIER)] = 0.0
    weights = rows.corpus_weights() * np.where(rows.category == "ablated", args.ablated_weight, 1)
    oof = out_of_fold(rows.x, rows, features, weights)
    threshold = budget_threshold(oof, rows.category, args.budget)
    signs = [SIGNS.get(f, 1) for f in features]
    final = fit(rows.x, rows.y, features, signs, weights=weights)
    final = replace(
        final,
        threshold=round(threshold, 4),
        fitted_on=_fitted_on(names, arrays, args.verifier),
    )
    print("# Confidence model: grouped 5-fold figures on dev data\n")
    print(produced_by("bench.train_confidence", argv) + "\n")
    if args.verifier:
        print(
            f"The verified model: the verifier read {read.sum()} of the {len(read)} top answers "
            "(passage answers to questions); the others have 0 in its two columns.\n"
        )
    report(final, rows.x, rows.y, oof, rows.corpus, rows.category, threshold, args.budget)
    if len(names) > 1:
        leave_one_corpus_out(rows, features, weights)
    if args.write and not args.read_flag_only and args.read == "sentence":
        path = VERIFIED if args.verifier else SHIPPED
        final.save(path)
        print(f"\nwrote {path.relative_to(ROOT)}", file=sys.stderr)
    return 0


def _fitted_on(names: Sequence[str], arrays: dict[str, Arrays], verifier: bool) -> str:
    shares = "; ".join(f"{n} {question_led_share(arrays[n].bench.profile()):g}" for n in names)
    titles = " + ".join(DEV_TITLES[n] for n in names)
    note = f"{titles}; fusion adaptive ({shares} question-led)"
    if verifier:
        note += f"; verifier sha256 {verifier_identity()['sha256'][:16]}"
    return note


if __name__ == "__main__":
    sys.exit(main())
