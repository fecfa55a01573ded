"""The web application: the JSON API, the Gradio chat mounted at ``/chat/``, and the embed assets.

Routes::

    GET  /            redirects to /chat/
    GET  /chat/       the chat page (Gradio); its event ``/chat`` is callable with gradio_client
    POST /api/ask     {"question": "...", "alternatives": 2} → the answer record (as ``qabot ask --json``)
    GET  /healthz     200 with the index's figures (and its build) once the index is loaded
    GET  /metrics     Prometheus metrics (loopback clients, or a bearer token): requests,
                      latency, answers, the build in service
    GET  /widget.js   one <script> that adds a chat launcher to any page
    GET  /static/...  the widget's other assets
    GET  /docs        OpenAPI documentation of the API (Swagger UI); /redoc the same in ReDoc

Everything is served from here; nothing is loaded from a CDN (the documentation's scripts come
with the ``fastapi-offline`` package). `build_app` is given a loaded `Answerer`: the model and
the index are loaded once, before the app exists. The app reads it through one
`AnswererHolder` (``app.state.answerer``), whose ``swap`` changes it between requests. The
API and the chat answer through one `AnswerBatcher` (``app.state.batcher``): one forward pass
at a time. With ``defer_chat=True`` the chat is built and mounted once the server runs, and
``/chat/`` answers 503 until then (see `qabot.web.chatgate`).

Two permissions are separate: which sites may frame the chat (CSP ``frame-ancestors``, any by
default, as the widget frames it) and which origins' scripts may call the API (CORS, none by
default). ``trusted_hosts`` limits the ``Host`` names accepted (DNS rebinding).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.middleware.trustedhost import TrustedHostMiddleware

from qabot.answering.answerer import Answerer
from qabot.version import __version__
from qabot.web.api import add_api_routes, invalid_request
from qabot.web.batching import AnswerBatcher
from qabot.web.chat import DEFAULT_TITLE
from qabot.web.chatgate import ChatGate, LateChat, add_no_chat_route, chat_lifespan
from qabot.web.chatlimits import ChatLimits, ChatQueue
from qabot.web.errorlog import ErrorLog, quiet_gradio_tracebacks
from qabot.web.feedback import FeedbackStore
from qabot.web.holder import AnswererHolder, hold
from qabot.web.limits import DEFAULT_BODY_TIMEOUT
from qabot.web.metrics import (
    METRICS_CONTENT_TYPE,
    MetricsMiddleware,
    ServerMetrics,
    metrics_allowed,
)
from qabot.web.middleware import BodyLimit, GradioGuard, SecurityHeaders

if TYPE_CHECKING:
    import gradio as gr

logger = logging.getLogger(__name__)

MAX_API_BODY_BYTES = 64 * 1024
# The chat's own requests carry the whole conversation, so they get a looser (but real) limit:
# 100 exchanges (`ChatLimits.max_history`) of long answers fit.
MAX_CHAT_BODY_BYTES = 1024 * 1024
CHAT_PATH = "/chat"
# As a Host header names them: an IPv6 address in brackets.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")


def static_dir() -> Path:
    """The folder of the widget's assets, inside the installed package."""
    return Path(str(files("qabot.web") / "static"))


def csp_frame_ancestors(origins: Sequence[str]) -> str:
    """The CSP ``frame-ancestors`` value for the sites that may frame the chat ("*": any)."""
    if not origins or "*" in origins:
        return "frame-ancestors *"
    return "frame-ancestors 'self' " + " ".join(o.rstrip("/") for o in origins)


def is_loopback(host: str) -> bool:
    """Whether a bind address is the loopback interface only."""
    return host in ("localhost", "::1", "[::1]") or host.startswith("127.")


def trusted_hosts_for(bind_host: str, extra: Sequence[str] = ()) -> list[str] | None:
    """The ``Host`` names to accept for a server bound to ``bind_host``; None accepts any.

    A loopback server accepts only loopback names (plus ``extra``), so a page whose DNS name
    is rebound to 127.0.0.1 cannot reach it. Elsewhere any name is accepted unless ``extra``
    names some.
    """
    if is_loopback(bind_host) or extra:
        return [*LOOPBACK_HOSTS, *extra]
    return None


