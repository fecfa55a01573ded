"""How much work the chat accepts: `ChatLimits`, and `ChatQueue`, which reads Gradio's queue.

Every question to the chat waits in Gradio's queue. Without limits one client could fill it
(1,000 joins in 10 s made a normal visitor wait 91 s) or send a conversation of 40,000
messages, which Gradio validates, fails and prints in full. So, before Gradio sees a request
(`qabot.web.middleware.GradioGuard`):

- a conversation (any list among an event's inputs) over ``max_history`` messages gets 422;
- a client address with ``max_per_client`` events already waiting or running, or a queue
  holding ``max_queue`` events, gets 503 "busy, try again" with ``Retry-After``.

The client is the request's address as uvicorn gives it (behind a proxy on this host, the
``X-Forwarded-For`` it sets).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import gradio as gr

DEFAULT_MAX_QUEUE = 64
DEFAULT_MAX_PER_CLIENT = 8
DEFAULT_MAX_HISTORY = 200
BUSY_RETRY_AFTER_SECONDS = 2
BUSY = "The chat is busy: try again in a moment."


@dataclass(frozen=True)
class ChatLimits:
    """The chat's bounds.

    Attributes:
        max_queue: events waiting or running in the chat's queue, all clients together.
        max_per_client: events waiting or running for one client address.
        max_history: messages in the conversation an event may carry (100 exchanges).
    """

    max_queue: int = DEFAULT_MAX_QUEUE
    max_per_client: int = DEFAULT_MAX_PER_CLIENT
    max_history: int = DEFAULT_MAX_HISTORY

    def history_refusal(self, body: Any) -> str | None:
        """Why an event body's conversation is refused (too long), or None."""
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            return None
        if any(isinstance(item, list) and len(item) > self.max_history for item in data):
            return (
                f"The conversation is over {self.max_history} messages: "
                "start a new one (reload the page)."
            )
        return None

    def busy(self, total: int, mine: int) -> bool:
        """Whether one more event is refused, with ``total`` and ``mine`` already in flight."""
        return total >= self.max_queue or mine >= self.max_per_client


class ChatQueue:
    """What the guard knows of the mounted chat: its events, its API names, its queue.

    Filled by `attach` once the chat is mounted (possibly after the server started; see
    `qabot.web.chatgate.LateChat`); until then it knows no event.
    """

    def __init__(self) -> None:
        self.fn_ids: set[int] = set()
        self.api_names: set[str] = set()
        self._blocks: gr.Blocks | None = None

    def attach(self, blocks: gr.Blocks) -> None:
        """Read the mounted chat's events and public API names."""
        self.fn_ids.update(blocks.fns)
        self.api_names.update(
            fn.api_name
            for fn in blocks.fns.values()
            if fn.api_name and fn.api_visibility == "public"
        )
        self._blocks = blocks

    def has_session(self, session_hash: str | None) -> bool:
        """Whether Gradio holds messages for this session (it joined and has not left)."""
        queue = getattr(self._blocks, "_queue", None)
        return queue is not None and session_hash in queue.pending_messages_per_session

    def has_event(self, event_id: str) -> bool:
        """Whether Gradio holds an event (waiting, running, or its result not yet read)."""
        queue = getattr(self._blocks, "_queue", None)
        if queue is None:
            return False
        if event_id in queue.event_ids_to_events:
            return True
        return any(event_id in ids for ids in list(queue.pending_event_ids_session.values()))

    def in_flight(self, client: str | None) -> tuple[int, int]:
        """Events waiting or running: in all, and those of ``client``'s address."""
        queue = getattr(self._blocks, "_queue", None)
        if queue is None:
            return 0, 0
        # Gradio holds each event from its join until it completes or its client leaves.
        events = list(queue.event_ids_to_events.values())
        hosts = Counter(_client_host(event.request) for event in events)
        return len(events), hosts[client]


def _client_host(request: Any) -> str | None:
    client = getattr(request, "client", None)
    return getattr(client, "host", None)
