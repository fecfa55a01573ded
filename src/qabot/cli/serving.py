"""The app ``qabot serve`` runs, in one process or in N worker processes on one port.

`serve_app` loads the answerer (building the index when allowed), opens the feedback store,
builds the app and ties the manifest follower to the app's lifespan. ``--workers N`` runs it
in each of N uvicorn worker processes (`serve_workers`). uvicorn starts its workers afresh and
builds each one's app from an import string (`worker_app`), so nothing is shared in memory:
the parent passes the command's options in an environment variable, and each worker loads the
model and the index itself (the index folder is shared read-only), follows the manifest
itself, and writes its metrics to a folder all workers share (prometheus_client's multiprocess
mode, ``PROMETHEUS_MULTIPROC_DIR``). When several workers find the index missing, one builds
it under the commit lock and the others load its commit (`qabot.index.startup.ensure_index`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import tempfile
from collections.abc import Callable

from qabot.cli.feedback import feedback_path
from qabot.cli.wiring import answerer_for, answerer_from_options, log

# How the parent hands the command's options to its worker processes.
WORKER_ARGS_ENV = "QABOT_SERVE_WORKER_ARGS"
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Seconds a worker may take to answer uvicorn's health check: loading a model is slow.
WORKER_HEALTHCHECK_TIMEOUT = 120


def serve_workers(args: argparse.Namespace) -> int:
    """Serve with ``args.workers`` worker processes on one port until stopped; the exit code."""
    from uvicorn.supervisors import Multiprocess

    from qabot.web.timeouts import HeaderTimeoutProtocol, server_config

    options = {k: v for k, v in vars(args).items() if not callable(v)}
    with tempfile.TemporaryDirectory(prefix="qabot-metrics-") as metrics_dir:
        # Set before any worker imports prometheus_client: it reads the folder at import.
        os.environ[METRICS_DIR_ENV] = metrics_dir
        os.environ[WORKER_ARGS_ENV] = json.dumps(options)
        config = server_config(
            f"{__name__}:worker_app",
            host=args.host,
            port=args.port,
            header_timeout=args.header_timeout,
            keep_alive_timeout=args.keep_alive_timeout,
            log_level=args.log_level,
            protocol=HeaderTimeoutProtocol,
            factory=True,
            workers=args.workers,
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_TIMEOUT,
        )
        log(
            f"{args.workers} worker processes on http://{args.host}:{args.port}/ serve the API "
            "(/api/ask, /healthz, /metrics); the chat needs --workers 1."
        )
        Multiprocess(config, sockets=[config.bind_socket()]).run()
    return 0


def worker_app():
    """The app of one worker process: uvicorn's factory, reading what `serve_workers` passed."""
    from qabot.web.timeouts import HeaderTimeoutProtocol

    args = argparse.Namespace(**json.loads(os.environ[WORKER_ARGS_ENV]))
    # uvicorn pickles the protocol class by name into each worker, so its deadline is set here.
    HeaderTimeoutProtocol.header_timeout = args.header_timeout
    return serve_app(args, chat=False, metrics_dir=os.environ[METRICS_DIR_ENV])


