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
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from qabot.answering import DEFAULT_ALTERNATIVES, Answerer
from qabot.errors import QuestionError
from qabot.version import __version__
from qabot.web.batching import AnswerBatcher
from qabot.web.chat import DEFAULT_TITLE
from qabot.web.feedback import FeedbackStore
from qabot.web.middleware import BodyLimit, SecurityHeaders

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
    title: str = DEFAULT_TITLE,
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
    app = FastAPI(
        title="qabot",
        summary="Exact, sourced answers from your own documents.",
        version=__version__,
    )
    _add_middleware(app, list(allowed_origins) or ["*"], max_body_bytes)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    _add_site_routes(app, answerer, title)
    _add_api_routes(app, answerer, feedback)
    return _mount_chat(app, answerer, feedback, title, description)


def _add_middleware(app: FastAPI, origins: list[str], max_body_bytes: int) -> None:
    """CORS and CSP for the allowed origins, and the request-size limits."""
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Content-Type"],
    )
    app.add_middleware(SecurityHeaders, frame_ancestors=frame_ancestors(origins))
    app.add_middleware(BodyLimit, api_limit=max_body_bytes, other_limit=MAX_CHAT_BODY_BYTES)


def _add_site_routes(app: FastAPI, answerer: Answerer, title: str) -> None:
    """The root redirect, the web manifest, the health check and the widget's assets."""

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
        manifest = answerer.manifest
        return {
            "status": "ok",
            "model": manifest.model,
            "documents": manifest.documents,
            "passages": manifest.passages,
            "faq_entries": manifest.faq_entries,
            "built_at": manifest.built_at,
        }

    @app.get("/widget.js", include_in_schema=False)
    def widget() -> FileResponse:
        return FileResponse(
            static_dir() / "widget.js",
            media_type="text/javascript; charset=utf-8",
            headers={"Cache-Control": "public, max-age=300"},
        )

    app.mount("/static", StaticFiles(directory=static_dir()), name="static")


def _add_api_routes(app: FastAPI, answerer: Answerer, feedback: FeedbackStore | None) -> None:
    """``POST /api/ask``, answered through one `AnswerBatcher`."""
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
            feedback.record_answer(answer, channel="api")
        return answer.to_dict()


def _mount_chat(
    app: FastAPI,
    answerer: Answerer,
    feedback: FeedbackStore | None,
    title: str,
    description: str | None,
) -> FastAPI:
    """Mount the Gradio chat at ``/chat/``, with nothing fetched from elsewhere."""
    import gradio as gr  # the web extra's heaviest import, paid only when an app is built

    from qabot.web.ui import CHAT_CSS, build_chat, chat_theme

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


async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    """A 400 for a body that is not JSON, else a 422 naming each bad field."""
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