def build_app(
    answerer: Answerer | AnswererHolder,
    *,
    feedback: FeedbackStore | None = None,
    frame_ancestors: Sequence[str] = ("*",),
    allowed_origins: Sequence[str] = (),
    trusted_hosts: Sequence[str] | None = None,
    title: str = DEFAULT_TITLE,
    description: str | None = None,
    max_body_bytes: int = MAX_API_BODY_BYTES,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
    defer_chat: bool = False,
    chat: bool = True,
    metrics: ServerMetrics | None = None,
    metrics_token: str | None = None,
    chat_limits: ChatLimits | None = None,
) -> FastAPI:
    """Build the FastAPI application around a loaded answerer.

    Args:
        answerer: answers every request (shared; loaded once before this call), or a holder
            whose answerer can be swapped while the app runs.
        feedback: stores the chat's and the API's questions and the votes; None stores nothing.
        frame_ancestors: sites that may show the chat in a frame (CSP ``frame-ancestors``);
            ``("*",)``, the default, allows any site (the widget frames the chat).
        allowed_origins: origins whose scripts may call the API (CORS); none by default,
            ``("*",)`` allows any.
        trusted_hosts: the ``Host`` names accepted (see `trusted_hosts_for`); None: any.
        title: the chat page's title.
        description: one line under the title (default: names the corpus).
        max_body_bytes: the largest ``/api/`` request body accepted.
        body_timeout: seconds a client has to send a request body before it gets 408.
        defer_chat: import Gradio and mount the chat once the server runs (in a thread), so
            that the API answers first; ``/chat/`` answers 503 with ``Retry-After`` until then.
        chat: serve the chat at all; without it ``/chat/`` answers 404 saying why (Gradio's
            queue keeps each session in one process, so several worker processes behind one
            port cannot serve it).
        metrics: the figures ``/metrics`` shows (default: this app's own, in memory).
        metrics_token: the bearer token ``/metrics`` asks of every client; None serves it
            to loopback clients only (see `qabot.web.metrics.metrics_allowed`).
        chat_limits: the chat's queue and conversation bounds (default `ChatLimits()`).
    """
    holder = hold(answerer)
    metrics = metrics or ServerMetrics()
    metrics.serving(holder.manifest)  # a worker shows its build before its first request
    batcher = AnswerBatcher(holder)

    chat_limits = chat_limits or ChatLimits()

    def mount() -> gr.Blocks:
        return _mount_chat(app, batcher, feedback, title, description, metrics, chat_limits)

    chat_queue = ChatQueue()
    late = LateChat(mount, chat_queue) if defer_chat and chat else None
    app = FastAPIOffline(
        title="qabot",
        summary="Exact, sourced answers from your own documents.",
        version=__version__,
        lifespan=chat_lifespan(late, batcher),
    )
    app.state.answerer = holder
    app.state.batcher = batcher
    app.state.metrics = metrics
    app.add_exception_handler(RequestValidationError, invalid_request)
    _add_site_routes(app, holder, title, metrics, metrics_token)
    add_api_routes(app, batcher, feedback, metrics)
    # The guard reads the chat's events when a request comes: a late chat tells it later.
    if late is None and chat:
        chat_queue.attach(mount())
    elif not chat:
        add_no_chat_route(app, CHAT_PATH)
    _add_middleware(
        app,
        holder,
        metrics,
        chat=chat_queue,
        chat_limits=chat_limits,
        late=late,
        allowed_origins=allowed_origins,
        trusted_hosts=trusted_hosts,
        frame_ancestors=frame_ancestors,
        max_body_bytes=max_body_bytes,
        body_timeout=body_timeout,
    )
    return app


