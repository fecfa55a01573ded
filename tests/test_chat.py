"""The chat function, as plain Python: answers, declines, follow-ups, safe rendering, feedback."""

import pytest
from stubs import StubAnswerer

from qabot.answering.answer import Alternative, Answer, Source
from qabot.documents.structure import Link
from qabot.errors import QuestionError
from qabot.web.chat import Chat, followup_topic, render_answer
from qabot.web.feedback import FeedbackStore

SUPPORT_FAQ = "nato-ukraine-2023-11-29.txt#faq-2"


@pytest.fixture
def chat(seed_answerer, tmp_path):
    store = FeedbackStore(tmp_path / "feedback.sqlite3")
    yield Chat(seed_answerer, feedback=store)
    store.close()


def test_answer_has_highlight_source_and_confidence(chat):
    reply = chat.respond("What is NATO?", [])
    assert reply.answer.found and reply.answer.kind == "faq"
    assert [m["role"] for m in reply.history] == ["user", "assistant"]
    html = reply.history[1]["content"]
    assert "<mark>NATO stands for the North Atlantic Treaty Organization.</mark>" in html
    assert "nato-ukraine-2023-11-29" in html and "2023-11-29" in html
    assert '<a href="https://www.nato.int/"' in html and 'rel="noopener noreferrer"' in html
    assert "confidence 1.00" in html
    assert "<details" in html and "Other matches (2)" in html
    assert "options" not in reply.history[1]


def test_answer_record_is_the_answerers(chat, seed_answerer):
    reply = chat.respond("How does NATO support Ukraine?", [])
    assert (
        reply.answer.to_dict() == seed_answerer.answer("How does NATO support Ukraine?").to_dict()
    )


def test_decline_offers_the_suggestions_as_options(chat):
    reply = chat.respond("Who won the 1998 World Cup?", [])
    assert not reply.answer.found
    bot = reply.history[-1]
    assert "I don&#x27;t know" in bot["content"] and "Did you mean" in bot["content"]
    assert [o["value"] for o in bot["options"]] == list(reply.answer.suggestions)
    assert "What is NATO?" in [o["value"] for o in bot["options"]]


def test_followup_is_understood_in_context(chat):
    first = chat.respond("How does NATO support Ukraine?", [])
    follow = chat.respond("and cyber defence?", first.history, first.answer.question)
    assert follow.followup
    assert follow.answer.found and follow.answer.passage_id == SUPPORT_FAQ
    assert follow.answer.question == "How does NATO support Ukraine? cyber defence"
    assert "cyber defense" in follow.answer.highlight
    assert (
        "Understood as: How does NATO support Ukraine? cyber defence"
        in follow.history[-1]["content"]
    )
    assert len(follow.history) == 4


def test_followup_context_must_be_about_the_topic(chat):
    """After "What is interoperability?", context must not pass off that FAQ as cyber defence."""
    first = chat.respond("What is interoperability?", [])
    follow = chat.respond("and cyber defence?", first.history, first.answer.question)
    assert not follow.followup
    assert follow.answer.question == "and cyber defence?"
    assert follow.answer.passage_id != "nato-ukraine-2023-11-29.txt#faq-1"


def test_a_new_full_question_changes_the_subject(chat):
    first = chat.respond("How does NATO support Ukraine?", [])
    follow = chat.respond("What is interoperability?", first.history, first.answer.question)
    assert not follow.followup
    assert follow.answer.passage_id == "nato-ukraine-2023-11-29.txt#faq-1"


@pytest.mark.parametrize(
    ("message", "table", "expected", "followup"),
    [
        # explicit follow-up: the context wins when its answer is about the topic
        (
            "and energy?",
            {"and energy?": (True, "energy alone"), "Q1? energy": (True, "energy in Q1")},
            "energy in Q1",
            True,
        ),
        # ... and loses when its answer is not
        (
            "and energy?",
            {"and energy?": (True, "energy alone"), "Q1? energy": (True, "about Q1")},
            "energy alone",
            False,
        ),
        ("and energy?", {"Q1? energy": (False, "")}, "I don't know.", False),
        # a bare short question is answered alone when it can be
        (
            "energy",
            {"energy": (True, "energy alone"), "Q1? energy": (True, "energy in Q1")},
            "energy alone",
            False,
        ),
        ("energy", {"Q1? energy": (True, "energy in Q1")}, "energy in Q1", True),
    ],
)
def test_followup_rules(message, table, expected, followup):
    stub = StubAnswerer(table)
    reply = Chat(stub).respond(message, [], previous="Q1?")
    assert stub.asked == [[message, "Q1? energy"]]
    assert (reply.answer.answer, reply.followup) == (expected, followup)


