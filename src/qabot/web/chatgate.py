"""`ChatGate`: the chat answers 503 until Gradio is imported and the chat is mounted.

Importing Gradio takes seconds, as long as loading a small index. ``qabot serve`` overlaps the
two: Gradio is imported in a background thread while the index loads, the server starts as
soon as the index is loaded (``/healthz`` and ``/api/ask`` answer at once), and the chat is
built and mounted at ``/chat/`` when Gradio is ready. Until then ``/chat/...`` answers 503 with
``Retry-After`` (a page that reloads itself, for a browser).

Mounting late means the app's lifespan has already run, so the Gradio app's own start-up (its
queue) is run here, on the server's event loop, and its shutdown when the server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    import gradio as gr
    from fastapi import FastAPI

    from qabot.web.batching import AnswerBatcher
    from qabot.web.chatlimits import ChatQueue

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 2
NO_CHAT = "This server runs several worker processes and serves the API only (the chat needs one)."
_STARTING_PAGE = (
    b"<!doctype html><meta charset='utf-8'><meta http-equiv='refresh' content='%d'>"
    b"<title>Starting</title><p>The chat is starting; this page reloads in a moment.</p>"
) % RETRY_AFTER_SECONDS


class ChatGate:
    """Answers requests under ``prefix`` with 503 until `open` is called.

    Args:
        app: the application.
        prefix: where the chat is mounted, e.g. ``"/chat"``.
        is_open: whether the chat is mounted and started.
    """

    def __init__(self, app: ASGIApp, *, prefix: str, is_open: Callable[[], bool]) -> None:
        self.app = app
        self.prefix = prefix.rstrip("/")
        self.is_open = is_open

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        under = path == self.prefix or path.startswith(self.prefix + "/")
        if not under or self.is_open():
            await self.app(scope, receive, send)
            return
        headers = [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
            (b"cache-control", b"no-store"),
        ]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": _STARTING_PAGE})


class LateChat:
    """The chat mounted after the server started: `open` mounts it, `close` stops it.

    Args:
        mount: mounts the chat on the app (imports Gradio; blocking) and returns its Blocks.
        chat: told of the chat's events once it is mounted (the guard reads it).
    """

    def __init__(self, mount: Callable[[], gr.Blocks], chat: ChatQueue) -> None:
        self.mount = mount
        self.chat = chat
        self._opened = False
        self._stack = contextlib.AsyncExitStack()

    def is_open(self) -> bool:
        """Whether the chat is mounted and its queue started."""
        return self._opened

    async def open(self, app: FastAPI) -> None:
        """Mount the chat (in a thread, so the API keeps answering), then start its queue."""
        try:
            blocks = await asyncio.to_thread(self.mount)
        except Exception as exc:  # the API must keep serving; the chat stays at 503
            logger.error("the chat could not be mounted: %s: %s", type(exc).__name__, exc)
            return
        gradio_app = app.router.routes[-1].app  # type: ignore[attr-defined]  # the Mount just added
        await self._stack.enter_async_context(gradio_app.router.lifespan_context(gradio_app))
        gradio_app.get_blocks().run_startup_events()
        await gradio_app.get_blocks().run_extra_startup_events()
        self.chat.attach(blocks)  # GradioGuard holds this same ChatQueue
        self._opened = True

    async def close(self) -> None:
        """Stop the chat's queue (if it was started)."""
        self._opened = False
        await self._stack.aclose()


def chat_lifespan(late: LateChat | None, batcher: AnswerBatcher):
    """The app's lifespan: mounts a late chat in the background; stops the batcher at the end."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        opening = asyncio.create_task(late.open(app)) if late is not None else None
        try:
            yield
        finally:
            if late is not None and opening is not None:
                opening.cancel()
                await late.close()
            await asyncio.to_thread(batcher.close)

    return lifespan


def add_no_chat_route(app: FastAPI, path: str) -> None:
    """``path`` and everything under it answer 404 with `NO_CHAT`, on a server without a chat."""
    from fastapi.responses import JSONResponse

    @app.api_route(path + "{rest:path}", methods=["GET", "POST"], include_in_schema=False)
    def no_chat(rest: str) -> JSONResponse:
        return JSONResponse({"detail": NO_CHAT}, status_code=404)
