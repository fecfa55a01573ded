"""The web application: the JSON API, the Gradio chat mounted at ``/chat/``, and the embed assets.

Routes::

    GET  /            redirects to /chat/
    GET  /chat/       the chat page (Gradio); its event ``/chat`` is callable with gradio_client
    POST /api/ask     {"question": "...", "alternatives": 2} → the answer record (as ``qabot ask --json``)
    GET  /healthz     200 with the index's figures once the index is loaded
    GET  /widget.js   one <script> that adds a chat launcher to any page
    GET  /static/...  the widget's other assets
    GET  /docs        OpenAPI documentation of the API

Everything is served from here; nothing is loaded from a CDN. `build_app` is given a loaded
`Answerer`: the model and the index are loaded once, before the app exists.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qabot.answering import DEFAULT_ALTERNATIVES, Answerer
from qabot.errors import QuestionError
from qabot.version import __version__
from qabot.web.batching import AnswerBatcher
from qabot.web.feedback import FeedbackStore

MAX_API_BODY_BYTES = 64 * 1024
# The chat's own requests carry the whole conversation, so they get a looser (but real) limit.
MAX_CHAT_BODY_BYTES = 4 * 1024 * 1024
MAX_ALTERNATIVES = 20
CHAT_PATH = "/chat"


class AskRequest(BaseModel):
    """The body of ``POST /api/ask``."""

    question: str = Field(
        description="The question, in plain words.", examples=["How does NATO support Ukraine?"]
    )
    alternatives: int | None = Field(
        default=None,
        ge=0,
        le=MAX_ALTERNATIVES,
        description=f"Next-best matches returned beside the answer (default {DEFAULT_ALTERNATIVES}).",
    )


def static_dir() -> Path:
    """The folder of the widget's assets, inside the installed package."""
    return Path(str(files("qabot.web") / "static"))


def frame_ancestors(allowed_origins: Sequence[str]) -> str:
    """The CSP ``frame-ancestors`` value for the allowed origins ("*" allows any site)."""
    if not allowed_origins or "*" in allowed_origins:
        return "frame-ancestors *"
    return "frame-ancestors 'self' " + " ".join(o.rstrip("/") for o in allowed_origins)


def build_app(
    answerer: Answerer,
    *,
    feedback: FeedbackStore | None = None,
    allowed_origins: Sequence[str] = ("*",),
    title: str = "qabot",
    description: str | None = None,
    max_body_bytes: int = MAX_API_BODY_BYTES,
) -> FastAPI:
    """Build the FastAPI application around a loaded answerer.

    Args:
        answerer: answers every request (shared; loaded once before this call).
        feedback: stores the chat's and the API's questions and the votes; None stores nothing.
        allowed_origins: sites that may embed the chat (CSP ``frame-ancestors``) and call the
            API from a browser (CORS); ``("*",)`` allows any site.
        title: the chat page's title.
        description: one line under the title (default: names the corpus).
        max_body_bytes: the largest ``/api/`` request body accepted.
    """
    # Gradio reads this when it is first imported, and otherwise reports usage over the internet.
    # The CLI sets it already; this covers build_app called from Python.
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    from qabot.web.ui import CHAT_CSS, build_chat, chat_theme

    origins = list(allowed_origins) or ["*"]
    app = FastAPI(
        title="qabot",
        summary="Exact, sourced answers from your own documents.",
        version=__version__,
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Content-Type"],
    )
    app.add_middleware(SecurityHeaders, frame_ancestors=frame_ancestors(origins))
    app.add_middleware(BodyLimit, api_limit=max_body_bytes, other_limit=MAX_CHAT_BODY_BYTES)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_response(exc)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(f"{CHAT_PATH}/")

    @app.get("/manifest.json", include_in_schema=False)
    def web_manifest() -> dict:
        # The Gradio page asks for one at the site root; answering avoids a 404 in every console.
        return {"name": title, "start_url": f"{CHAT_PATH}/", "display": "standalone"}

    @app.get("/healthz", tags=["service"])
    def healthz() -> dict:
        """200 once the index is loaded (it is loaded before the server starts)."""
        manifest = answerer.retriever.index.manifest
        return {
            "status": "ok",
            "model": manifest.model,
            "documents": manifest.documents,
            "passages": manifest.passages,
            "faq_entries": manifest.faq_entries,
            "built_at": manifest.built_at,
        }

    batcher = AnswerBatcher(answerer)

    @app.post("/api/ask", tags=["answers"])
    async def ask(request: AskRequest) -> dict:
        """Answer a question: the same record as ``qabot ask --json``.

        ``found`` is false when the documents do not answer; ``suggestions`` then lists close
        FAQ questions. Questions longer than the limit are trimmed (``truncated``).
        """
        try:
            answer = await asyncio.wrap_future(
                batcher.submit(request.question, request.alternatives)
            )
        except QuestionError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=422)
        if feedback is not None:  # a WAL insert without fsync: too quick to need a thread
            feedback.record(
                answer.question, answer.passage_id, answer.score, answer.found, channel="api"
            )
        return answer.to_dict()

    @app.get("/widget.js", include_in_schema=False)
    def widget() -> FileResponse:
        return FileResponse(
            static_dir() / "widget.js",
            media_type="text/javascript; charset=utf-8",
            headers={"Cache-Control": "public, max-age=300"},
        )

    app.mount("/static", StaticFiles(directory=static_dir()), name="static")
    blocks = build_chat(answerer, feedback=feedback, title=title, description=description)
    return gr.mount_gradio_app(
        app,
        blocks,
        path=CHAT_PATH,
        footer_links=[],
        ssr_mode=False,
        show_error=True,
        mcp_server=False,
        pwa=False,
        theme=chat_theme(),
        css=CHAT_CSS,
    )


def _validation_response(exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return JSONResponse(
            {"detail": 'The body is not valid JSON; send {"question": "...", "alternatives": 2}.'},
            status_code=400,
        )
    problems = []
    for error in errors:
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        problems.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
    return JSONResponse({"detail": "Invalid request: " + "; ".join(problems)}, status_code=422)


class BodyLimit:
    """Rejects request bodies over the limit with 413 before the app sees them.

    The body is read (up to the limit) here rather than counted as the app reads it, because
    FastAPI turns any error while reading a body into its own 400.
    """

    def __init__(self, app: ASGIApp, *, api_limit: int, other_limit: int) -> None:
        self.app = app
        self.api_limit = api_limit
        self.other_limit = other_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        limit = self.api_limit if scope["path"].startswith("/api/") else self.other_limit
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _too_large(send, limit)
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > limit:
                await _too_large(send, limit)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps({"detail": f"The request body is over the {limit // 1024} KiB limit."})
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body.encode()})


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

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *self.headers]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
