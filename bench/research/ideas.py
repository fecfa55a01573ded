"""Ideas tried against the shipped ranking and confidence, on the dev splits only: one table each.

Found (``bench/research/ideas.md``): none beats the shipped design. The fusion's figures are at a
plateau that no idea moves in every corpus at once, and no confidence variant declines more
near-domain seed questions at the same 2 % budget.

Each idea changes one thing against the shipped design (`qabot.answering.evidence.DEFAULT_FUSION`,
the shipped confidence features) and prints the dev figures beside the shipped ones. Ranking
ideas are scored as `bench.fusion_search` scores a formula (StackFAQ dev hit@1, SciFact train
nDCG@10, seed dev hit@1 on answerable questions); confidence ideas as `bench.train_confidence`
validates the model (grouped 5-fold, threshold declining at most 2 % of all answerable dev
questions, pooled; seed dev declines at that threshold). No test split and no seed check
question is read.

    .venv/bin/python -m bench.research.ideas    # the tables of bench/research/ideas.md
    .venv/bin/python -m bench.research.ideas --only prf bm25

``clauses`` embeds about 62,000 clause texts once (ONNX, about 5 minutes here; cached in
artifacts/quality-cache/); ``coverage`` loads the model with sentence-transformers for its
token vectors (about a minute).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections import Counter
from collections.abc import Callable

import numpy as np

from bench.confidence_figures import DECLINE_BUDGET, budget_threshold
from bench.dev_corpora import embed_cached, load_bench
from bench.fusion_search import Arrays, evidence_arrays, metric
from bench.provenance import produced_by
from bench.train_confidence import DevRows, dev_rows, out_of_fold
from qabot.answering.confidence import expected_calibration_error
from qabot.answering.evidence import DEFAULT_FUSION
from qabot.answering.features import FEATURES
from qabot.documents.chunking import split_sentences
from qabot.documents.grains import GRAIN_SENTENCE, GRAIN_WHOLE
from qabot.index.grains import grain_maxima
from qabot.index.keyword import KeywordIndex, tokenize

NAMES = ("stackfaq", "scifact", "seed")  # the dev corpora these ideas were tried on
Figures = dict[str, float]


def shipped(arrays: dict[str, Arrays]) -> Figures:
    return {k: _figure(a, a.grains, a.keyword) for k, a in arrays.items()}


def _figure(
    arrays: Arrays, grains: np.ndarray, keyword: np.ndarray, normalised: bool = False
) -> float:
    """The corpus's dev figure under the shipped fusion (``normalised``: keyword is final)."""
    if not normalised:
        return metric(arrays, DEFAULT_FUSION.fuse(grains, arrays.is_faq, keyword))
    dense = DEFAULT_FUSION.dense(grains, arrays.is_faq)
    return metric(arrays, DEFAULT_FUSION.combine(dense, arrays.is_faq, keyword))


def prf(arrays: dict[str, Arrays]) -> list[tuple[str, Figures]]:
    """Dense pseudo-relevance feedback (Rocchio): q' = q + beta * mean of the top k passages'
    whole-text vectors, renormalised, then every grain scored again."""
    rows = []
    for k in (1, 3, 5):
        for beta in (0.1, 0.25, 0.5):
            figures = {}
            for name, a in arrays.items():
                bench = a.bench
                n = len(bench.passages)
                whole = np.flatnonzero(bench.row_grain == GRAIN_WHOLE)
                whole_vectors = bench.row_vectors[whole[np.argsort(bench.row_passage[whole])]]
                fused = DEFAULT_FUSION.fuse(a.grains, a.is_faq, a.keyword)
                top = np.argsort(-fused, axis=1, kind="stable")[:, :k]
                moved = bench.query_vectors + beta * whole_vectors[top].mean(axis=1)
                moved /= np.linalg.norm(moved, axis=1, keepdims=True)
                grains = np.concatenate(
                    [
                        grain_maxima(
                            moved[s : s + 64] @ bench.row_vectors.T,
                            bench.row_passage,
                            bench.row_grain,
                            n,
                        )
                        for s in range(0, len(moved), 64)
                    ]
                )
                figures[name] = _figure(a, grains, a.keyword)
            rows.append((f"k={k}, beta={beta}", figures))
    return rows


