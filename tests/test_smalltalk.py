"""Small talk: "hello", "thanks", "help" get our configured replies, never at an answer's cost."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from qabot.answering.answerer import Answerer
from qabot.answering.smalltalk import (
    Coverage,
    SmallTalk,
    fill,
    load_smalltalk,
    normalise,
)
from qabot.cli.core import format_answer
from qabot.documents.corpus import corpus_files, load_corpus
from qabot.errors import CorpusError
from qabot.web.chat import Chat, ChatSession, render_answer

from conftest import ANSWER_KEYS, ROOT, SEED_CORPUS, SEED_QUESTIONS
from fakes import shop_answerer

SMALLTALK_QUESTIONS = ROOT / "eval" / "smalltalk.jsonl"


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def talk():
    return load_smalltalk()


SHOP_SMALLTALK = (
    '{"intent": "greeting", "answer": "Welcome to the shop! {documents}", "suggest": true}\n'
    '{"intent": "greeting", "question": "ahoy"}\n'
    '{"question": "are you open", "answer": "Ask me when the shop opens."}\n'
)


@pytest.fixture
def answerer(tmp_path: Path, fake_embedder):
    return shop_answerer(tmp_path, fake_embedder, SHOP_SMALLTALK)


def test_the_small_talk_set_is_recognised(talk):
    questions = rows(SMALLTALK_QUESTIONS)
    assert len(questions) >= 60
    taken = [q for q in questions if talk.match(q["question"])]
    assert len(taken) / len(questions) >= 0.95
    assert talk.match("thnaks so much!!")[0].name == "thanks"
    assert talk.match("Hi, hello")[0].name == "greeting"
    assert talk.match("ok thank you")[0].name == "thanks"


def test_questions_that_bring_a_topic_are_not_small_talk(talk):
    for question in (
        "what can you tell me about NATO summits",
        "Translate 'thank you' into French",
        "hello, what is NATO?",
        "help with my taxes",
        "bitcoin",
    ):
        assert talk.match(question) is None, question
    seed = [row["question"] for row in rows(SEED_QUESTIONS)]
    assert [q for q in seed if talk.match(q)] == []


def test_normalise_forgives_case_punctuation_and_stretched_letters():
    assert normalise("Hellooo!!") == normalise("hello") == "helo"
    assert normalise("What’s ur name?") == "whats your name"


def test_the_word_limit_counts_words_after_spelling(talk):
    """ "youre" is two words ("you are"): the limit reads the words after spelling."""

    def limited(words: int) -> SmallTalk:
        return SmallTalk(talk.intents, min_similarity=talk.min_similarity, max_words=words)

    assert talk.match("youre great") is not None
    assert limited(3).match("youre great") is not None
    assert limited(2).match("youre great") is None  # two words as typed, three after spelling
    assert limited(2).match("great great great") is None  # three words as typed


def test_fill_names_the_documents_and_faq_questions():
    covered = Coverage(4, ("A", "B"), ("Can I return shoes?",))
    assert fill("{documents}\n{questions}", covered) == (
        "4 documents: “A”, “B” and 2 more\n• Can I return shoes?"
    )


def test_a_greeting_is_labelled_small_talk_with_starter_questions(answerer):
    answer = answerer.answer("hello!")
    assert answer.kind == "smalltalk" and not answer.found
    assert answer.answer == "Welcome to the shop! 1 document: “Shop help”"
    assert answer.suggestions == ("Can I return shoes?",)
    assert answer.source is None and answer.alternatives == ()
    assert set(answer.to_dict()) == ANSWER_KEYS
    assert format_answer(answer).splitlines()[-2:] == [
        "Try one of these:",
        "  - Can I return shoes?",
    ]


def test_a_corpus_adds_phrasings_and_intents(answerer):
    assert answerer.answer("Ahoy!").kind == "smalltalk"
    assert answerer.answer("are you open?").answer == "Ask me when the shop opens."
    thanks = answerer.answer("thanks")  # the default set still answers what is not overridden
    assert thanks.answer.startswith("You're welcome") and thanks.suggestions == ()


def test_help_lists_what_the_index_covers(answerer):
    answer = answerer.answer("What can you tell me about?")
    assert answer.kind == "smalltalk"
    assert "“Shop help”" in answer.answer and "• Can I return shoes?" in answer.answer


def test_small_talk_takes_only_what_the_documents_answer_worse(answerer):
    assert answerer.answer("Can I return shoes?").kind == "faq"
    said = answerer.answer("thnaks so much")  # 0.83 close to "thanks so much"
    assert said.kind == "smalltalk" and 0.8 < said.score < 0.9
    sure = replace(said, found=True, kind="passage", answer="Opens at nine.", score=0.9)
    assert answerer.smalltalk.reply(sure, answerer.coverage) is sure
    unsure = replace(sure, score=0.25)  # "what are you?" answered with "What is NATO?"
    taken = answerer.smalltalk.reply(unsure, answerer.coverage)
    assert (taken.found, taken.kind, taken.answer) == (False, "smalltalk", said.answer)


def test_the_corpus_small_talk_file_is_not_a_document(answerer, tmp_path):
    corpus = tmp_path / "shop"
    assert [f.name for f in corpus_files(corpus)] == ["help.md"]
    assert [d.doc_id for d in load_corpus(corpus).documents] == ["help.md"]
    assert all(p.doc_id == "help.md" for p in answerer.passages)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("not json", "line 1: not valid JSON"),
        ('["hello"]', "line 1: a row is a JSON object"),
        ('{"question": 3}', "must be text"),
        ('{"answer": "hi"}', "needs an intent"),
        ('{"intent": "x", "question": "yo there"}', "no answer for the intent"),
    ],
)
def test_a_bad_small_talk_file_is_a_clear_error(tmp_path, text, problem):
    (tmp_path / "smalltalk.jsonl").write_text(text + "\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=problem):
        load_smalltalk(tmp_path)


def test_the_chat_offers_starters_and_small_talk_is_no_topic(answerer):
    chat = Chat(answerer)
    reply, session = chat.turn("Can I return shoes?", [], ChatSession())
    reply, session = chat.turn("thanks!", reply.history, session)
    assert reply.answer.kind == "smalltalk" and session.previous == "Can I return shoes?"
    reply, _ = chat.turn("hello", reply.history, session)
    assert reply.history[-1]["options"] == [
        {"value": "Can I return shoes?", "label": "Can I return shoes?"}
    ]
    assert render_answer(reply.answer) == (
        '<p class="qabot-smalltalk">Welcome to the shop! 1 document: “Shop help”</p>'
        '<p class="qabot-suggest">Try one of these:</p>'
    )


def test_seed_questions_answered_before_are_still_answered(seed_answerer):
    questions = [row["question"] for row in rows(SEED_QUESTIONS)]
    plain = Answerer(seed_answerer.retriever)
    talking = Answerer(seed_answerer.retriever, smalltalk=load_smalltalk(SEED_CORPUS))
    before, after = plain.answer_batch(questions), talking.answer_batch(questions)
    assert [a.found for a in after] == [b.found for b in before]
    assert [a.question for a in after if a.kind == "smalltalk"] == []
    hello = talking.answer("hello")
    assert hello.kind == "smalltalk" and len(hello.suggestions) == 3
    # The documents "answer" it with "What is NATO?" at a low probability: small talk is better.
    assert plain.answer("what is this thing?").found
    assert talking.answer("what is this thing?").kind == "smalltalk"
