"""``qabot serve``: the chat server (``qabot feedback``, what its users said, is in ``feedback``)."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import threading
from collections.abc import Callable, Sequence

from qabot.cli.wiring import (
    add_answering_options,
    add_index_options,
    alternatives_count,
    command,
    env,
    log,
    port_number,
    positive_float,
    positive_int,
)
from qabot.errors import QabotError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
DEFAULT_LOG_LEVEL = "warning"
# What `qabot serve` imports from the `web` extra.
WEB_EXTRA_MODULES = ("gradio", "fastapi", "uvicorn")


def require_extra(
    extra: str,
    modules: Sequence[str],
    *,
    command: str,
    importer: Callable[[str], object] = importlib.import_module,
) -> None:
    """Import ``modules``, or say in one line which extra of qabot to install.

    Raises:
        QabotError: one of the modules cannot be imported.
    """
    for name in modules:
        try:
            importer(name)
        except ImportError as exc:
            raise QabotError(
                f"qabot {command} needs the {extra} extra ({name} is missing): "
                f"pip install 'qabot[{extra}]'"
            ) from exc


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the chat page, the JSON API and the embeddable widget.

    Builds the index first when it is missing, stale or made with another model; loads the
    model and the index once. With --no-build (a replica sharing the index folder), never
    builds: waits for an index to appear (at most --wait seconds). Either way, the server then
    follows the index: a new build committed by `qabot index` (or another server) is served
    from the next request on, without a restart. Binds the loopback address unless --host says otherwise; on
    it, only loopback Host names are accepted (--trusted-host adds more). Questions and
    votes are stored in --feedback (SQLite).

    Two permissions are separate. Any site may show the chat in a frame (the widget does);
    --frame-ancestor (repeatable) limits that to the sites named. No other site's scripts
    may call the API; --allowed-origin (repeatable, or '*') allows the origins named.
    A request's headers and its body must each arrive within --header-timeout and
    --body-timeout seconds (else 408, and the connection is closed).

    --workers N runs N worker processes on one port (each loads the index itself and follows
    the manifest); they serve the API, /healthz and /metrics, not the chat, whose sessions
    live in one process. GET /metrics is in Prometheus' format, for loopback clients only,
    or for any client sending --metrics-token as a bearer token.

    The chat answers 503 "busy, try again" when --chat-queue-size questions are in hand, or
    --chat-client-limit from one client address. Each error is one log line; --log-level
    debug adds its traceback.

    Pages:
      http://HOST:PORT/chat/      the chat          http://HOST:PORT/docs        the API
      http://HOST:PORT/widget.js  the launcher      http://HOST:PORT/healthz     health

    Examples:
      qabot serve
      qabot serve --port 8000 --frame-ancestor https://www.example.org
      qabot serve --no-build --wait 600 --index-dir /shared/index
      qabot serve --workers 2 --host 0.0.0.0 --trusted-host qa.example.org
      qabot serve --host 0.0.0.0 --trusted-host qa.example.org --allowed-origin https://app.example.org
      qabot serve --mcp          # assistants connect to http://127.0.0.1:7860/mcp
      curl -s localhost:8000/api/ask -H 'content-type: application/json' \\
           -d '{"question": "What is NATO?"}'
    """
    # Found, not imported: Gradio is imported in the background while the index loads.
    require_extra("web", WEB_EXTRA_MODULES, command="serve", importer=find_module)
    if args.mcp:
        require_extra("mcp", ("mcp",), command="serve --mcp", importer=find_module)
    from qabot.cli.serving import serve_app, serve_workers

    if args.workers > 1:
        return serve_workers(args)
    import uvicorn

    from qabot.web.timeouts import server_config

    threading.Thread(target=_import_quietly, args=("qabot.web.ui",), daemon=True).start()
    app = serve_app(args)
    log(f"Chat on http://{args.host}:{args.port}/chat/ (API docs at /docs)")
    config = server_config(
        app,
        host=args.host,
        port=args.port,
        header_timeout=args.header_timeout,
        keep_alive_timeout=args.keep_alive_timeout,
        log_level=args.log_level,
    )
    uvicorn.Server(config).run()
    return 0