def bm25(arrays: dict[str, Arrays]) -> list[tuple[str, Figures]]:
    """BM25's k1 and b (shipped: bm25s's 1.2 and 0.75)."""
    rows = []
    for k1, b in ((0.6, 0.9), (0.9, 0.4), (0.9, 0.9), (1.2, 0.4), (1.2, 0.9), (1.5, 0.75)):
        figures = {}
        for name, a in arrays.items():
            bench = a.bench
            keyword_index = KeywordIndex.build(
                [p.passage_id for p in bench.passages],
                [p.keyword_text() for p in bench.passages],
                k1=k1,
                b=b,
            )
            keyword = keyword_index.scores_batch([q.text for q in bench.questions])
            figures[name] = _figure(a, a.grains, keyword)
        rows.append((f"k1={k1}, b={b}", figures))
    return rows


def keyword_floor(arrays: dict[str, Arrays]) -> list[tuple[str, Figures]]:
    """BM25 divided by max(best BM25 among the candidates, alpha * the question's ideal score)
    instead of the best alone, so that a question matching only common words gets little
    keyword evidence. Ideal = the sum of the idf of its tokens the corpus has (bm25s's
    Lucene idf)."""
    ideals = {name: _ideal_scores(a) for name, a in arrays.items()}
    rows = []
    for alpha in (0.1, 0.2, 0.3, 0.5, 0.7):
        figures = {}
        for name, a in arrays.items():
            floor = np.maximum(a.keyword.max(axis=1), alpha * ideals[name])[:, None]
            keyword = np.divide(a.keyword, floor, out=np.zeros_like(a.keyword), where=floor > 0)
            figures[name] = _figure(a, a.grains, keyword, normalised=True)
        rows.append((f"alpha={alpha}", figures))
    return rows


def _ideal_scores(arrays: Arrays) -> np.ndarray:
    bench = arrays.bench
    documents = [set(t) for t in tokenize([p.keyword_text() for p in bench.passages])]
    frequency = Counter(t for tokens in documents for t in tokens)
    total = len(documents)

    def idf(token: str) -> float:
        df = frequency[token]
        return math.log(1 + (total - df + 0.5) / (df + 0.5))

    questions = tokenize([q.text for q in bench.questions])
    return np.array([sum(idf(t) for t in tokens if t in frequency) for tokens in questions])


_CLAUSE_CUT = re.compile(r"(?<=[,;:])\s+|\s+[—–-]\s+")


def clauses(arrays: dict[str, Arrays]) -> list[tuple[str, Figures]]:
    """Clauses (a sentence cut at , ; : and dashes, parts of 3+ words) as more sentence rows:
    finer evidence for a question about one clause of a long sentence."""
    from qabot.cli.wiring import cache_dir
    from qabot.models.backends import load_embedder
    from qabot.models.embedding import bundled_model_path

    def factory():
        return load_embedder(str(bundled_model_path()), "onnx", cache_dir=cache_dir())

    figures = {}
    for name, a in arrays.items():
        bench = a.bench
        owner, texts = [], []
        for number, passage in enumerate(bench.passages):
            for sentence in split_sentences(passage.text):
                parts = [p.strip() for p in _CLAUSE_CUT.split(sentence) if p.strip()]
                parts = [p for p in parts if len(p.split()) >= 3]
                if len(parts) > 1:
                    owner += [number] * len(parts)
                    texts += parts
        vectors = embed_cached(texts, f"{name}-clause", factory)
        owner = np.array(owner)
        starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        grains = a.grains.copy()
        for s in range(0, len(bench.questions), 64):
            best = np.maximum.reduceat(bench.query_vectors[s : s + 64] @ vectors.T, starts, axis=1)
            part = grains[s : s + 64, owner[starts], GRAIN_SENTENCE]
            grains[s : s + 64, owner[starts], GRAIN_SENTENCE] = np.maximum(part, best)
        figures[name] = _figure(a, grains, a.keyword)
    return [("clauses as sentence rows", figures)]