def _add_middleware(
    app: FastAPI,
    holder: AnswererHolder,
    metrics: ServerMetrics,
    *,
    chat: ChatQueue,
    chat_limits: ChatLimits,
    late: LateChat | None,
    allowed_origins: Sequence[str],
    trusted_hosts: Sequence[str] | None,
    frame_ancestors: Sequence[str],
    max_body_bytes: int,
    body_timeout: float,
) -> None:
    """The middleware stack, innermost first (see `build_app` for the settings)."""
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(allowed_origins),
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Content-Type"],
    )
    app.add_middleware(GradioGuard, prefix=CHAT_PATH, chat=chat, limits=chat_limits)
    if late is not None:
        app.add_middleware(ChatGate, prefix=CHAT_PATH, is_open=late.is_open)
    app.add_middleware(
        BodyLimit,
        api_limit=max_body_bytes,
        other_limit=MAX_CHAT_BODY_BYTES,
        timeout=body_timeout,
    )
    if trusted_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(trusted_hosts))
    # Added late, so outer: every response gets the headers, refusals included, and is counted.
    app.add_middleware(SecurityHeaders, frame_ancestors=csp_frame_ancestors(frame_ancestors))
    app.add_middleware(MetricsMiddleware, metrics=metrics, manifest=lambda: holder.manifest)
    app.add_middleware(ErrorLog)  # outermost: whatever escapes is one line, not a traceback


def _add_site_routes(
    app: FastAPI,
    answerer: AnswererHolder,
    title: str,
    metrics: ServerMetrics,
    metrics_token: str | None,
) -> None:
    """The root redirect, the web manifest, the health check, the metrics, the widget's assets."""

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(f"{CHAT_PATH}/")

    @app.get("/manifest.json", include_in_schema=False)
    def web_manifest() -> dict:
        # The Gradio page asks for one at the site root; answering avoids a 404 in every console.
        return {"name": title, "start_url": f"{CHAT_PATH}/", "display": "standalone"}

    @app.get("/healthz", tags=["service"])
    def healthz() -> dict:
        """200 once the index is loaded (it is loaded before the server starts).

        ``build`` names the index build in service (its data folder): it changes when the
        server swaps in a new build.
        """
        manifest = answerer.manifest
        return {
            "status": "ok",
            "build": manifest.data_dir,
            "model": manifest.model,
            "documents": manifest.documents,
            "passages": manifest.passages,
            "faq_entries": manifest.faq_entries,
            "built_at": manifest.built_at,
        }

    @app.get("/metrics", include_in_schema=False)
    def metrics_text(request: Request) -> Response:
        if metrics_allowed(request.scope, metrics_token):
            return Response(metrics.exposition(), media_type=METRICS_CONTENT_TYPE)
        if metrics_token is None:  # as if it were not there: nothing to try
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        return JSONResponse(
            {"detail": "The metrics need a bearer token."},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    @app.get("/widget.js", include_in_schema=False)
    def widget() -> FileResponse:
        return FileResponse(
            static_dir() / "widget.js",
            media_type="text/javascript; charset=utf-8",
            headers={"Cache-Control": "public, max-age=300"},
        )

    app.mount("/static", StaticFiles(directory=static_dir()), name="static")


def _mount_chat(
    app: FastAPI,
    answerer: AnswerBatcher,
    feedback: FeedbackStore | None,
    title: str,
    description: str | None,
    metrics: ServerMetrics,
    limits: ChatLimits,
) -> gr.Blocks:
    """Mount the Gradio chat at ``/chat/``, with nothing fetched from elsewhere; its Blocks.

    ``show_error=False``: an unexpected error shows Gradio's generic message, never its text;
    the chat's own errors (`gr.Error`) are fixed sentences and still shown.
    """
    import gradio as gr  # the web extra's heaviest import, paid only when an app is built

    from qabot.web.ui import CHAT_CSS, build_chat, chat_theme

    quiet_gradio_tracebacks()
    blocks = build_chat(
        answerer,
        feedback=feedback,
        title=title,
        description=description,
        on_answer=lambda answer: metrics.answered(answer, "chat"),
        queue_size=limits.max_queue,
    )
    gr.mount_gradio_app(
        app,
        blocks,
        path=CHAT_PATH,
        footer_links=[],
        ssr_mode=False,
        show_error=False,
        mcp_server=False,
        pwa=False,
        theme=chat_theme(),
        css=CHAT_CSS,
    )
    return blocks
