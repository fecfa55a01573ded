"""The chat, as plain Python: a message and the history in, the new history and the answer out.

`Chat.respond` understands short follow-ups in the context of the previous question, renders
each answer as HTML in which every piece of document or user text is escaped (so nothing from a
document or a question can ever run in the page), and records the exchange in the feedback
store. What one visitor's conversation remembers between turns (the question to follow up on,
the feedback row behind each reply) is a `ChatSession`, advanced by `Chat.turn` and read by
`Chat.vote`. The Gradio UI (`qabot.web.ui`) only wires this to widgets.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from qabot.answering.answer import Answer
from qabot.answering.answerer import Answerer
from qabot.index.keyword import tokenize
from qabot.web.batching import AnswerBatcher
from qabot.web.feedback import FeedbackStore
from qabot.web.holder import AnswererHolder

# "and cyber defence?", "what about the roadmap", "also energy?": the question continues the last.
_FOLLOWUP_LEAD = re.compile(
    r"^\s*(?:and\s+what\s+about|and\s+how\s+about|what\s+about|how\s+about|and|also|what\s+of|or)\b[\s,]*",
    re.IGNORECASE,
)
_QUESTION_WORD = re.compile(
    r"^\s*(?:who|what|when|where|why|how|which|is|are|does|do|can|could|should|will|would)\b",
    re.IGNORECASE,
)
_SHORT_FOLLOWUP_WORDS = 3
DEFAULT_STARTERS_TOP_K = 8
DEFAULT_TITLE = "qabot"


@dataclass(frozen=True)
class Reply:
    """One turn of the chat.

    Attributes:
        history: the conversation with the user's message and the bot's reply appended.
        answer: the answer record (its ``question`` is the question as understood).
        followup: True when the message was answered in the context of ``previous``.
        feedback_id: the feedback row to vote on, or None without a feedback store.
    """

    history: list[dict]
    answer: Answer
    followup: bool
    feedback_id: int | None


@dataclass(frozen=True)
class ChatSession:
    """What one visitor's conversation remembers between turns.

    Attributes:
        previous: the last question as understood, which a follow-up continues; None at first.
        votes: the feedback row of each bot message, by its index in the history (None when
            nothing was stored).
    """

    previous: str | None = None
    votes: Mapping[int, int | None] = field(default_factory=dict)

    def after(self, reply: Reply) -> ChatSession:
        """The session once ``reply`` is shown: a follow-up keeps the question it continued,
        and so does small talk ("thanks" is no topic to follow up on)."""
        keep = reply.followup or reply.answer.kind == "smalltalk"
        previous = self.previous if keep else reply.answer.question
        return ChatSession(previous, {**self.votes, len(reply.history) - 1: reply.feedback_id})

    def feedback_id(self, message_index: int) -> int | None:
        """The feedback row of the bot message at ``message_index``, if one was stored."""
        return self.votes.get(message_index)


def vote_value(liked: bool | str | None) -> int | None:
    """A like (True or "Like") is +1, a dislike (False or "Dislike") -1, a clear ("" or None,
    as the page sends when a vote is clicked again) withdraws the vote.

    Raises:
        ValueError: any other value (a number, a dict, another word): it is no vote.
    """
    # Compared by type as well: 1 == True and 0 == False, but 1 and 0 are not votes.
    if liked is True or (isinstance(liked, str) and liked == "Like"):
        return 1
    if liked is False or (isinstance(liked, str) and liked == "Dislike"):
        return -1
    if liked is None or (isinstance(liked, str) and liked == ""):
        return None
    raise ValueError(f"A vote is a like, a dislike or a clear, not {liked!r}.")


def followup_topic(message: str) -> str | None:
    """The topic of a follow-up ("and cyber defence?" → "cyber defence"), else None.

    A follow-up starts with "and", "what about", "also"… or is a few words without a question
    word. Whether it is really answered in context is decided by `Chat.respond`.
    """
    stripped = _FOLLOWUP_LEAD.sub("", message, count=1)
    topic = stripped.strip(" ?!.,;:")
    if not topic:
        return None
    if stripped != message:
        return topic
    if len(topic.split()) <= _SHORT_FOLLOWUP_WORDS and not _QUESTION_WORD.match(topic):
        return topic
    return None


def in_context(previous: str, topic: str) -> str:
    """The question to ask for a follow-up: the previous question, refocused on the topic."""
    return f"{previous.rstrip()} {topic}"


class Chat:
    """Answers chat messages with an `Answerer`, logging them to an optional `FeedbackStore`.

    Args:
        answerer: answers the questions (loaded once, shared by every conversation).
        feedback: where questions, answers and votes are stored; None to store nothing.
        alternatives: next-best matches per answer (None: the answerer's default).
        on_answer: called with each answer shown (the server counts them in its metrics).
    """

    def __init__(
        self,
        answerer: Answerer | AnswererHolder | AnswerBatcher,
        *,
        feedback: FeedbackStore | None = None,
        alternatives: int | None = None,
        on_answer: Callable[[Answer], None] | None = None,
    ) -> None:
        self.answerer = answerer
        self.feedback = feedback
        self.alternatives = alternatives
        self.on_answer = on_answer

    def starter_questions(self, top_k: int = DEFAULT_STARTERS_TOP_K) -> list[str]:
        """The corpus's first ``top_k`` FAQ questions, offered as examples to start with."""
        questions: dict[str, None] = {}
        for passage in self.answerer.passages:  # read from disk: stop once there are enough
            if len(questions) >= top_k:
                break
            if passage.kind == "faq" and passage.question:
                questions.setdefault(passage.question)
        return list(questions)

    def turn(
        self, message: str, history: list[dict], session: ChatSession
    ) -> tuple[Reply, ChatSession]:
        """Answer ``message`` within ``session``; returns the reply and the session after it.

        Raises:
            QuestionError: the message is empty.
        """
        reply = self.respond(message, history, session.previous)
        return reply, session.after(reply)

    def vote(self, session: ChatSession, message_index: int, liked: bool | str | None) -> None:
        """Store a like, a dislike or its withdrawal (see `vote_value`) on a bot message.

        Raises:
            ValueError: ``liked`` is no vote (checked before anything is stored).
        """
        value = vote_value(liked)
        row_id = session.feedback_id(message_index)
        if self.feedback is not None and row_id is not None:
            self.feedback.vote(row_id, value)

    def respond(self, message: str, history: list[dict], previous: str | None = None) -> Reply:
        """Answer ``message``; ``previous`` is the last question as understood, for follow-ups.

        A follow-up is asked on its own and in the context of ``previous``, in one batch. The
        context is used only when its answer mentions the follow-up's topic, so changing the
        subject still works: for an explicit follow-up ("and …", "what about …") it wins then;
        a bare short question is answered on its own when that finds an answer.

        Raises:
            QuestionError: the message is empty.
        """
        answer, followup = self._answer(message, previous)
        if self.on_answer is not None:
            self.on_answer(answer)
        feedback_id = None
        if self.feedback is not None:
            feedback_id = self.feedback.record_answer(answer, channel="chat")
        bot = {"role": "assistant", "content": render_answer(answer, followup=followup)}
        if not answer.found and answer.suggestions:
            bot["options"] = [{"value": s, "label": s} for s in answer.suggestions]
        user = {"role": "user", "content": _escape(message)}
        return Reply([*history, user, bot], answer, followup, feedback_id)

    def _answer(self, message: str, previous: str | None) -> tuple[Answer, bool]:
        topic = followup_topic(message) if previous else None
        if previous is None or topic is None:
            return self.answerer.answer(message, self.alternatives), False
        alone, contextual = self.answerer.answer_batch(
            [message, in_context(previous, topic)], self.alternatives
        )
        explicit = _FOLLOWUP_LEAD.match(message) is not None
        if alone.kind == "smalltalk":  # "thanks" after a question is no follow-up of it
            return alone, False
        if not contextual.found or not _mentions(contextual, topic):
            return alone, False
        if alone.found and not explicit:
            return alone, False
        return contextual, True


def _mentions(answer: Answer, topic: str) -> bool:
    """Whether the answer shares a (stemmed) word with the topic: the context only disambiguates."""
    wanted, found = tokenize([topic, f"{answer.faq_question or ''} {answer.answer}"])
    return bool(set(wanted) & set(found))


def render_answer(answer: Answer, *, followup: bool = False) -> str:
    """The bot's reply as HTML: answer with its highlighted sentence, source, confidence, others.

    Every text from a document or a question is HTML-escaped; links are only http(s).
    """
    if answer.kind == "smalltalk":  # our own words, with starter questions as options
        offer = '<p class="qabot-suggest">Try one of these:</p>' if answer.suggestions else ""
        return f'<p class="qabot-smalltalk">{_escape(answer.answer)}</p>{offer}'
    if not answer.found:
        parts = [f'<p class="qabot-decline">{_escape(answer.answer)}</p>']
        if answer.suggestions:
            parts.append('<p class="qabot-suggest">Did you mean one of these?</p>')
        return "".join(parts)
    parts = []
    if followup:
        parts.append(f'<p class="qabot-context">Understood as: {_escape(answer.question)}</p>')
    if answer.faq_question:
        parts.append(f'<p class="qabot-faq"><strong>{_escape(answer.faq_question)}</strong></p>')
    parts.append(f'<p class="qabot-text">{_highlighted(answer)}</p>')
    parts.append(_render_source(answer))
    if answer.truncated:
        parts.append('<p class="qabot-note">Your question was very long and was trimmed.</p>')
    if answer.alternatives:
        items = "".join(
            f"<li><strong>{_escape(alt.faq_question or alt.title)}</strong> "
            f"({alt.score:.2f}): {_escape(alt.text)}</li>"
            for alt in answer.alternatives
        )
        parts.append(
            f'<details class="qabot-alternatives"><summary>Other matches '
            f"({len(answer.alternatives)})</summary><ul>{items}</ul></details>"
        )
    return "".join(parts)


def _render_source(answer: Answer) -> str:
    source = answer.source
    if source is None:
        return ""
    bits = [f'Source: <cite class="qabot-title">{_escape(source.title)}</cite>']
    if source.date:
        bits.append(f'<span class="qabot-date">{_escape(source.date)}</span>')
    for link in source.links:
        if link.url.lower().startswith(("http://", "https://")):
            bits.append(
                f'<a href="{html.escape(link.url, quote=True)}" target="_blank" '
                f'rel="noopener noreferrer">{_escape(link.label or link.url)}</a>'
            )
    bits.append(f'<span class="qabot-confidence">confidence {min(answer.score, 1.0):.2f}</span>')
    return f'<p class="qabot-source">{" · ".join(bits)}</p>'


def _highlighted(answer: Answer) -> str:
    pieces, inside = [], False
    for text, mark in answer.marked_parts():
        if bool(mark) != inside:  # the marked stretch: the sentence, with the span inside it
            pieces.append("<mark>" if mark else "</mark>")
            inside = bool(mark)
        piece = _escape(text)
        pieces.append(f'<strong class="qabot-span">{piece}</strong>' if mark == "span" else piece)
    return "".join(pieces) + ("</mark>" if inside else "")


def _escape(text: str) -> str:
    return html.escape(text, quote=True).replace("\n", "<br>")
