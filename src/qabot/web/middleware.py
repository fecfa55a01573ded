"""ASGI middleware of the web application: request-size and time limits, security headers,
and the Gradio routes the chat does not use.

All are plain ASGI classes (no Starlette base class) so that a body is never buffered twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Collection

from pydantic import TypeAdapter, ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
    """Rejects request bodies over the limit with 413, and those too slow with 408.

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
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        limit = self.api_limit if scope["path"].startswith("/api/") else self.other_limit
        declared = dict(scope.get("headers") or ()).get(b"content-length")
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
    """Keeps requests to the mounted Gradio chat to what the chat page uses.

    Gradio (6) has no setting to turn its upload route off (``max_file_size`` bounds one
    file's size, not how many are sent, and an empty file is still stored), and it answers an
    unknown ``fn_index`` with a 500. So the routes in `BLOCKED_GRADIO_ROUTES` get 404, and an
    event that names an unknown function gets 422, before Gradio sees them. Sits inside
    `BodyLimit`, so a body is already complete in memory when it is read here.

    Args:
        app: the application (the Gradio chat is mounted in it at ``prefix``).
        prefix: where the chat is mounted, e.g. ``"/chat"``.
        fn_ids: the ``fn_index`` of every event the chat has. Kept as given, not copied: a chat
            mounted after the server started (`qabot.web.chatgate.LateChat`) fills it then.
    """

    def __init__(self, app: ASGIApp, *, prefix: str, fn_ids: Collection[int]) -> None:
        self.app = app
        self.api_prefix = f"{prefix.rstrip('/')}/gradio_api/"
        self.fn_ids = fn_ids

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(self.api_prefix):
            await self.app(scope, receive, send)
            return
        route = path[len(self.api_prefix) :]
        if route.split("/", 1)[0] in BLOCKED_GRADIO_ROUTES:
            await _refuse(send, 404, "Not Found")
            return
        if scope["method"] == "POST" and route.startswith(_EVENT_ROUTES):
            message = await receive()
            if not self._known_event(message.get("body", b"")):
                await _refuse(send, 422, "The chat has no event with that fn_index.")
                return
            receive = _replay(message.get("body", b""), receive)
        await self.app(scope, receive, send)

    def _known_event(self, body: bytes) -> bool:
        """False only for a JSON body whose ``fn_index`` names no event of the chat."""
        try:
            fn_index = _FN_INDEX.validate_python(json.loads(body).get("fn_index"))
        except (ValueError, AttributeError, RecursionError, ValidationError):
            return True  # not an event body at all: Gradio's own validation answers it
        return fn_index is None or fn_index in self.fn_ids
