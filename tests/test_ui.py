"""The chat page's bookkeeping in plain Python: sessions, follow-ups, votes and the handlers.

The browser tests drive the same code through Chromium; these pin it without one.
"""

from types import SimpleNamespace

import gradio as gr
import pytest
from stubs import StubAnswerer

from qabot.web.chat import Chat, ChatSession, vote_value
from qabot.web.feedback import FeedbackStore
from qabot.web.ui import (
    INVALID_VOTE,
    ChatEvents,
    build_chat,
    describe_corpus,
    example_question,
)

TABLE = {
    "How does NATO support Ukraine?": (True, "NATO supports Ukraine."),
    "How does NATO support Ukraine? cyber defence": (True, "cyber defence for Ukraine"),
    "What is interoperability?": (True, "Working together."),
}


@pytest.fixture
def store():
    store = FeedbackStore(":memory:")
    yield store
    store.close()


@pytest.fixture
def chat(store):
    return Chat(StubAnswerer(TABLE, faq=("What is NATO?",)), feedback=store)


def test_a_new_session_remembers_nothing():
    session = ChatSession()
    assert session.previous is None and dict(session.votes) == {}
    assert session.feedback_id(1) is None


def test_a_turn_remembers_the_question_and_the_feedback_row(chat, store):
    reply, session = chat.turn("How does NATO support Ukraine?", [], ChatSession())
    assert session.previous == "How does NATO support Ukraine?"
    assert dict(session.votes) == {1: reply.feedback_id}
    assert store.rows()[-1]["id"] == reply.feedback_id


def test_a_followup_keeps_the_question_it_continued(chat):
    first, session = chat.turn("How does NATO support Ukraine?", [], ChatSession())
    follow, session = chat.turn("and cyber defence?", first.history, session)
    assert follow.followup
    assert follow.answer.question == "How does NATO support Ukraine? cyber defence"
    # The next follow-up continues the original question, not the refocused one.
    assert session.previous == "How does NATO support Ukraine?"
    assert dict(session.votes) == {1: first.feedback_id, 3: follow.feedback_id}
    assert first.feedback_id != follow.feedback_id


def test_a_new_question_changes_what_is_followed_up(chat):
    first, session = chat.turn("How does NATO support Ukraine?", [], ChatSession())
    second, session = chat.turn("What is interoperability?", first.history, session)
    assert not second.followup
    assert session.previous == "What is interoperability?"
    assert sorted(session.votes) == [1, 3]


def test_a_turn_leaves_the_old_session_unchanged(chat):
    before = ChatSession()
    chat.turn("What is interoperability?", [], before)
    assert before == ChatSession()


def test_without_a_store_the_session_has_no_rows():
    chat = Chat(StubAnswerer(TABLE))
    reply, session = chat.turn("What is interoperability?", [], ChatSession())
    assert reply.feedback_id is None and dict(session.votes) == {1: None}
    chat.vote(session, 1, "Like")  # nothing to store, nothing raised


@pytest.mark.parametrize(
    ("liked", "value"),
    [(True, 1), ("Like", 1), (False, -1), ("Dislike", -1), (None, None), ("", None)],
)
def test_vote_value(liked, value):
    assert vote_value(liked) == value


def test_votes_land_on_the_row_of_the_message_voted_on(chat, store):
    first, session = chat.turn("How does NATO support Ukraine?", [], ChatSession())
    second, session = chat.turn("What is interoperability?", first.history, session)
    chat.vote(session, 3, "Dislike")
    chat.vote(session, 1, "Like")
    votes = {r["id"]: r["vote"] for r in store.rows()}
    assert votes == {first.feedback_id: 1, second.feedback_id: -1}
    chat.vote(session, 3, None)  # withdrawn
    chat.vote(session, 0, "Like")  # the user's own message: nothing to vote on
    chat.vote(session, 9, "Like")  # not in this session
    votes = {r["id"]: r["vote"] for r in store.rows()}
    assert votes == {first.feedback_id: 1, second.feedback_id: None}


