from qabot.documents.chunking import chunk_document, split_paragraph, split_sentences
from qabot.documents.corpus import Document, load_corpus
from qabot.documents.grains import GRAIN_QUESTION, GRAIN_SENTENCE, GRAIN_WHOLE

from conftest import SEED_CORPUS


def test_seed_passages_keep_document_metadata():
    corpus = load_corpus(SEED_CORPUS)
    passages = chunk_document(corpus.documents[0])
    doc_id = "nato-ukraine-2023-11-29.txt"
    assert [p.passage_id for p in passages] == [
        f"{doc_id}#0",
        f"{doc_id}#1",
        f"{doc_id}#2",
        f"{doc_id}#3",
        f"{doc_id}#faq-0",
        f"{doc_id}#faq-1",
        f"{doc_id}#faq-2",
    ]
    assert all(p.date == "2023-11-29" and len(p.sources) == 2 for p in passages)
    faq = passages[4]
    assert faq.kind == "faq" and faq.question == "What is NATO?"
    assert faq.grain_texts()[:2] == [
        (GRAIN_WHOLE, f"What is NATO? {faq.text}"),
        (GRAIN_QUESTION, "What is NATO?"),
    ]
    assert {grain for grain, _ in faq.grain_texts()[2:]} == {GRAIN_SENTENCE}
    assert not any(p.text.startswith(("date", "Sources", "Frequently")) for p in passages)


def test_long_paragraph_is_split_at_sentences_under_budget():
    sentence = "This sentence has exactly forty-two chars."
    paragraph = " ".join([sentence] * 10)
    pieces = split_paragraph(paragraph, max_chars=100)
    assert all(len(p) <= 100 for p in pieces)
    assert " ".join(pieces) == paragraph
    assert all(p.endswith(".") for p in pieces)


def test_sentence_split_keeps_abbreviations_of_numbers_together():
    assert split_sentences("It costs 3.5 euros. Then it stops! Why? Because.") == [
        "It costs 3.5 euros.",
        "Then it stops!",
        "Why?",
        "Because.",
    ]


def test_structured_rows_keep_their_ids():
    faq = Document("t0_a0", "How?", "Like this.", "faq.jsonl", "jsonl", question="How?")
    doc = Document("4983", "A title", "Body one.\n\nBody two.", "c.jsonl", "jsonl")
    assert [p.passage_id for p in chunk_document(faq)] == ["t0_a0#faq-0"]
    passages = chunk_document(doc)
    assert [p.passage_id for p in passages] == ["4983#0", "4983#1"]
    assert passages[0].section == "A title"
    assert passages[0].grain_texts() == [(GRAIN_WHOLE, "A title Body one.")]


def test_text_without_sentence_ends_is_cut_at_words():
    pieces = split_paragraph("word " * 3000, max_chars=1000)
    assert len(pieces) == 15
    assert all(len(p) <= 1000 and not p.startswith(" ") for p in pieces)
    assert " ".join(pieces).split() == ["word"] * 3000


def test_a_word_longer_than_the_budget_is_cut_to_size():
    # The probe's file: 2,000,000 characters without a space were one passage.
    document = Document(
        "blob.txt", "blob", "A short intro.\n\n" + "x" * 2_000_000, "blob.txt", "txt"
    )
    passages = chunk_document(document, max_chars=1000)
    assert max(len(p.text) for p in passages) == 1000
    assert "".join(p.text for p in passages[1:]) == "x" * 2_000_000
    assert split_paragraph("ab cdefgh ij", max_chars=3) == ["ab", "cde", "fgh", "ij"]