def hubness(arrays: dict[str, Arrays]) -> list[tuple[str, Figures]]:
    """Hub correction (as CSLS): every grain score of a passage minus lambda times its hubness,
    the mean cosine of its whole text with its 10 nearest sentence/question rows of other
    passages (pseudo-questions from the corpus itself), so that a passage close to everything
    (a generic FAQ entry) stops winning questions it does not answer."""
    hubs = {name: _hubness(a, 10) for name, a in arrays.items()}
    rows = []
    for weight in (0.05, 0.1, 0.2, 0.3):
        figures = {
            name: _figure(a, a.grains - weight * hubs[name][None, :, None], a.keyword)
            for name, a in arrays.items()
        }
        rows.append((f"lambda={weight}", figures))
    return rows


def _hubness(arrays: Arrays, k: int) -> np.ndarray:
    bench = arrays.bench
    n = len(bench.passages)
    whole = bench.row_vectors[np.flatnonzero(bench.row_grain == GRAIN_WHOLE)]
    probes = np.flatnonzero(bench.row_grain != GRAIN_WHOLE)
    vectors, owner = bench.row_vectors[probes], bench.row_passage[probes]
    hub = np.zeros(n)
    for s in range(0, n, 512):
        scores = whole[s : s + 512] @ vectors.T
        scores[owner[None, :] == np.arange(s, min(s + 512, n))[:, None]] = -np.inf
        top = -np.partition(-scores, min(k, scores.shape[1] - 1) - 1, axis=1)[:, :k]
        hub[s : s + 512] = np.nanmean(np.where(np.isfinite(top), top, np.nan), axis=1)
    return hub


RANKING: dict[str, Callable[[dict[str, Arrays]], list[tuple[str, Figures]]]] = {
    "prf": prf,
    "bm25": bm25,
    "keyword-floor": keyword_floor,
    "clauses": clauses,
    "hubness": hubness,
}


def confidence_row(label: str, rows: DevRows, x: np.ndarray, names, weights) -> str:
    """One table row: threshold, answerable declined per corpus, seed near/out declined, ECE."""
    oof = out_of_fold(x, rows, names, weights)
    threshold = budget_threshold(oof, rows.category, DECLINE_BUDGET)
    declined = oof < threshold
    cells = [label, f"{threshold:.3f}"]
    for corpus in NAMES:
        mine = (rows.corpus == corpus) & (rows.category == "answerable")
        cells.append(f"{declined[mine].sum()}/{mine.sum()}")
    seed = rows.corpus == "seed"
    for category in ("near-domain", "out-of-scope"):
        mine = seed & (rows.category == category)
        cells.append(f"{declined[mine].sum()}/{mine.sum()}")
    original = seed & (rows.category != "ablated")
    cells.append(f"{expected_calibration_error(oof[original], rows.y[original]):.3f}")
    return "| " + " | ".join(cells) + " |"


def confidence_ideas(only: set[str], arrays: dict[str, Arrays]) -> None:
    print("## Confidence\n")
    print("Threshold: declines at most 2 % of all answerable dev questions (pooled, out of fold).")
    print("Answerable declined per corpus; near-domain and out-of-scope declined on seed dev.\n")
    print(
        "| variant | threshold | StackFAQ answerable declined | SciFact | seed | "
        "seed near-domain declined | seed out-of-scope declined | seed ECE |"
    )
    print("|---|---|---|---|---|---|---|---|")
    rows = dev_rows(NAMES, arrays=arrays)
    weights = rows.corpus_weights()
    print(confidence_row("**shipped**", rows, rows.x, FEATURES, weights))
    if "seed-weight" in only:
        for times in (3, 10, 30):
            heavier = weights * np.where(rows.corpus == "seed", times, 1.0)
            print(confidence_row(f"seed dev weighs {times}x", rows, rows.x, FEATURES, heavier))
    if "ablation" in only:
        label = "+ each answerable question again with its answers taken out (label 0)"
        ablated = dev_rows(NAMES, ablate=True, arrays=arrays)
        print(confidence_row(label, ablated, ablated.x, FEATURES, ablated.corpus_weights()))
    if "coverage" in only:
        label = "+ token coverage of the question by the answer"
        x = np.column_stack([rows.x, token_coverage(rows, arrays)])
        print(confidence_row(label, rows, x, (*FEATURES, "coverage"), weights))