def test_no_context_without_a_previous_question():
    stub = StubAnswerer({})
    reply = Chat(stub).respond("and energy?", [])
    assert stub.asked == [["and energy?"]] and not reply.followup and reply.feedback_id is None


@pytest.mark.parametrize(
    ("message", "topic"),
    [
        ("and cyber defence?", "cyber defence"),
        ("What about the roadmap?", "the roadmap"),
        ("also energy security", "energy security"),
        ("energy security?", "energy security"),
        ("What is NATO?", None),
        ("How does NATO support Ukraine with energy?", None),
        ("and?", None),
    ],
)
def test_followup_topic(message, topic):
    assert followup_topic(message) == topic


def test_questions_are_escaped_never_markup(chat):
    evil = '<img src=x onerror="alert(1)"><script>alert(2)</script> What is NATO?'
    reply = chat.respond(evil, [])
    user = reply.history[0]["content"]
    assert "<img" not in user and "<script" not in user
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&lt;script&gt;" in user


def test_document_text_is_escaped_and_unsafe_links_dropped():
    source = Source(
        title="<b>Evil</b>",
        date="2024-01-01",
        links=(Link("x", "javascript:alert(1)"), Link("<i>ok</i>", 'https://a.example/?q=1&r="2"')),
        passage_id="evil#0",
        doc_id="evil",
        path="evil.txt",
        section="",
    )
    answer = Answer(
        question="q",
        found=True,
        kind="passage",
        answer="Hi <script>alert(1)</script>. <img src=x onerror=alert(2)> there.",
        score=0.8,
        faq_question=None,
        source=source,
        alternatives=(Alternative("evil#1", "passage", "<svg onload=alert(3)>", None, 0.6, "t"),),
        highlight="<img src=x onerror=alert(2)> there.",
    )
    html = render_answer(answer)
    for raw in ("<script", "<img", "<svg", "<b>", "<i>", "javascript:"):
        assert raw not in html
    assert "<mark>&lt;img src=x onerror=alert(2)&gt; there.</mark>" in html
    assert 'href="https://a.example/?q=1&amp;r=&quot;2&quot;"' in html
    assert "&lt;b&gt;Evil&lt;/b&gt;" in html


def test_empty_message_raises(chat):
    with pytest.raises(QuestionError):
        chat.respond("   ", [])


def test_every_reply_is_stored_for_feedback(chat):
    answered = chat.respond("What is NATO?", [])
    declined = chat.respond("Who won the 1998 World Cup?", answered.history)
    chat.feedback.vote(answered.feedback_id, -1)
    rows = chat.feedback.rows()
    assert [r["id"] for r in rows] == [answered.feedback_id, declined.feedback_id]
    assert rows[0]["answer_id"] == "nato-ukraine-2023-11-29.txt#faq-0" and rows[0]["vote"] == -1
    assert rows[1]["found"] == 0 and rows[1]["answer_id"] is None


def test_starter_questions_are_the_faq(chat):
    assert chat.starter_questions() == [
        "What is NATO?",
        "What is interoperability?",
        "How does NATO support Ukraine?",
    ]
    assert chat.starter_questions(top_k=2) == ["What is NATO?", "What is interoperability?"]


def test_starter_questions_are_unique_and_at_most_top_k():
    faq = (*(f"Question {n}?" for n in range(10)), "Question 0?", "")
    chat = Chat(StubAnswerer({}, faq=faq))
    assert chat.starter_questions() == [f"Question {n}?" for n in range(8)]
    assert chat.starter_questions(top_k=20) == [f"Question {n}?" for n in range(10)]