def serve_app(
    args: argparse.Namespace,
    *,
    chat: bool = True,
    metrics_dir: str | None = None,
    make_embedder: Callable | None = None,
):
    """The app `qabot serve` runs (once per worker process): loaded, following the manifest.

    The chat is mounted once the server runs (``/chat/`` answers 503 until then); with
    ``chat=False`` it is not served. ``metrics_dir``: the worker processes' shared metrics
    folder, so that ``/metrics`` sums every worker's.
    """
    from qabot.web.chatlimits import ChatLimits
    from qabot.web.feedback import FeedbackStore
    from qabot.web.metrics import ServerMetrics
    from qabot.web.server import build_app, trusted_hosts_for

    configure_logging(args.log_level)
    holder, follower = open_holder(args, make_embedder)
    metrics = ServerMetrics(multiprocess_dir=metrics_dir)
    feedback = FeedbackStore(feedback_path(args))
    frame = args.frame_ancestor or ["*"]
    hosts = trusted_hosts_for(args.host, args.trusted_host or ())
    app = build_app(
        holder,
        feedback=feedback,
        frame_ancestors=frame,
        allowed_origins=args.allowed_origin or (),
        trusted_hosts=hosts,
        title=args.title,
        body_timeout=args.body_timeout,
        defer_chat=True,
        chat=chat,
        metrics=metrics,
        metrics_token=args.metrics_token,
        chat_limits=ChatLimits(
            max_queue=args.chat_queue_size, max_per_client=args.chat_client_limit
        ),
    )
    if getattr(args, "mcp", False):
        from qabot.web.mcp_server import MCP_PATH, build_mcp, mount_mcp

        mount_mcp(app, build_mcp(holder))
        log(f"MCP tools for assistants at {MCP_PATH} (streamable HTTP)")
    _log_permissions(frame, args.allowed_origin or [], hosts)
    log(f"Feedback is stored in {feedback.path}")
    _follow_while_serving(app, follower, metrics)
    return app


def configure_logging(level: str) -> None:
    """qabot's loggers at the server's level, one line per record on stderr.

    An error is one line (`qabot.web.errorlog`); at ``debug`` its traceback follows it.
    """
    logger = logging.getLogger("qabot")
    number = logging.getLevelName(level.upper())
    logger.setLevel(number if isinstance(number, int) else logging.WARNING)
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s: %(name)s: %(message)s"))
        logger.addHandler(handler)


def _follow_while_serving(app, follower, metrics) -> None:
    """Run the manifest follower for as long as the app's lifespan; then retire the metrics."""
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app):
        follower.start()
        try:
            async with inner(app) as state:
                yield state
        finally:
            follower.stop()
            metrics.close()

    app.router.lifespan_context = lifespan


def open_holder(args: argparse.Namespace, make_embedder: Callable | None = None):
    """The served answerer in a holder, and the follower that swaps in new builds."""
    from qabot.index.embedder import check_backend
    from qabot.index.startup import wait_for_index
    from qabot.web.follow import ManifestFollower
    from qabot.web.holder import AnswererHolder

    if args.no_build:
        log(f"Replica: waiting for an index in {args.index_dir} (never building one) ...")
        wait_for_index(args.index_dir, wait=args.wait)
    answerer = answerer_from_options(
        args, alternatives=args.alternatives, build=not args.no_build, make_embedder=make_embedder
    )
    answerer.answer("warm up")  # the first real question should not pay for lazy set-up
    embedder = answerer.retriever.embedder

    def make_answerer(index):
        # A build of another backend would mix vectors: the follower keeps the current one.
        check_backend(index.manifest, embedder, index.index_dir)
        # The same reranker and verifier serve every build; the confidence is the new index's own.
        new = answerer_for(
            index,
            embedder,
            alternatives=args.alternatives,
            reranker=answerer.reranker,
            verifier=answerer.verifier,
        )
        new.answer("warm up")
        return new

    holder = AnswererHolder(answerer)
    follower = ManifestFollower(args.index_dir, holder, make_answerer, model=embedder.name, log=log)
    return holder, follower


def _log_permissions(frame: list[str], origins: list[str], hosts: list[str] | None) -> None:
    """Say who may frame the chat, call the API, and which Host names are answered."""
    if frame == ["*"]:
        log("Any site may embed the chat (restrict with --frame-ancestor).")
    else:
        log(f"Only these sites may embed the chat: {', '.join(frame)}")
    if not origins:
        log("No other site's scripts may call the API (open with --allowed-origin).")
    else:
        log(f"These origins' scripts may call the API: {', '.join(origins)}")
    if hosts is not None:
        log(f"Host names accepted: {', '.join(hosts)} (add with --trusted-host)")
