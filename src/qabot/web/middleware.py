"""ASGI middleware of the web application: request-size and time limits, security headers,
and the Gradio routes the chat does not use.

All are plain ASGI classes (no Starlette base class) so that a body is never buffered twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from urllib.parse import parse_qs

from pydantic import TypeAdapter, ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qabot.web.chatlimits import BUSY, BUSY_RETRY_AFTER_SECONDS, ChatLimits, ChatQueue
from qabot.web.limits import DEFAULT_BODY_TIMEOUT

logger = logging.getLogger(__name__)

# Gradio routes for files, recordings, streams and server-side component calls: the chat has
# no component that uses them, and uploads would let anyone store files on the server.
BLOCKED_GRADIO_ROUTES = frozenset(
    (
        "upload",
        "upload_progress",
        "process_recording",
        "component_server",
        "stream",
        "vibe-edit",
        "undo-vibe-edit",
        "vibe-code",
        "run-history",
        "mcp",
    )
)
# Gradio routes whose JSON body names an event by ``fn_index``.
_EVENT_ROUTES = ("queue/join", "run/", "api/", "call/")
_FN_INDEX = TypeAdapter(int | None)  # as lax as Gradio's own PredictBody.fn_index


class BodyLimit:
    """Rejects request bodies over the limit with 413, and those too slow with 408, whatever
    the method.

    The body is read (up to the limit) here rather than counted as the app reads it, because
    FastAPI turns any error while reading a body into its own 400. A body not complete within
    ``timeout`` seconds (a client trickling bytes to hold a connection) gets 408, and the
    connection is closed.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        api_limit: int,
        other_limit: int,
        timeout: float = DEFAULT_BODY_TIMEOUT,
    ) -> None:
        self.app = app
        self.api_limit = api_limit
        self.other_limit = other_limit
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or ()) if scope["type"] == "http" else {}
        declared = headers.get(b"content-length")
        # Any method may carry a body (a GET with a Content-Length trickled byte by byte held
        # its connection for good), so what decides is whether a body is announced.
        if scope["type"] != "http" or (
            declared in (None, b"0") and b"transfer-encoding" not in headers
        ):
            await self.app(scope, receive, send)
            return
        limit = self.api_limit if scope["path"].startswith("/api/") else self.other_limit
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _too_large(send, limit)
            return
        try:
            async with asyncio.timeout(self.timeout):
                body = await _read_body(receive, limit)
        except TimeoutError:
            logger.debug("request body not complete within %.1f s: 408", self.timeout)
            await _refuse(send, 408, "The request body was not sent in time.")
            return
        if body is None:  # the client went away
            return
        if len(body) > limit:
            await _too_large(send, limit)
            return
        await self.app(scope, _replay(body, receive), send)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or its first bytes past ``limit``; None when the client went away."""
    chunks: list[bytes] = []
    size, more = 0, True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        more = message.get("more_body", False)
        if size > limit:
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the app the body already read, then the real messages."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _refuse(send: Send, status: int, detail: str) -> None:
    """A JSON error response that also closes the connection."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": json.dumps({"detail": detail}).encode()})


async def _too_large(send: Send, limit: int) -> None:
    await _refuse(send, 413, f"The request body is over the {limit // 1024} KiB limit.")


