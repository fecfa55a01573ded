"""`ServerMetrics`: what ``GET /metrics`` tells an operator, in Prometheus' text format.

Metrics (all prefixed ``qabot_``)::

    http_requests_total{route,method,status}     requests answered, by route
    http_request_duration_seconds{route}         their latency (histogram)
    answers_total{channel,outcome}               questions answered or declined, API and chat
    index_build_info{build,built_at,model}       1 for the build in service (0 once replaced)
    worker_answers{pid}                          answers given by each live worker process

``route`` is one of a fixed set of names (`route_name`), never the raw path, and ``method``
one of the standard methods or ``other`` (`method_label`), so a scanner probing random URLs or
inventing methods cannot grow the metrics: their size does not depend on what clients send.

``/metrics`` itself is for the operator: `metrics_allowed` serves it to loopback clients only,
or, given a token, to any client that presents it as ``Authorization: Bearer TOKEN``.

One process keeps its metrics in memory, in its own registry (two apps in one process do not
collide). Worker processes of ``qabot serve --workers N`` share them through prometheus_client's
multiprocess mode: ``PROMETHEUS_MULTIPROC_DIR`` must name an empty folder before the workers
import prometheus_client (the CLI sets it), and ``multiprocess_dir`` (the same folder) makes
``/metrics`` sum the counters and histograms of all workers. The build gauge and ``worker_answers`` then carry a
``pid`` label: one line per live worker, so the build each worker serves can be read.
"""

from __future__ import annotations

import hmac
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from qabot.answering.answer import Answer
    from qabot.index.manifest import IndexManifest

METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST
# Exact paths that are their own route, then path prefixes that name one route each.
_ROUTES = ("/api/ask", "/healthz", "/metrics", "/widget.js", "/openapi.json", "/")
_PREFIXES = (
    ("/chat/gradio_api/", "/chat/gradio_api"),
    ("/chat", "/chat"),
    ("/static/", "/static"),
    ("/docs", "/docs"),
    ("/redoc", "/docs"),
)
_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))
_LOOPBACK_CLIENTS = ("127.", "::1", "::ffff:127.")
# Answers take tens of milliseconds; the chat's event streams can last minutes.
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0)


def route_name(path: str) -> str:
    """The ``route`` label of a request path: one of a fixed set, "other" for anything else."""
    if path in _ROUTES:
        return path
    for prefix, name in _PREFIXES:
        if path.startswith(prefix):
            return name
    return "other"


def method_label(method: str) -> str:
    """The ``method`` label: a standard HTTP method, or "other" for anything a client invents."""
    return method if method in _METHODS else "other"


def metrics_allowed(scope: Scope, token: str | None) -> bool:
    """Whether a request may read ``/metrics``.

    Without ``token``, loopback clients only; with one, any client whose ``Authorization``
    header is ``Bearer TOKEN`` (loopback clients too: a proxy on this host is loopback).
    """
    if token is None:
        host = (scope.get("client") or ("",))[0] or ""
        return host == "localhost" or host.startswith(_LOOPBACK_CLIENTS)
    sent = dict(scope.get("headers") or ()).get(b"authorization", b"")
    return hmac.compare_digest(sent, b"Bearer " + token.encode())


class ServerMetrics:
    """The server's Prometheus metrics, and their exposition.

    Args:
        multiprocess_dir: the worker processes' shared metrics folder (``PROMETHEUS_MULTIPROC_DIR``,
            set before prometheus_client was imported): ``/metrics`` then shows every worker's
            figures, not only this process's. None: one process.
    """

    def __init__(self, *, multiprocess_dir: Path | str | None = None) -> None:
        self.multiprocess_dir = multiprocess_dir
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "qabot_http_requests",
            "HTTP requests answered, by route, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "qabot_http_request_duration_seconds",
            "Seconds from a request's start to its response's end, by route.",
            ["route"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.answers = Counter(
            "qabot_answers",
            "Questions answered (found) or declined (no good answer), by channel.",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.build = Gauge(
            "qabot_index_build_info",
            "1 for the index build in service, 0 for one it served before.",
            ["build", "built_at", "model"],
            multiprocess_mode="liveall",
            registry=self.registry,
        )
        self.worker_answers = Gauge(
            "qabot_worker_answers",
            "Answers given by this worker process since it started.",
            multiprocess_mode="liveall",
            registry=self.registry,
        )
        self._serving: tuple[str, str, str] | None = None

    def answered(self, answer: Answer, channel: str) -> None:
        """Count one answer given on ``channel`` ("api" or "chat")."""
        self.answers.labels(channel, "answered" if answer.found else "declined").inc()
        self.worker_answers.inc()

    def serving(self, manifest: IndexManifest) -> None:
        """Record the build in service (cheap when it has not changed)."""
        labels = (str(manifest.data_dir), str(manifest.built_at), str(manifest.model))
        if labels == self._serving:
            return
        if self._serving is not None:
            self.build.labels(*self._serving).set(0)
        self.build.labels(*labels).set(1)
        self._serving = labels

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format (of every worker in multiprocess mode)."""
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(self.multiprocess_dir))
        return generate_latest(registry)

    def close(self) -> None:
        """Drop this worker's per-process lines (its build, its answers) as it exits."""
        if self.multiprocess_dir is not None:
            mark_process_dead(os.getpid(), str(self.multiprocess_dir))


class MetricsMiddleware:
    """Counts and times every HTTP request by route; refreshes the build in service first.

    Args:
        app: the application.
        metrics: where the figures go.
        manifest: returns the manifest of the build in service (read once per request).
    """

    def __init__(self, app: ASGIApp, *, metrics: ServerMetrics, manifest) -> None:
        self.app = app
        self.metrics = metrics
        self.manifest = manifest

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Each worker notices a swap at its next request, so /metrics shows the new build.
        self.metrics.serving(self.manifest())
        start = time.perf_counter()
        status = 500  # what the client sees when the app raises before responding

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = route_name(scope.get("path", ""))
            method = method_label(scope.get("method", ""))
            self.metrics.requests.labels(route, method, str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - start)
