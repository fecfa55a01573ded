"""The chat page: `build_chat` wires `qabot.web.chat.Chat` to Gradio widgets. No logic lives here.

The chat event is published as ``/chat`` for ``gradio_client``: it takes the message and the
history and returns the cleared textbox, the new history and the answer record (the same JSON
as ``qabot ask --json``).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr

from qabot.answering.answer import Answer
from qabot.answering.answerer import Answerer
from qabot.answering.questions import MAX_QUESTION_CHARS
from qabot.errors import QuestionError
from qabot.web.batching import AnswerBatcher
from qabot.web.chat import DEFAULT_TITLE, Chat, ChatSession
from qabot.web.chatlimits import DEFAULT_MAX_QUEUE
from qabot.web.feedback import FeedbackStore
from qabot.web.holder import AnswererHolder

logger = logging.getLogger(__name__)
CHAT_API_NAME = "chat"
# Questions answered at once per event: answering is batched behind them (see batching.py).
CHAT_CONCURRENCY = 8
# Conversations whose state (the question a follow-up continues) is kept in memory; the oldest
# beyond this are forgotten. Gradio keeps 10,000 by default, about 30 KB each here: a server
# answering many short visits grew by hundreds of MB (bench/load.py --soak). A forgotten
# conversation keeps its history on the page; only a follow-up is then asked on its own.
CHAT_SESSIONS_KEPT = 1000
INVALID_VOTE = "That is not a vote: like, dislike or clear one."

# Gradio's default theme pulls its font from Google Fonts; the chat must work offline.
_SYSTEM_FONTS = ["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "sans-serif"]
_MONO_FONTS = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]

CHAT_CSS = """
.qabot-text mark { background: #fff3a3; color: inherit; padding: 0 .1em; border-radius: 2px; }
.qabot-text .qabot-span { background: #ffd84d; border-radius: 2px; }
.qabot-source { font-size: .9em; opacity: .85; margin-top: .5em; }
.qabot-confidence { white-space: nowrap; }
.qabot-context, .qabot-note { font-size: .85em; font-style: italic; opacity: .75; }
.qabot-alternatives summary { cursor: pointer; font-size: .9em; }
.qabot-alternatives li { font-size: .9em; margin: .3em 0; }
footer { display: none !important; }
.qabot-heading { margin: 0 0 .2em; font-size: 1.6em; }
.qabot-description { margin: 0; opacity: .8; }
@media (max-width: 640px) {
  .qabot-heading { font-size: 1.15em; }
  .qabot-description { font-size: .8em; line-height: 1.3; }
}
"""


def chat_theme() -> gr.themes.Base:
    """Gradio's default look, with system fonts so nothing is fetched from a CDN."""
    return gr.themes.Default(font=_SYSTEM_FONTS, font_mono=_MONO_FONTS)


def describe_corpus(answerer: Answerer | AnswererHolder | AnswerBatcher) -> str:
    """One line saying what the chat knows about, from the index's documents.

    Reads passages only until three titles are found: a large index's passages are parsed from
    disk when asked for (`qabot.index.passage_table`), and the rest are counted by the manifest.
    """
    documents = answerer.manifest.documents
    titles: list[str] = []
    for passage in answerer.passages:
        if passage.title not in titles:
            titles.append(passage.title)
            if len(titles) == 3:
                break
    more = documents - len(titles)
    shown = ", ".join(titles) + (f" and {more} more" if more > 0 else "")
    plural = "document" if documents == 1 else "documents"
    return (
        f"Answers quoted from {documents} {plural} ({shown}), with their source. "
        "Nothing is made up: when the documents do not answer, it says so."
    )


def example_question(sample: Any) -> str:
    """The question of a clicked example: Gradio passes the sample's row (or its only value)."""
    return str(sample[0] if isinstance(sample, list | tuple) else sample)


# The outputs of every asking event: the cleared textbox, the history, the session, the record.
Outputs = tuple[str, list, ChatSession, dict]


class ChatEvents:
    """The page's event handlers, as methods: plain Python over a `Chat`, testable without a browser.

    Args:
        chat: answers the questions and stores the votes.
    """

    def __init__(self, chat: Chat) -> None:
        self.chat = chat

    def ask(self, question: str, history: list | None, session: ChatSession) -> Outputs:
        """A question typed in the textbox (also the ``/chat`` API of ``gradio_client``)."""
        try:
            reply, session = self.chat.turn(question, list(history or []), session)
        except QuestionError as exc:  # its messages are fixed sentences written for people
            logger.debug("question refused: %s", exc)
            raise gr.Error(str(exc), print_exception=False) from exc
        return "", reply.history, session, reply.answer.to_dict()

    def ask_option(
        self, history: list | None, session: ChatSession, event: gr.SelectData
    ) -> Outputs:
        """A "did you mean" suggestion clicked under a declined question."""
        return self.ask(str(event.value), history, session)

    def ask_example(self, sample: Any, history: list | None, session: ChatSession) -> Outputs:
        """A starter question clicked under the textbox."""
        return self.ask(example_question(sample), history, session)

    def vote(self, session: ChatSession, event: gr.LikeData) -> None:
        """A like or dislike on a bot message (clicking it again withdraws it)."""
        if not isinstance(event.index, int):
            raise gr.Error(INVALID_VOTE, print_exception=False)
        try:
            self.chat.vote(session, event.index, event.liked)
        except ValueError as exc:
            logger.debug("vote refused: %s", exc)
            raise gr.Error(INVALID_VOTE, print_exception=False) from exc


@dataclass(frozen=True)
class ChatPage:
    """The page's widgets that events read or write."""

    chatbot: gr.Chatbot
    message: gr.Textbox
    examples: gr.Dataset
    session: gr.State
    record: gr.JSON


def build_chat(
    answerer: Answerer | AnswererHolder | AnswerBatcher,
    *,
    feedback: FeedbackStore | None = None,
    title: str = DEFAULT_TITLE,
    description: str | None = None,
    on_answer: Callable[[Answer], None] | None = None,
    queue_size: int = DEFAULT_MAX_QUEUE,
) -> gr.Blocks:
    """Build the chat page (not launched: `qabot.web.server.build_app` mounts it).

    Args:
        answerer: answers the questions; loaded once, shared by every visitor.
        feedback: stores questions and likes/dislikes; None to store nothing.
        title: the page's heading and browser tab title.
        description: one line under the title; by default, it names the corpus.
        on_answer: called with each answer shown (the server's metrics count them).
        queue_size: the most events Gradio's queue holds (the server's guard refuses first).
    """
    chat = Chat(answerer, feedback=feedback, on_answer=on_answer)
    # analytics_enabled=False: Gradio otherwise reports usage over the internet.
    with gr.Blocks(title=title, analytics_enabled=False, fill_height=True) as blocks:
        page = _layout(title, description or describe_corpus(answerer), chat.starter_questions())
        _wire(page, ChatEvents(chat))
    blocks.state_session_capacity = CHAT_SESSIONS_KEPT  # read when the chat is mounted
    # api_open=False: the events are reachable only through the queue (with its concurrency
    # limits), not through Gradio's direct /run and /api routes. max_size backs up the
    # guard's own bound (`qabot.web.chatlimits`): a full queue is a 503, not a longer wait.
    return blocks.queue(
        api_open=False, max_size=queue_size, default_concurrency_limit=CHAT_CONCURRENCY
    )


def _layout(title: str, description: str, starters: list[str]) -> ChatPage:
    """Lay out the heading, the conversation, the textbox and the starter questions."""
    gr.HTML(
        f'<h1 class="qabot-heading">{html.escape(title)}</h1>'
        f'<p class="qabot-description">{html.escape(description)}</p>',
        elem_id="qabot-header",
    )
    chatbot = gr.Chatbot(
        label="Answers",
        show_label=False,
        elem_id="qabot-chatbot",
        # Answers arrive as escaped HTML (see qabot.web.chat): no Markdown, no LaTeX, no raw tags.
        render_markdown=False,
        sanitize_html=True,
        allow_tags=False,
        latex_delimiters=[],
        feedback_options=("Like", "Dislike"),
        buttons=["copy"],
        scale=1,
        # Fits the page, the widget's panel and a host's iframe alike.
        height="max(240px, calc(100vh - 270px))",
        placeholder="Ask a question about the documents, or pick one below.",
    )
    message = gr.Textbox(
        show_label=False,
        placeholder="Ask a question…",
        submit_btn=True,
        elem_id="qabot-question",
        max_length=MAX_QUESTION_CHARS,  # the limit every edge shares (`clean_question`)
    )
    examples = gr.Dataset(
        components=[message],
        samples=[[q] for q in starters],
        label="Questions the documents answer",
        visible=bool(starters),
        elem_id="qabot-examples",
    )
    session = gr.State(ChatSession())
    record = gr.JSON(label="Answer record", visible=False)
    return ChatPage(chatbot, message, examples, session, record)


def _wire(page: ChatPage, events: ChatEvents) -> None:
    """Connect the widgets' events to the handlers; only typing a question is a public API."""
    outputs = [page.message, page.chatbot, page.session, page.record]
    page.message.submit(
        events.ask,
        [page.message, page.chatbot, page.session],
        outputs,
        api_name=CHAT_API_NAME,
        concurrency_limit=CHAT_CONCURRENCY,
    )
    page.chatbot.option_select(
        events.ask_option,
        [page.chatbot, page.session],
        outputs,
        api_visibility="private",
        concurrency_limit=CHAT_CONCURRENCY,
    )
    page.examples.click(
        events.ask_example,
        [page.examples, page.chatbot, page.session],
        outputs,
        api_visibility="private",
        concurrency_limit=CHAT_CONCURRENCY,
    )
    page.chatbot.like(events.vote, [page.session], None, api_visibility="private")