def find_module(name: str) -> object:
    """An importer for `require_extra` that finds a module without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None:
        raise ModuleNotFoundError(f"No module named {name!r}")
    return spec


def _import_quietly(name: str) -> None:
    """Import a module ahead of its use; a failure is reported where it is used."""
    with contextlib.suppress(Exception):
        importlib.import_module(name)


def register(subparsers) -> None:
    serve = command(subparsers, "serve", cmd_serve, "serve the chat, the API and the widget")
    add_index_options(serve, corpus_positional=False)
    add_answering_options(serve)
    _add_serve_options(serve)
    _add_permission_options(serve)
    _add_timeout_options(serve)
    _add_limit_options(serve)


def _add_serve_options(serve: argparse.ArgumentParser) -> None:
    # Light imports only: the web extra may be missing, and cmd_serve says so in one line.
    from qabot.answering.answerer import DEFAULT_ALTERNATIVES
    from qabot.web.chat import DEFAULT_TITLE
    from qabot.web.feedback import DEFAULT_FEEDBACK_FILE

    serve.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST})"
    )
    serve.add_argument(
        "--port", type=port_number, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
    )
    serve.add_argument(
        "--feedback",
        default=None,
        help=f"SQLite file for questions and votes (default: INDEX_DIR/{DEFAULT_FEEDBACK_FILE})",
    )
    serve.add_argument(
        "--title", default=DEFAULT_TITLE, help=f"the chat page's title (default {DEFAULT_TITLE})"
    )
    serve.add_argument(
        "--alternatives",
        type=alternatives_count,
        default=None,
        help=f"next-best matches shown beside each answer (default {DEFAULT_ALTERNATIVES})",
    )
    serve.add_argument(
        "--no-build",
        action="store_true",
        help="replica mode: never build the index, wait for one (see --wait)",
    )
    serve.add_argument(
        "--wait",
        type=positive_float,
        default=None,
        metavar="SECONDS",
        help="with --no-build: give up when no index appears in this time (default: wait)",
    )
    serve.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        metavar="N",
        help="worker processes on the port; above 1 they serve the API only (default 1)",
    )
    serve.add_argument(
        "--log-level",
        default=DEFAULT_LOG_LEVEL,
        help=f"log level; 'debug' adds tracebacks to error lines (default {DEFAULT_LOG_LEVEL})",
    )
    serve.add_argument(
        "--mcp",
        action="store_true",
        help="also serve the MCP tools of `qabot mcp` at /mcp (streamable HTTP), under the "
        "API's Host and CORS rules (needs the mcp extra)",
    )


def _add_permission_options(serve: argparse.ArgumentParser) -> None:
    serve.add_argument(
        "--frame-ancestor",
        action="append",
        metavar="URL",
        help="a site allowed to show the chat in a frame, e.g. https://www.example.org "
        "(repeatable; default: any site)",
    )
    serve.add_argument(
        "--allowed-origin",
        action="append",
        metavar="URL",
        help="an origin whose scripts may call the API (CORS), or '*' for any "
        "(repeatable; default: none)",
    )
    serve.add_argument(
        "--trusted-host",
        action="append",
        metavar="NAME",
        help="a Host name to answer besides localhost, 127.0.0.1 and [::1] (repeatable; "
        "default: only those on a loopback bind, any name elsewhere)",
    )


def _add_limit_options(serve: argparse.ArgumentParser) -> None:
    from qabot.web.chatlimits import DEFAULT_MAX_PER_CLIENT, DEFAULT_MAX_QUEUE

    serve.add_argument(
        "--chat-queue-size",
        type=positive_int,
        default=DEFAULT_MAX_QUEUE,
        metavar="N",
        help="chat questions waiting or answered at once, in all; beyond, 503 'busy' "
        f"(default {DEFAULT_MAX_QUEUE})",
    )
    serve.add_argument(
        "--chat-client-limit",
        type=positive_int,
        default=DEFAULT_MAX_PER_CLIENT,
        metavar="N",
        help="chat questions waiting or answered at once for one client address "
        f"(default {DEFAULT_MAX_PER_CLIENT})",
    )
    serve.add_argument(
        "--metrics-token",
        default=env("QABOT_METRICS_TOKEN", "") or None,
        metavar="TOKEN",
        help="serve /metrics to any client sending 'Authorization: Bearer TOKEN' "
        "(default: $QABOT_METRICS_TOKEN; without one, to loopback clients only)",
    )


def _add_timeout_options(serve: argparse.ArgumentParser) -> None:
    from qabot.web.limits import (
        DEFAULT_BODY_TIMEOUT,
        DEFAULT_HEADER_TIMEOUT,
        DEFAULT_KEEP_ALIVE_TIMEOUT,
    )

    serve.add_argument(
        "--body-timeout",
        type=positive_float,
        default=DEFAULT_BODY_TIMEOUT,
        metavar="SECONDS",
        help=f"time to send a request body (default {DEFAULT_BODY_TIMEOUT:g})",
    )
    serve.add_argument(
        "--header-timeout",
        type=positive_float,
        default=DEFAULT_HEADER_TIMEOUT,
        metavar="SECONDS",
        help=f"time to send a request's headers (default {DEFAULT_HEADER_TIMEOUT:g})",
    )
    serve.add_argument(
        "--keep-alive-timeout",
        type=positive_float,
        default=DEFAULT_KEEP_ALIVE_TIMEOUT,
        metavar="SECONDS",
        help=f"how long an idle connection stays open (default {DEFAULT_KEEP_ALIVE_TIMEOUT:g})",
    )
