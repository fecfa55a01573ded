"""Late chunking: sentence rows pooled out of their passage's pass (`qabot.index.late_chunking`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from qabot.documents.chunking import Passage
from qabot.documents.grains import GRAIN_SENTENCE
from qabot.errors import ModelError
from qabot.index.build import build_index, load_index
from qabot.index.embed_cache import EmbeddingCache, cached_embed
from qabot.index.grains import grain_rows
from qabot.index.late_chunking import late_groups, late_vectors, sentence_spans
from qabot.models.onnx_embedder import OnnxEmbedder, token_ranges

from fakes import FakeEmbedder


class FakeSpanEmbedder(FakeEmbedder):
    """Pools a span as the fake vector of its text; counts the texts it ran a pass over."""

    def __init__(self) -> None:
        super().__init__()
        self.passes: list[str] = []
        self._inner = FakeEmbedder()  # its calls are not counted as texts embedded alone

    def embed_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        self.passes.extend(texts)
        pooled = [
            self._inner.embed_batch([t[a:b] for a, b in s])
            for t, s in zip(texts, spans, strict=True)
        ]
        return self._inner.embed_batch(texts), pooled


def _passages() -> list[Passage]:
    def body(n: int, text: str) -> Passage:
        return Passage(f"a#{n}", "a", "passage", text, "Apples", "a.md", section="Apples")

    return [
        body(0, "Apples grow on trees. They are red or green."),
        body(1, "One sentence only."),
        Passage(
            "a#faq-0",
            "a",
            "faq",
            "Yes, within thirty days. Keep the receipt.",
            "Apples",
            "a.md",
            question="Can I return apples?",
        ),
    ]


def test_sentence_spans_are_found_in_order_or_not_at_all() -> None:
    whole = "Intro The cat sat. The cat sat."
    assert sentence_spans(whole, ["The cat sat.", "The cat sat."]) == [(6, 18), (19, 31)]
    assert sentence_spans(whole, ["The dog sat."]) is None


def test_groups_pair_each_whole_row_with_its_sentences() -> None:
    row_passage, row_grain, texts = grain_rows(_passages())
    groups = late_groups(texts, row_passage, row_grain)
    # The one-sentence passage has no sentence rows; the FAQ entry's answer has two.
    assert [len(g.sentence_rows) for g in groups] == [2, 2]
    for group in groups:
        whole = texts[group.whole_row]
        assert [whole[a:b] for a, b in group.spans] == [texts[r] for r in group.sentence_rows]
        assert all(row_grain[r] == GRAIN_SENTENCE for r in group.sentence_rows)


def test_late_vectors_run_one_pass_per_passage_and_use_the_cache(tmp_path: Path) -> None:
    row_passage, row_grain, texts = grain_rows(_passages())
    embedder = FakeSpanEmbedder()
    cache = EmbeddingCache(tmp_path, embedder.name, backend=embedder.backend)
    vectors = late_vectors(texts, row_passage, row_grain, embedder, cache)
    # The fake pools a span as its text's vector: the same rows as each embedded alone.
    np.testing.assert_allclose(vectors, cached_embed(texts, FakeEmbedder(), None), atol=1e-6)
    assert len(embedder.passes) == 2  # the two passages with sentences
    # Embedded alone: the one-sentence passage and the FAQ question, not the pooled wholes.
    assert embedder.calls == [2]
    again = FakeSpanEmbedder()
    np.testing.assert_allclose(late_vectors(texts, row_passage, row_grain, again, cache), vectors)
    assert again.passes == [] and again.calls == []


def test_an_embedder_without_spans_is_refused() -> None:
    row_passage, row_grain, texts = grain_rows(_passages())
    with pytest.raises(ModelError, match="--sentence-vectors rows"):
        late_vectors(texts, row_passage, row_grain, FakeEmbedder(), None)


def test_the_build_records_late_sentence_vectors(tmp_path: Path) -> None:
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "a.md").write_text("# Apples\n\nApples grow on trees. They are red.\n")
    built = build_index(corpus, tmp_path / "idx", FakeSpanEmbedder(), sentence_vectors="late")
    assert built.manifest.sentence_vectors == "late"
    assert load_index(tmp_path / "idx").manifest.sentence_vectors == "late"
    with pytest.raises(ValueError, match="rows, late"):
        build_index(corpus, tmp_path / "idx2", FakeSpanEmbedder(), sentence_vectors="tokens")


class _Encoding:
    def __init__(self, offsets: list[tuple[int, int]], special: list[int]) -> None:
        self.offsets, self.special_tokens_mask = offsets, special


def test_token_ranges_leave_out_special_tokens_and_cut_off_spans() -> None:
    # [CLS] "ab" "cd" "." "ef" [SEP] over the text "ab cd. ef gh" (gh truncated away).
    encoding = _Encoding([(0, 0), (0, 2), (3, 5), (5, 6), (7, 9), (0, 0)], [1, 0, 0, 0, 0, 1])
    first, last = token_ranges(encoding, [(0, 6), (7, 9), (7, 12)])
    assert list(first) == [1, 4, 4]
    assert list(last) == [4, 5, 4]  # the span running past the window pools nothing


def test_onnx_pools_spans_from_the_same_pass(onnx_folder: Path) -> None:
    embedder = OnnxEmbedder(onnx_folder)
    texts = ["The cat sat on the mat. Dogs bark loudly.", "word " * 400 + "Tail end."]
    spans = [[(0, 23), (24, 41)], [(0, 4), (2000, 2009)]]
    vectors, pooled = embedder.embed_spans(texts, spans)
    np.testing.assert_allclose(vectors, embedder.embed_batch(texts), atol=1e-5)
    alone = embedder.embed_batch(["The cat sat on the mat.", "Dogs bark loudly."])
    cosines = (pooled[0] * alone).sum(axis=1)
    assert np.all(cosines > 0.5) and np.allclose(np.linalg.norm(pooled[0], axis=1), 1.0)
    assert not np.isnan(pooled[1][0]).any() and np.isnan(pooled[1][1]).all()


def test_the_index_command_takes_sentence_vectors(monkeypatch, capsys) -> None:
    from qabot.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["index"]).sentence_vectors == "rows"
    assert parser.parse_args(["index", "--sentence-vectors", "late"]).sentence_vectors == "late"
    monkeypatch.setenv("QABOT_SENTENCE_VECTORS", "late")
    assert build_parser().parse_args(["index"]).sentence_vectors == "late"
    with pytest.raises(SystemExit):
        parser.parse_args(["index", "--sentence-vectors", "tokens"])
    assert "invalid choice: 'tokens'" in capsys.readouterr().err


def test_a_late_index_of_the_seed_corpus_answers(tmp_path: Path, onnx_folder: Path) -> None:
    from qabot.cli import main
    from qabot.cli.wiring import open_answerer

    from conftest import SEED_CORPUS

    index_dir = tmp_path / "idx"
    assert (
        main(
            ["index", str(SEED_CORPUS), "--index-dir", str(index_dir), "--sentence-vectors", "late"]
        )
        == 0
    )
    index = load_index(index_dir)
    assert index.manifest.sentence_vectors == "late" and index.manifest.backend == "onnx"
    answer = open_answerer(SEED_CORPUS, index_dir, verifier=False).answer("What is NATO?")
    assert answer.found and "NATO" in answer.answer


def test_a_rebuild_keeps_the_index_sentence_vectors(tmp_path: Path) -> None:
    from qabot.index.startup import ensure_index

    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "a.md").write_text("# Apples\n\nApples grow on trees. They are red.\n")
    index_dir = tmp_path / "idx"
    build_index(corpus, index_dir, FakeSpanEmbedder(), sentence_vectors="late")
    (corpus / "b.md").write_text("# Pears\n\nPears are sweet. They are green.\n")
    kwargs = {"default_model": "fake-embedder", "log": lambda message: None}
    index, _ = ensure_index(corpus, index_dir, lambda name: FakeSpanEmbedder(), **kwargs)
    assert index.manifest.documents == 2 and index.manifest.sentence_vectors == "late"
    (corpus / "c.md").write_text("# Plums\n\nPlums are purple. They are sour.\n")
    index, _ = ensure_index(corpus, index_dir, lambda name: FakeEmbedder(), **kwargs)
    assert index.manifest.documents == 3 and index.manifest.sentence_vectors == "rows"