class SecurityHeaders:
    """Adds ``Content-Security-Policy: frame-ancestors …`` and ``nosniff`` to every response."""

    def __init__(self, app: ASGIApp, *, frame_ancestors: str) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", frame_ancestors.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        names = {name for name, _ in self.headers}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": [*kept, *self.headers]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class GradioGuard:
    """Keeps requests to the mounted Gradio chat to what the chat page uses, and bounded.

    Gradio (6) has no setting to turn its upload route off (``max_file_size`` bounds one
    file's size, not how many are sent, and an empty file is still stored), and it answers an
    unknown ``fn_index`` or API name with a 500. So, before Gradio sees them:

    - the routes in `BLOCKED_GRADIO_ROUTES` get 404, and so do ``call/`` routes that name no
      public event of the chat (``call/v2/...`` included) and ``queue/data`` for a session
      that never joined;
    - an event that names an unknown function gets 422, and so does one whose conversation is
      too long (`ChatLimits.history_refusal`);
    - a join while the queue or the client's share of it is full gets 503 with ``Retry-After``.

    Sits inside `BodyLimit`, so a body is already complete in memory when it is read here.

    Args:
        app: the application (the Gradio chat is mounted in it at ``prefix``).
        prefix: where the chat is mounted, e.g. ``"/chat"``.
        chat: the chat's events and queue, filled once it is mounted (maybe after start-up).
        limits: the conversation's length and the queue's bounds.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        prefix: str,
        chat: ChatQueue,
        limits: ChatLimits | None = None,
    ) -> None:
        self.app = app
        self.api_prefix = f"{prefix.rstrip('/')}/gradio_api/"
        self.chat = chat
        self.limits = limits or ChatLimits()
        self._joining: Counter[str | None] = Counter()  # joins between this check and Gradio's

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(self.api_prefix):
            await self.app(scope, receive, send)
            return
        route = path[len(self.api_prefix) :]
        if route.split("/", 1)[0] in BLOCKED_GRADIO_ROUTES or not self._known_call(route):
            await _refuse(send, 404, "Not Found")
            return
        if not self._known_stream(scope["method"], route, scope):
            # Gradio would start the event stream, then fail inside it with a traceback.
            await _refuse(send, 404, "No such chat session or event: join the queue first.")
            return
        if scope["method"] != "POST" or not route.startswith(_EVENT_ROUTES):
            await self.app(scope, receive, send)
            return
        message = await receive()
        refusal = self._refusal(message.get("body", b""))
        if refusal is not None:
            await _refuse(send, 422, refusal)
            return
        client = (scope.get("client") or (None, None))[0]
        total, mine = self.chat.in_flight(client)
        if self.limits.busy(total + self._joining.total(), mine + self._joining[client]):
            await _busy(send)
            return
        self._joining[client] += 1
        try:
            await self.app(scope, _replay(message.get("body", b""), receive), send)
        finally:
            self._joining[client] -= 1
            if self._joining[client] <= 0:
                del self._joining[client]

    def _known_call(self, route: str) -> bool:
        """False for a ``call/`` route that names no public event (Gradio would answer 500)."""
        if not route.startswith("call/"):
            return True
        return route[len("call/") :].split("/", 1)[0] in self.chat.api_names

    def _known_stream(self, method: str, route: str, scope: Scope) -> bool:
        """False for an event stream (``queue/data``, ``GET call/NAME/ID``) Gradio has not."""
        if route == "queue/data":
            return self.chat.has_session(_session_hash(scope))
        parts = route.split("/")
        if method == "GET" and parts[0] == "call" and len(parts) == 3:
            return self.chat.has_event(parts[2])
        return True

    def _refusal(self, raw: bytes) -> str | None:
        """Why an event body is refused (422), or None to let Gradio read it."""
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            return None  # not JSON at all: Gradio's own validation answers it
        refusal = self.limits.history_refusal(body)
        if refusal is not None:
            return refusal
        try:
            fn_index = _FN_INDEX.validate_python(body.get("fn_index"))
        except (AttributeError, ValidationError):
            return None
        if fn_index is None or fn_index in self.chat.fn_ids:
            return None
        return "The chat has no event with that fn_index."


def _session_hash(scope: Scope) -> str | None:
    """The ``session_hash`` of a request's query string, if it has one."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return (query.get("session_hash") or [None])[0]


async def _busy(send: Send) -> None:
    """503 with ``Retry-After``: the chat's queue, or this client's share of it, is full."""
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"retry-after", str(BUSY_RETRY_AFTER_SECONDS).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": json.dumps({"detail": BUSY}).encode()})