def token_coverage(rows: DevRows, arrays: dict[str, Arrays]) -> np.ndarray:
    """Per row: the mean, over the question's content word pieces, of the best cosine with any
    word piece of its top answer (the model's own contextual token vectors, BERTScore-style)."""
    import os

    from qabot.index.keyword import _stopwords
    from qabot.models.embedding import bundled_model_path
    from qabot.offline import OFFLINE_ENV

    os.environ.update(OFFLINE_ENV)
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(bundled_model_path()), device="cpu")
    stopwords = _stopwords()

    def pieces(texts: list[str]) -> list[tuple[list[str], np.ndarray]]:
        outputs = model.encode(texts, output_value="token_embeddings", batch_size=32)
        result = []
        for text, vectors in zip(texts, outputs, strict=True):
            vectors = vectors.cpu().numpy()
            ids = model.tokenizer(text, truncation=True, max_length=model.max_seq_length)
            words = model.tokenizer.convert_ids_to_tokens(ids["input_ids"])
            result.append((words, vectors / np.linalg.norm(vectors, axis=1, keepdims=True)))
        return result

    special = {"[CLS]", "[SEP]"}
    coverage = np.zeros(len(rows.y))
    for name in NAMES:
        bench = arrays[name].bench
        mine = np.flatnonzero(rows.corpus == name)
        questions = pieces([bench.questions[q].text for q in rows.question[mine]])
        answers = pieces([bench.passages[t].grain_texts()[0][1] for t in rows.top[mine]])  # whole
        for row, (qw, qv), (aw, av) in zip(mine, questions, answers, strict=True):
            keep = [
                i
                for i, w in enumerate(qw)
                if w not in special and (w.startswith("##") or (w.isalnum() and w not in stopwords))
            ]
            body = [i for i, w in enumerate(aw) if w not in special]
            if keep:
                coverage[row] = float((qv[keep] @ av[body].T).max(axis=1).mean())
    return coverage


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ideas = [*RANKING, "seed-weight", "ablation", "coverage"]
    parser.add_argument("--only", nargs="+", choices=ideas, default=ideas)
    only = set(parser.parse_args(argv).only)
    print("# Ideas tried on the dev splits (none beat the shipped design)\n")
    print(produced_by("bench.research.ideas", argv) + "\n")
    wanted = [name for name in RANKING if name in only]
    arrays = {name: evidence_arrays(load_bench(name)) for name in NAMES}  # read once, for all
    if wanted:
        base = shipped(arrays)
        print("## Ranking\n")
        print("Cells: dev figure (change against the shipped design).\n")
        print("| idea | variant | StackFAQ dev hit@1 | SciFact train nDCG@10 | seed dev hit@1 |")
        print("|---|---|---|---|---|")
        print("| **shipped** | | " + " | ".join(f"{base[k]:.4f}" for k in NAMES) + " |")
        for idea in wanted:
            for variant, figures in RANKING[idea](arrays):
                cells = " | ".join(f"{figures[k]:.4f} ({figures[k] - base[k]:+.4f})" for k in NAMES)
                print(f"| {idea} | {variant} | {cells} |", flush=True)
        print()
    if only & {"seed-weight", "ablation", "coverage"}:
        confidence_ideas(only, arrays)
    return 0


if __name__ == "__main__":
    sys.exit(main())
