"""``qabot serve``: the chat server (``qabot feedback``, what its users said, is in ``feedback``)."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Sequence

from qabot.cli.feedback import feedback_path
from qabot.cli.wiring import (
    add_index_options,
    add_reranker_option,
    command,
    log,
    non_negative_int,
    open_answerer,
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
    model and the index once. Binds the loopback address unless --host says otherwise. By default any
    site may embed the chat; --allowed-origin (repeatable) limits embedding and browser API
    calls to the sites named. Questions and votes are stored in --feedback (SQLite).

    Pages:
      http://HOST:PORT/chat/      the chat          http://HOST:PORT/docs        the API
      http://HOST:PORT/widget.js  the launcher      http://HOST:PORT/healthz     health

    Examples:
      qabot serve
      qabot serve --port 8000 --allowed-origin https://www.example.org
      curl -s localhost:8000/api/ask -H 'content-type: application/json' \\
           -d '{"question": "What is NATO?"}'
    """
    # Checked before the model loads, so that a missing extra costs no wait.
    require_extra("web", WEB_EXTRA_MODULES, command="serve")
    import uvicorn

    from qabot.web.feedback import FeedbackStore
    from qabot.web.server import build_app

    answerer = open_answerer(
        args.corpus,
        args.index_dir,
        model=args.model,
        alternatives=args.alternatives,
        reranker=args.reranker,
    )
    answerer.answer("warm up")  # the first real question should not pay for lazy set-up
    feedback = FeedbackStore(feedback_path(args))
    origins = args.allowed_origin or ["*"]
    app = build_app(answerer, feedback=feedback, allowed_origins=origins, title=args.title)
    if origins == ["*"]:
        log("Any site may embed the chat and call the API (restrict with --allowed-origin).")
    else:
        log(f"Only these sites may embed the chat: {', '.join(origins)}")
    log(f"Feedback is stored in {feedback.path}")
    log(f"Chat on http://{args.host}:{args.port}/chat/ (API docs at /docs)")
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


def register(subparsers) -> None:
    serve = command(subparsers, "serve", cmd_serve, "serve the chat, the API and the widget")
    add_index_options(serve, corpus_positional=False)
    add_reranker_option(serve)
    _add_serve_options(serve)


def _add_serve_options(serve: argparse.ArgumentParser) -> None:
    # Light imports only: the web extra may be missing, and cmd_serve says so in one line.
    from qabot.answering import DEFAULT_ALTERNATIVES
    from qabot.web.chat import DEFAULT_TITLE
    from qabot.web.feedback import DEFAULT_FEEDBACK_FILE

    serve.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST})"
    )
    serve.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
    )
    serve.add_argument(
        "--allowed-origin",
        action="append",
        metavar="URL",
        help="a site allowed to embed the chat and call the API, e.g. https://www.example.org "
        "(repeatable; default: any site)",
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
        type=non_negative_int,
        default=None,
        help=f"next-best matches shown beside each answer (default {DEFAULT_ALTERNATIVES})",
    )
    serve.add_argument(
        "--log-level",
        default=DEFAULT_LOG_LEVEL,
        help=f"uvicorn log level (default {DEFAULT_LOG_LEVEL})",
    )