def test_the_ask_handler_returns_the_four_outputs(chat):
    events = ChatEvents(chat)
    textbox, history, session, record = events.ask("What is interoperability?", None, ChatSession())
    assert textbox == ""
    assert [m["role"] for m in history] == ["user", "assistant"]
    assert session.previous == "What is interoperability?" and 1 in session.votes
    assert record["question"] == "What is interoperability?" and record["found"] is True


def test_the_ask_handler_turns_a_question_error_into_a_gradio_error(chat, store):
    with pytest.raises(gr.Error, match="The question is empty"):
        ChatEvents(chat).ask("   ", [], ChatSession())
    assert store.rows() == []


def test_options_and_examples_ask_their_question(chat):
    events = ChatEvents(chat)
    *_, session, _ = events.ask("Who won the 1998 World Cup?", [], ChatSession())
    option = SimpleNamespace(value="What is interoperability?")
    _, history, session, record = events.ask_option([], session, option)
    assert record["question"] == "What is interoperability?" and record["found"]
    _, history, _, record = events.ask_example(["How does NATO support Ukraine?"], history, session)
    assert record["question"] == "How does NATO support Ukraine?" and len(history) == 4


@pytest.mark.parametrize("liked", [5, 0, 1, {}, [], "like", "Maybe", 1.5])
def test_vote_value_rejects_what_is_no_vote(liked):
    with pytest.raises(ValueError, match="like, a dislike or a clear"):
        vote_value(liked)


@pytest.mark.parametrize("liked", [5, {}, "Maybe"])
def test_a_bad_vote_is_refused_with_a_fixed_message_and_stores_nothing(chat, store, liked):
    events = ChatEvents(chat)
    *_, session, _ = events.ask("What is interoperability?", [], ChatSession())
    events.vote(session, SimpleNamespace(index=1, liked="Dislike"))
    with pytest.raises(gr.Error) as caught:
        events.vote(session, SimpleNamespace(index=1, liked=liked))
    assert caught.value.message == INVALID_VOTE
    with pytest.raises(gr.Error):  # a message index that is not a number
        events.vote(session, SimpleNamespace(index=[1, 0], liked="Like"))
    assert store.rows()[-1]["vote"] == -1  # the dislike stands


def test_the_vote_handler_stores_the_vote(chat, store):
    events = ChatEvents(chat)
    *_, session, _ = events.ask("What is interoperability?", [], ChatSession())
    events.vote(session, SimpleNamespace(index=1, liked=False))
    assert store.rows()[-1]["vote"] == -1


@pytest.mark.parametrize(
    ("sample", "question"),
    [(["What is NATO?"], "What is NATO?"), ("What is NATO?", "What is NATO?")],
)
def test_example_question(sample, question):
    assert example_question(sample) == question


def test_describe_corpus_names_the_first_titles():
    answerer = StubAnswerer({})
    answerer.passages = tuple(SimpleNamespace(title=t) for t in "aabcdea")
    answerer.manifest = SimpleNamespace(documents=5)
    assert describe_corpus(answerer).startswith(
        "Answers quoted from 5 documents (a, b, c and 2 more), with their source."
    )


def test_describe_corpus_stops_reading_passages_after_three_titles():
    read = []

    def passages():
        for title in "abcdefgh":
            read.append(title)
            yield SimpleNamespace(title=title)

    answerer = StubAnswerer({})
    answerer.passages = passages()
    answerer.manifest = SimpleNamespace(documents=8)
    assert "(a, b, c and 5 more)" in describe_corpus(answerer)
    assert read == ["a", "b", "c"]


def test_the_page_keeps_analytics_off_without_touching_the_environment(monkeypatch):
    monkeypatch.delenv("GRADIO_ANALYTICS_ENABLED", raising=False)
    blocks = build_chat(StubAnswerer({}, faq=("What is NATO?",)), title="Docs bot")
    assert blocks.analytics_enabled is False
    assert "GRADIO_ANALYTICS_ENABLED" not in __import__("os").environ
    config = blocks.get_config_file()
    assert config["title"] == "Docs bot" and config["analytics_enabled"] is False
    dataset = next(
        c for c in config["components"] if c.get("props", {}).get("elem_id") == "qabot-examples"
    )
    assert dataset["props"]["samples"] == [["What is NATO?"]]
