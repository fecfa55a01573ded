"""The chat page: `build_chat` wires `qabot.web.chat.Chat` to Gradio widgets. No logic lives here.

The chat event is published as ``/chat`` for ``gradio_client``: it takes the message and the
history and returns the cleared textbox, the new history and the answer record (the same JSON
as ``qabot ask --json``).
"""

from __future__ import annotations

import html
from typing import Any

import gradio as gr

from qabot.answering import Answerer
from qabot.errors import QuestionError
from qabot.web.chat import Chat
from qabot.web.feedback import FeedbackStore

CHAT_API_NAME = "chat"

# Gradio's default theme pulls its font from Google Fonts; the chat must work offline.
_SYSTEM_FONTS = ["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "sans-serif"]
_MONO_FONTS = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]

CHAT_CSS = """
.qabot-text mark { background: #fff3a3; color: inherit; padding: 0 .1em; border-radius: 2px; }
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


def describe_corpus(answerer: Answerer) -> str:
    """One line saying what the chat knows about, from the index's documents."""
    index = answerer.retriever.index
    titles = list(dict.fromkeys(p.title for p in index.passages))
    shown = ", ".join(titles[:3]) + (f" and {len(titles) - 3} more" if len(titles) > 3 else "")
    documents = index.manifest.documents
    plural = "document" if documents == 1 else "documents"
    return (
        f"Answers quoted from {documents} {plural} ({shown}), with their source. "
        "Nothing is made up: when the documents do not answer, it says so."
    )


def build_chat(
    answerer: Answerer,
    *,
    feedback: FeedbackStore | None = None,
    title: str = "qabot",
    description: str | None = None,
) -> gr.Blocks:
    """Build the chat page (not launched: `qabot.web.server.build_app` mounts it).

    Args:
        answerer: answers the questions; loaded once, shared by every visitor.
        feedback: stores questions and likes/dislikes; None to store nothing.
        title: the page's heading and browser tab title.
        description: one line under the title; by default, it names the corpus.
    """
    chat = Chat(answerer, feedback=feedback)
    description = description or describe_corpus(answerer)

    def ask(question: str, history: list | None, session: dict) -> tuple[str, list, dict, dict]:
        try:
            reply = chat.respond(question, list(history or []), session.get("previous"))
        except QuestionError as exc:
            raise gr.Error(str(exc)) from exc
        votes = dict(session.get("votes", {}))
        votes[len(reply.history) - 1] = reply.feedback_id
        previous = session.get("previous") if reply.followup else reply.answer.question
        return "", reply.history, {"previous": previous, "votes": votes}, reply.answer.to_dict()

    def ask_option(history: list | None, session: dict, event: gr.SelectData) -> tuple:
        return ask(str(event.value), history, session)

    def ask_example(sample: Any, history: list | None, session: dict) -> tuple:
        question = sample[0] if isinstance(sample, list | tuple) else sample
        return ask(str(question), history, session)

    def vote(session: dict, event: gr.LikeData) -> None:
        row_id = session.get("votes", {}).get(event.index)
        if feedback is None or row_id is None:
            return
        liked = event.liked
        value = 1 if liked in (True, "Like") else -1 if liked in (False, "Dislike") else None
        feedback.vote(row_id, value)

    with gr.Blocks(title=title, analytics_enabled=False, fill_height=True) as blocks:
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
            max_length=4000,
        )
        starters = chat.starter_questions()
        examples = gr.Dataset(
            components=[message],
            samples=[[q] for q in starters],
            label="Questions the documents answer",
            visible=bool(starters),
            elem_id="qabot-examples",
        )
        session = gr.State({"previous": None, "votes": {}})
        record = gr.JSON(label="Answer record", visible=False)

        outputs = [message, chatbot, session, record]
        message.submit(
            ask, [message, chatbot, session], outputs, api_name=CHAT_API_NAME, concurrency_limit=8
        )
        chatbot.option_select(
            ask_option, [chatbot, session], outputs, api_visibility="private", concurrency_limit=8
        )
        examples.click(
            ask_example,
            [examples, chatbot, session],
            outputs,
            api_visibility="private",
            concurrency_limit=8,
        )
        chatbot.like(vote, [session], None, api_visibility="private")
    return blocks
